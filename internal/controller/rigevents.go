package controller

import (
	"github.com/fluxcd/pkg/runtime/events"
	"k8s.io/apimachinery/pkg/runtime"
	kuberecorder "k8s.io/client-go/tools/record"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// RigEventRecorder sends a Rig's events where both of their readers look.
// The Kubernetes event stays on the Rig (kubectl describe rig; the API
// server keeps a cluster-scoped object's events in the default namespace).
// Flux's notification-controller takes only namespaced objects, and Flux's
// recorder drops the others: it gets the event as from the Rig in its
// workers namespace, where the rig's Alerts live. Other kinds' events pass
// through unchanged.
type RigEventRecorder struct {
	// Recorder is the operator's: a Kubernetes event and, with
	// --events-addr, notification-controller's.
	*events.Recorder
	// notify posts to notification-controller only; nil without
	// --events-addr.
	notify *events.Recorder
}

// NewRigEventRecorder wraps the operator's recorder.
func NewRigEventRecorder(r *events.Recorder) *RigEventRecorder {
	rr := &RigEventRecorder{Recorder: r}
	if r.Webhook != "" {
		notify := *r
		// A FakeRecorder without a channel records nothing: the
		// Kubernetes event is already on the Rig.
		notify.EventRecorder = &kuberecorder.FakeRecorder{}
		rr.notify = &notify
	}
	return rr
}

var _ kuberecorder.EventRecorder = &RigEventRecorder{}

// Event records an event.
func (r *RigEventRecorder) Event(object runtime.Object, eventtype, reason, message string) {
	r.AnnotatedEventf(object, nil, eventtype, reason, "%s", message)
}

// Eventf records an event.
func (r *RigEventRecorder) Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.AnnotatedEventf(object, nil, eventtype, reason, messageFmt, args...)
}

// AnnotatedEventf records an event with annotations.
func (r *RigEventRecorder) AnnotatedEventf(object runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	rig, ok := object.(*gastownv1.Rig)
	if !ok {
		r.Recorder.AnnotatedEventf(object, annotations, eventtype, reason, messageFmt, args...)
		return
	}
	r.Recorder.EventRecorder.AnnotatedEventf(rig, annotations, eventtype, reason, messageFmt, args...)
	if r.notify != nil {
		inWorkers := rig.DeepCopy()
		inWorkers.Namespace = rig.WorkersNamespace()
		r.notify.AnnotatedEventf(inWorkers, annotations, eventtype, reason, messageFmt, args...)
	}
}
