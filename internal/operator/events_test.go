package operator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	eventv1 "github.com/fluxcd/pkg/apis/event/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/operator"
)

// receiver is notification-controller's events endpoint, as far as the
// operator can tell: it takes POSTed events.
type receiver struct {
	mu     sync.Mutex
	events []eventv1.Event
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var e eventv1.Event
	if err := json.Unmarshal(b, &e); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *receiver) find(kind, name string) *eventv1.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.events {
		if o := r.events[i].InvolvedObject; o.Kind == kind && o.Name == name {
			return &r.events[i]
		}
	}
	return nil
}

// A Rig is cluster-scoped; Flux's recorder drops events of objects without
// a namespace. Its events reach --events-addr as the Rig's in its workers
// namespace, and stay Kubernetes events on the Rig.
func TestRigEventsReachTheEventsAddress(t *testing.T) {
	ctx := context.Background()
	recv := &receiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()

	const workers = "rig-events-workers"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: workers}}); err != nil {
		t.Fatal(err)
	}
	opts := operator.DefaultOptions()
	opts.MetricsAddr, opts.HealthAddr = freeAddr(t), freeAddr(t)
	opts.LeaderElection.Enable = false
	opts.EventsAddr = srv.URL
	opts.SkipNameValidation = true
	mgr, err := operator.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(mctx) }()
	defer func() { cancel(); <-stopped }()

	// A new rig creates its Witness and Refinery, with an event each.
	rig := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: "evented"},
		Spec:       gastownv1.RigSpec{GitURL: "https://example.com/org/repo.git", WorkersNamespace: workers},
	}
	if err := env.Client.Create(ctx, rig); err != nil {
		t.Fatal(err)
	}
	var got *eventv1.Event
	waitFor(t, func() error {
		if got = recv.find(gastownv1.RigKind, rig.Name); got == nil {
			return errNoEvent
		}
		return nil
	})
	if got.InvolvedObject.Namespace != workers || got.InvolvedObject.APIVersion != gastownv1.GroupVersion.String() {
		t.Errorf("involved object %+v, want the Rig in %s", got.InvolvedObject, workers)
	}
	if got.ReportingController != operator.ControllerName || got.Message == "" {
		t.Errorf("event %+v", got)
	}
	// The Kubernetes event is on the Rig itself, and not doubled in the
	// workers namespace.
	waitFor(t, func() error {
		var list corev1.EventList
		if err := env.Client.List(ctx, &list, client.MatchingFields{"involvedObject.name": rig.Name}); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Kind != gastownv1.RigKind {
				continue
			}
			if e.InvolvedObject.Namespace != "" || e.Namespace == workers {
				t.Fatalf("Kubernetes event %s/%s about %+v", e.Namespace, e.Name, e.InvolvedObject)
			}
			return nil
		}
		return errNoEvent
	})
}

var errNoEvent = errors.New("no event yet")
