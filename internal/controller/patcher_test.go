package controller_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/controller"
)

// writeCounter counts the requests a client sends: object patches and
// status patches.
type writeCounter struct {
	client.Client
	objects, statuses atomic.Int32
	// afterStatus is the API server's answer to the last status patch.
	afterStatus client.Object
}

func (c *writeCounter) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
	c.objects.Add(1)
	return c.Client.Patch(ctx, obj, p, opts...)
}

func (c *writeCounter) Status() client.SubResourceWriter { return statusCounter{c.Client.Status(), c} }

type statusCounter struct {
	client.SubResourceWriter
	c *writeCounter
}

func (s statusCounter) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	s.c.statuses.Add(1)
	err := s.SubResourceWriter.Patch(ctx, obj, p, opts...)
	s.c.afterStatus = obj.DeepCopyObject().(client.Object)
	return err
}

// A reconcile's changes are one status request (conditions with the rest
// of the status) and one for the metadata; nothing is sent when nothing
// changed; and a status field another writer set since the fetch is kept.
func TestObjectPatcherSendsOneStatusRequest(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	bead := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-patch", Namespace: ns}, Spec: gastownv1.BeadSpec{Title: "t"}}
	g.Expect(k8s.Create(ctx, bead)).To(Succeed())
	fetched := &gastownv1.Bead{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bead), fetched)).To(Succeed())

	// A write after the fetch (another replica's, a person's) is not undone.
	other := fetched.DeepCopy()
	orig := other.DeepCopy()
	other.Status.LastHandledReconcileAt = "other"
	g.Expect(k8s.Status().Patch(ctx, other, client.MergeFrom(orig))).To(Succeed())

	c := &writeCounter{Client: k8s}
	g.Expect(controller.PatchOnce(ctx, c, fetched, func() {
		fetched.Status.Phase = gastownv1.BeadPhaseReady
		conditions.MarkFalse(fetched, meta.ReadyCondition, "Waiting", "waiting")
		conditions.MarkReconciling(fetched, "Waiting", "waiting")
		controllerutil.AddFinalizer(fetched, "example.com/test")
	})).To(Succeed())
	g.Expect(c.statuses.Load()).To(BeEquivalentTo(1), "conditions and phase in one request")
	g.Expect(c.objects.Load()).To(BeEquivalentTo(1), "the finalizer")

	// What the API server answered the status patch: the manager's Bead
	// reconciler may write the bead again at any time after it.
	got := c.afterStatus.(*gastownv1.Bead)
	g.Expect(got.Status.Phase).To(Equal(gastownv1.BeadPhaseReady))
	g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal("Waiting"))
	g.Expect(conditions.IsReconciling(got)).To(BeTrue())
	g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	g.Expect(fetched.Finalizers).To(ContainElement("example.com/test"), "the metadata patch's answer")
	g.Expect(got.Status.LastHandledReconcileAt).To(Equal("other"), "the other write's field is kept")

	c = &writeCounter{Client: k8s}
	g.Expect(controller.PatchOnce(ctx, c, fetched, func() {})).To(Succeed())
	g.Expect(c.statuses.Load()+c.objects.Load()).To(BeZero(), "nothing changed, nothing sent")

	g.Expect(controller.PatchOnce(ctx, k8s, fetched, func() { controllerutil.RemoveFinalizer(fetched, "example.com/test") })).To(Succeed())
	g.Expect(fetched.Finalizers).NotTo(ContainElement("example.com/test"))

	// Labels and annotations are the patcher's too, removals included; the
	// spec is not: the BeadStore writes it.
	g.Expect(controller.PatchOnce(ctx, k8s, fetched, func() {
		fetched.Labels = map[string]string{"example.com/l": "v"}
		fetched.Annotations = map[string]string{"example.com/a": "v"}
	})).To(Succeed())
	g.Expect(controller.PatchOnce(ctx, k8s, fetched, func() {
		delete(fetched.Annotations, "example.com/a")
		fetched.Spec.Title = "changed by a reconcile"
		fetched.Status.Phase = gastownv1.BeadPhaseOpen
	})).To(Succeed())
	live := &gastownv1.Bead{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bead), live)).To(Succeed())
	g.Expect(live.Labels).To(HaveKeyWithValue("example.com/l", "v"))
	g.Expect(live.Annotations).NotTo(HaveKey("example.com/a"))
	g.Expect(live.Status.Phase).To(Equal(gastownv1.BeadPhaseOpen))
	g.Expect(live.Spec.Title).To(Equal("t"), "the spec is not written")
}
