// Package scheme holds the runtime scheme with every kind the operator
// reads or writes: Kubernetes', gastown's and Flux's sources.
package scheme

import (
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Scheme holds the kinds of Kubernetes, gastown and Flux's source API.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(gastownv1.AddToScheme(Scheme))
	utilruntime.Must(sourcev1.AddToScheme(Scheme))
}
