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

// A kind that can be suspended is not Reconciling while it is: nothing is
// under way, and kstatus would report it in progress until it resumes.
func TestASuspendedObjectIsNotReconciling(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	rig := &gastownv1.Rig{ObjectMeta: metav1.ObjectMeta{Name: "suspended-" + ns},
		Spec: gastownv1.RigSpec{GitURL: "https://example.com/org/repo.git", WorkersNamespace: ns}}
	objs := map[client.Object]func(){
		rig: func() { rig.Spec.Suspend = true },
	}
	witness := &gastownv1.Witness{ObjectMeta: metav1.ObjectMeta{Name: "suspended", Namespace: ns}, Spec: gastownv1.WitnessSpec{RigRef: rig.Name}}
	objs[witness] = func() { witness.Spec.Suspend = true }
	refinery := &gastownv1.Refinery{ObjectMeta: metav1.ObjectMeta{Name: "suspended", Namespace: ns}, Spec: gastownv1.RefinerySpec{RigRef: rig.Name}}
	objs[refinery] = func() { refinery.Spec.Suspend = true }
	store := &gastownv1.BeadStore{ObjectMeta: metav1.ObjectMeta{Name: "suspended", Namespace: ns}, Spec: gastownv1.BeadStoreSpec{RigRef: rig.Name}}
	objs[store] = func() { store.Spec.Suspend = true }
	for o := range objs {
		g.Expect(k8s.Create(ctx, o)).To(Succeed())
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, rig) })

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
	for o, suspend := range objs {
		g.Eventually(func(g Gomega) { reconciled(g, o) }, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		g.Eventually(func() error {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
			suspend()
			return env.Client.Update(ctx, o)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	}
	for o := range objs {
		g.Eventually(func(g Gomega) {
			live := reconciled(g, o)
			g.Expect(conditions.GetReason(live, meta.ReadyCondition)).To(Equal(meta.SuspendedReason), "%T", o)
			g.Expect(conditions.Get(live, meta.ReconcilingCondition)).To(BeNil(), "%T %s: Reconciling while suspended", o, o.GetName())
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	}
}
