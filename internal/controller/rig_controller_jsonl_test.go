package controller_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// TestDispatchKeepsBdIDs: a bead with a bd child ID gets a polecat named
// after its object, labelled with its ID; bd's workflow types are not
// dispatched.
func TestDispatchKeepsBdIDs(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	r := dispatchRig(t, ns, 5, 0)
	for _, b := range []struct {
		id  string
		typ gastownv1.BeadType
	}{{"gt-a.1", "task"}, {"gt-mr", "merge-request"}, {"gt-epic", "epic"}} {
		obj := &gastownv1.Bead{
			ObjectMeta: metav1.ObjectMeta{Name: gastownv1.BeadObjectName(b.id), Namespace: ns},
			Spec: gastownv1.BeadSpec{ID: b.id, RigRef: r.Name, Title: "work on " + b.id, Type: b.typ,
				SourcePath: ".beads/issues.jsonl"},
		}
		g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	}
	name := gastownv1.BeadObjectName("gt-a.1")
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{name}))
		pc := get(g, ns, name, &gastownv1.Polecat{})
		g.Expect(pc.Spec.BeadID).To(Equal(name), "the Bead object")
		g.Expect(pc.Labels).To(HaveKeyWithValue(gastownv1.BeadLabel, "gt-a.1"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}
