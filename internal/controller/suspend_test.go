package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// A suspended object says so in Ready, and is neither Reconciling nor
// Stalled: nothing is under way, and kstatus would report it in progress,
// or stuck, until it resumes. What its last pass found (a missing rig, a
// rig without a source) does not hide that it is suspended.
func TestASuspendedObjectSaysSo(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	rig := &gastownv1.Rig{ObjectMeta: metav1.ObjectMeta{Name: "suspended-" + ns},
		Spec: gastownv1.RigSpec{GitURL: "https://example.com/org/repo.git", WorkersNamespace: ns}}
	witness := &gastownv1.Witness{ObjectMeta: metav1.ObjectMeta{Name: "suspended", Namespace: ns}, Spec: gastownv1.WitnessSpec{RigRef: rig.Name}}
	refinery := &gastownv1.Refinery{ObjectMeta: metav1.ObjectMeta{Name: "suspended", Namespace: ns}, Spec: gastownv1.RefinerySpec{RigRef: rig.Name}}
	// Its rig has no sourceRef: Stalled.
	stalled := &gastownv1.BeadStore{ObjectMeta: metav1.ObjectMeta{Name: "stalled", Namespace: ns}, Spec: gastownv1.BeadStoreSpec{RigRef: rig.Name}}
	// Its rig is not there: ArtifactFetched is False.
	rigless := &gastownv1.BeadStore{ObjectMeta: metav1.ObjectMeta{Name: "rigless", Namespace: ns}, Spec: gastownv1.BeadStoreSpec{RigRef: "no-such-rig"}}
	before := map[client.Object]string{
		rig: "", witness: "", refinery: "",
		stalled: gastownv1.SourceNotFoundReason, rigless: gastownv1.RigNotFoundReason,
	}
	suspend := map[client.Object]func(){
		rig:      func() { rig.Spec.Suspend = true },
		witness:  func() { witness.Spec.Suspend = true },
		refinery: func() { refinery.Spec.Suspend = true },
		stalled:  func() { stalled.Spec.Suspend = true },
		rigless:  func() { rigless.Spec.Suspend = true },
	}
	g.Expect(k8s.Create(ctx, rig)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, rig) })
	for o := range before {
		if o != rig {
			g.Expect(k8s.Create(ctx, o)).To(Succeed())
		}
	}

	type statusObject interface {
		client.Object
		conditions.Getter
	}
	reconciled := func(g Gomega, o client.Object) statusObject {
		live := o.DeepCopyObject().(statusObject)
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(o), live)).To(Succeed())
		ready := conditions.Get(live, meta.ReadyCondition)
		g.Expect(ready).NotTo(BeNil(), "%T %s", o, o.GetName())
		g.Expect(ready.ObservedGeneration).To(Equal(live.GetGeneration()), "%T %s", o, o.GetName())
		return live
	}
	for o, reason := range before {
		g.Eventually(func(g Gomega) {
			live := reconciled(g, o)
			if reason != "" {
				g.Expect(conditions.GetReason(live, meta.ReadyCondition)).To(Equal(reason), "%T %s", o, o.GetName())
			}
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		g.Eventually(func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
			suspend[o]()
			return env.Client.Update(ctx, o)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	}
	for o := range before {
		g.Eventually(func(g Gomega) {
			live := reconciled(g, o)
			g.Expect(conditions.GetReason(live, meta.ReadyCondition)).To(Equal(meta.SuspendedReason), "%T %s", o, o.GetName())
			g.Expect(conditions.Get(live, meta.ReconcilingCondition)).To(BeNil(), "%T %s: Reconciling while suspended", o, o.GetName())
			g.Expect(conditions.Get(live, meta.StalledCondition)).To(BeNil(), "%T %s: Stalled while suspended", o, o.GetName())
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	}
}
