package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads/beadstest"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// syncTimeout bounds the sync of a large issues.jsonl and the phases of its
// beads, on a loaded machine.
const syncTimeout = 5 * time.Minute

// TestBeadStoreSyncsGasTownsIssues points a BeadStore of format
// beads-jsonl at Gas Town's own .beads/issues.jsonl (1.77 MB, 2,669 lines),
// pushed to the git server and fetched by the real source-controller. The
// rig is suspended: this is intake and readiness, not thousands of
// polecats.
func TestBeadStoreSyncsGasTownsIssues(t *testing.T) {
	issues := beadstest.Read(t, "steveyegge__gastown")
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t, devenv.Options{
		Beads: map[string]string{},
		Rig:   func(r *gastownv1.Rig) { r.Spec.Suspend = true },
	})
	c := env.Client
	ns := devenv.WorkersNamespace

	// The rig creates its BeadStore; the user makes it read bd's file.
	key := client.ObjectKey{Namespace: ns, Name: env.Name}
	g.Eventually(func(g Gomega) {
		store := &gastownv1.BeadStore{}
		g.Expect(c.Get(ctx, key, store)).To(Succeed())
		store.Spec.Format = gastownv1.FormatBeadsJSONL
		g.Expect(c.Update(ctx, store)).To(Succeed())
	}, timeout, poll).Should(Succeed())

	if _, err := env.Push("Track work with bd", map[string]string{".beads/issues.jsonl": string(issues)}); err != nil {
		t.Fatal(err)
	}
	revision, err := env.ReconcileSource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := env.HeadRevision()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(revision).To(Equal(head))

	// 2,668 Beads written one by one: give the sync its time.
	g.Eventually(func(g Gomega) {
		store := &gastownv1.BeadStore{}
		g.Expect(c.Get(ctx, key, store)).To(Succeed())
		g.Expect(store.Status.LastAppliedRevision).To(Equal(revision), "conditions: %+v", store.Status.Conditions)
		g.Expect(store.Status.ErrorCount).To(BeZero(), "%v", store.Status.Errors)
		g.Expect(store.Status.IssueCount).To(BeEquivalentTo(2668), "2,669 lines, one a tombstone")
		g.Expect(conditions.IsReady(store)).To(BeTrue())
	}, syncTimeout, poll).Should(Succeed())

	bead := func(g Gomega, id string) *gastownv1.Bead {
		b := &gastownv1.Bead{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: gastownv1.BeadObjectName(id)}, b)).To(Succeed())
		g.Expect(b.Spec.ID).To(Equal(id))
		g.Expect(b.Labels).To(HaveKeyWithValue(gastownv1.BeadLabel, id))
		return b
	}
	g.Eventually(func(g Gomega) {
		// A child of the open epic gt-jzmsj, whose blocker gt-6r18e is
		// closed: ready, as bd ready has it.
		g.Expect(bead(g, "gt-jzmsj.1").Status.Phase).To(Equal(gastownv1.BeadPhaseReady))
		g.Expect(bead(g, "gt-jzmsj").Status.Phase).To(Equal(gastownv1.BeadPhaseOpen), "an epic is not dispatched")
		// Blocked by the open gt-zk7wl.
		g.Expect(bead(g, "gt-051cr").Status.Phase).To(Equal(gastownv1.BeadPhaseBlocked))
		// Hooked: a Gas Town agent is on it.
		hooked := bead(g, "gt-0vu9e")
		g.Expect(hooked.Status.Phase).To(Equal(gastownv1.BeadPhaseOpen))
		g.Expect(conditions.GetReason(hooked, "Ready")).To(Equal(dispatch.ClaimedReason))
	}, syncTimeout, poll).Should(Succeed())

	polecats := &gastownv1.PolecatList{}
	g.Expect(c.List(ctx, polecats, client.InNamespace(ns))).To(Succeed())
	g.Expect(polecats.Items).To(BeEmpty(), "the rig is suspended")
}
