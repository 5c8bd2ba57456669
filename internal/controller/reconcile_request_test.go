package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Every kind answers a reconcile request (the reconcile.fluxcd.io/requestedAt
// annotation flux and kubectl gt reconcile set) by recording it in
// status.lastHandledReconcileAt, as Flux's kinds do.
func TestEveryKindRecordsTheReconcileRequestItHandled(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	rig := &gastownv1.Rig{ObjectMeta: metav1.ObjectMeta{Name: "requested-" + ns},
		Spec: gastownv1.RigSpec{GitURL: "https://example.com/org/repo.git", WorkersNamespace: ns, Suspend: true}}
	objs := []client.Object{
		rig,
		&gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-req", Namespace: ns}, Spec: gastownv1.BeadSpec{Title: "t"}},
		&gastownv1.Convoy{ObjectMeta: metav1.ObjectMeta{Name: "req", Namespace: ns}, Spec: gastownv1.ConvoySpec{TrackedBeads: []string{"gt-req"}}},
		&gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{Name: "req", Namespace: ns},
			Spec: gastownv1.PolecatSpec{Rig: rig.Name, DesiredState: gastownv1.DesiredIdle}},
		&gastownv1.Witness{ObjectMeta: metav1.ObjectMeta{Name: "req", Namespace: ns}, Spec: gastownv1.WitnessSpec{RigRef: rig.Name, Suspend: true}},
		&gastownv1.Refinery{ObjectMeta: metav1.ObjectMeta{Name: "req", Namespace: ns}, Spec: gastownv1.RefinerySpec{RigRef: rig.Name, Suspend: true}},
		&gastownv1.BeadStore{ObjectMeta: metav1.ObjectMeta{Name: "req", Namespace: ns}, Spec: gastownv1.BeadStoreSpec{RigRef: rig.Name, Suspend: true}},
	}
	for _, o := range objs {
		g.Expect(k8s.Create(ctx, o)).To(Succeed())
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, rig) })
	const token = "2026-12-01T12:00:00Z"
	for _, o := range objs {
		patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
		o.SetAnnotations(map[string]string{meta.ReconcileRequestAnnotation: token})
		g.Expect(k8s.Patch(ctx, o, patch)).To(Succeed())
	}
	for _, o := range objs {
		g.Eventually(func(g Gomega) {
			got := o.DeepCopyObject().(client.Object)
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed())
			g.Expect(lastHandled(got)).To(Equal(token))
		}, 30*time.Second, 100*time.Millisecond).Should(Succeed(), "%T", o)
	}
}

func lastHandled(o client.Object) string {
	switch o := o.(type) {
	case *gastownv1.Rig:
		return o.Status.LastHandledReconcileAt
	case *gastownv1.Bead:
		return o.Status.LastHandledReconcileAt
	case *gastownv1.Convoy:
		return o.Status.LastHandledReconcileAt
	case *gastownv1.Polecat:
		return o.Status.LastHandledReconcileAt
	case *gastownv1.Witness:
		return o.Status.LastHandledReconcileAt
	case *gastownv1.Refinery:
		return o.Status.LastHandledReconcileAt
	case *gastownv1.BeadStore:
		return o.Status.LastHandledReconcileAt
	}
	return ""
}
