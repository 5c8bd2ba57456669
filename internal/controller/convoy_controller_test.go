package controller_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// TestConvoyTracksBeadsByTheirBdIDs: a convoy names its beads by bd ID, as
// the bead file does; beads whose IDs are not object names (bd's child
// IDs) are found under their derived names, and their changes reach the
// convoy.
func TestConvoyTracksBeadsByTheirBdIDs(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	const id = "skyhook-gld.1"
	name := gastownv1.BeadObjectName(id)
	g.Expect(name).NotTo(Equal(id))

	bead := &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       gastownv1.BeadSpec{ID: id, Title: "a child of an epic", SourcePath: ".beads/issues.jsonl"},
	}
	g.Expect(k8s.Create(ctx, bead)).To(Succeed())
	convoy := &gastownv1.Convoy{
		ObjectMeta: metav1.ObjectMeta{Name: "sprint", Namespace: ns},
		Spec:       gastownv1.ConvoySpec{TrackedBeads: []string{id}},
	}
	g.Expect(k8s.Create(ctx, convoy)).To(Succeed())

	// Closing the bead in its file lands the convoy: the bead's event finds
	// the convoy through its tracked IDs.
	update(t, ns, name, &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Status = gastownv1.BeadClosed })
	g.Eventually(func(g Gomega) {
		cv := get(g, ns, "sprint", &gastownv1.Convoy{})
		g.Expect(cv.Status.Phase).To(Equal(gastownv1.ConvoyPhaseLanded))
		g.Expect(cv.Status.Progress).To(Equal("1/1"))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
}
