package operator

import (
	"context"

	"github.com/fluxcd/cli-utils/pkg/flowcontrol"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

// ClientOptions are Flux's --kube-api-qps and --kube-api-burst, with
// Flux's defaults and meaning (fluxcd/pkg/runtime/client). That package
// also holds Flux's impersonation, which links kubectl, cli-runtime and
// kustomize into the manager, code it never runs: without them the binary
// (and the image) is 85 MB instead of 115.
type ClientOptions struct {
	QPS   float32
	Burst int
}

// BindFlags binds the options to Flux's flags.
func (o *ClientOptions) BindFlags(fs *pflag.FlagSet) {
	fs.Float32Var(&o.QPS, "kube-api-qps", 50.0, "The maximum queries-per-second of requests sent to the Kubernetes API.")
	fs.IntVar(&o.Burst, "kube-api-burst", 300, "The maximum burst queries-per-second of requests sent to the Kubernetes API.")
}

// RESTConfig is the kubeconfig controller-runtime finds (--kubeconfig,
// $KUBECONFIG, in-cluster), or it exits. As in Flux, an apiserver with API
// Priority and Fairness does the rate limiting: the client has no limiter
// then, and the flags apply to one without it.
func RESTConfig(o ClientOptions) *rest.Config {
	config := ctrl.GetConfigOrDie()
	if enabled, err := flowcontrol.IsEnabled(context.Background(), config); err == nil && enabled {
		config.QPS, config.Burst = -1, -1
		return config
	}
	config.QPS, config.Burst = o.QPS, o.Burst
	return config
}
