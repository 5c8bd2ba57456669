package controller_test

import (
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// TestAMergedBeadReopenedRunsAgainOnANewPullRequest: a bead merged once and
// then reopened with a new description (as a push of its file would) gets
// a new polecat and a new pull request; the old merge is never recorded as
// the new work's. Closed and reopened to the same spec, it runs again too. Each attempt has its own MergeRequest, and every status
// along the way was written by its own reconciler alone.
func TestAMergedBeadReopenedRunsAgainOnANewPullRequest(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)

	first := f.pr(t, "gt-a")
	f.green(t, first)
	f.approve(t, first)
	merged := f.merged(t, "gt-a")
	firstMerge := merged.Status.PullRequest.MergeCommit
	mr := get(g, f.ns, "gt-a", &gastownv1.MergeRequest{})
	g.Expect(mr.Spec.BeadRef).To(Equal("gt-a"))
	g.Expect(mr.Spec.Polecat).To(Equal("gt-a"))
	g.Expect(mr.Status.Number).To(Equal(first.Number))
	g.Expect(mr.Status.MergeCommit).To(Equal(firstMerge))
	g.Expect(conditions.IsReady(mr)).To(BeTrue(), "kubectl wait --for=condition=Ready works on a merge request")

	update(t, f.ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) {
		b.Spec.Description = "The first take missed the error path; handle it too."
	})
	var second *gastownv1.Bead
	g.Eventually(func(g Gomega) {
		prs, err := f.emu.API.PullRequests("org", "app")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(prs).To(HaveLen(2), "a new pull request for the reopened bead")
		second = get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(second.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(second.Status.PullRequest).NotTo(BeNil())
		g.Expect(second.Status.PullRequest.Number).NotTo(Equal(first.Number))
		g.Expect(second.Status.PullRequest.State).To(Equal(gastownv1.PullRequestOpen))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(second.Status.Dispatch.Polecat).To(Equal("gt-a-2"))
	g.Expect(second.Status.Dispatch.Runs).To(BeEquivalentTo(2))
	g.Expect(second.Status.Dispatch.Attempts).To(BeEquivalentTo(1), "attempts count per spec")
	g.Expect(polecatNames(g, f.ns)).To(Equal([]string{"gt-a", "gt-a-2"}))

	again, err := f.emu.API.PullRequest("org", "app", second.Status.PullRequest.Number)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.Head).To(Equal("polecat/gt-a"), "the bead's branch again: the merge deleted it")
	f.green(t, again)
	f.approve(t, again)
	remerged := f.merged(t, "gt-a")
	g.Expect(remerged.Status.PullRequest.Number).To(Equal(again.Number))
	g.Expect(remerged.Status.PullRequest.MergeCommit).NotTo(Equal(firstMerge))
	old := get(g, f.ns, "gt-a", &gastownv1.MergeRequest{})
	g.Expect(old.Status.Number).To(Equal(first.Number), "the first attempt's record is history, unchanged")
	g.Expect(old.Status.MergeCommit).To(Equal(firstMerge))
	g.Expect(conditions.GetReason(get(g, f.ns, "gt-a-2", &gastownv1.MergeRequest{}), meta.ReadyCondition)).
		To(Equal(gastownv1.PullRequestMergedReason))

	// The source shows the merge (the bead closed), then someone reopens
	// it to the very same spec: it runs a third time.
	update(t, f.ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Status = gastownv1.BeadClosed })
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, f.ns, "gt-a", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseClosed))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	update(t, f.ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Status = gastownv1.BeadOpen })
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.Dispatch).To(HaveField("Polecat", "gt-a-3"))
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.State).To(Equal(gastownv1.PullRequestOpen))
		g.Expect(b.Status.PullRequest.Number).NotTo(BeElementOf(first.Number, again.Number))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())

	// Statuses written across the suite so far, this whole loop included.
	writers := statusWritersOf()
	for _, kind := range []string{"Rig", "Bead", "Polecat", "Refinery", "MergeRequest"} {
		g.Expect(writers).To(HaveKey(kind), "this loop writes the %s status", kind)
	}
	want := map[string]string{"MergeRequest": "Refinery"}
	for kind, names := range writers {
		owner, ok := want[kind]
		if !ok {
			owner = kind
		}
		g.Expect(names).To(Equal([]string{owner}), "the status of a %s has one writer", kind)
	}
}
