package e2e

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/devenv"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// inFlight are beads that a restart finds half done: one failed for good,
// one whose pull request is being merged, and one waiting for that merge.
// Each has a description, which the operator's cache does not keep.
const inFlight = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-fail
spec:
  title: Try something that fails
  description: |
    The agent gives up on this one.
    scripted-agent: fail
---
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-merge
spec:
  title: Add a database ping
  description: |
    Add a function that pings the database.
  acceptance: The ping answers.
---
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-next
spec:
  title: Add a /health endpoint
  description: |
    Return 200, using the database ping.
  dependsOn: [gt-merge]
`

const mergeRoute = "PUT /repos/{owner}/{repo}/pulls/{number}/merge"

// TestARestartDuplicatesNothingAndLosesNoMerge stops the operator while
// the Refinery's merge of a pull request is on its way to GitHub, lets the
// merge land while no operator runs, and starts a new one. The new manager
// starts with empty caches: it must not dispatch the failed bead again,
// open a second pull request or merge twice, and it must take up the merge
// it never saw answered, closing the bead and unblocking the next.
func TestARestartDuplicatesNothingAndLosesNoMerge(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t, devenv.Options{Beads: map[string]string{},
		Rig: func(r *gastownv1.Rig) { r.Spec.Settings.MaxRetries = ptrTo(int32(0)) }})
	c, ns := env.Client, devenv.WorkersNamespace

	if _, err := env.Push("Beads in flight", map[string]string{devenv.BeadsDir + "/flight.yaml": inFlight}); err != nil {
		t.Fatal(err)
	}
	reconcileSource(t, env)
	var pr githubemu.PullRequest
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-fail")).To(Equal(gastownv1.BeadPhaseFailed))
		g.Expect(phase(g, c, ns, "gt-merge")).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(phase(g, c, ns, "gt-next")).To(Equal(gastownv1.BeadPhaseBlocked))
		pr = pullRequestOf(g, env, "gt-merge")
	}, timeout, poll).Should(Succeed())
	polecatsBefore := polecatUIDs(t, c, ns)
	g.Expect(polecatsBefore).To(HaveLen(2), "gt-fail and gt-merge")

	// The pull request is approved and green; the Refinery asks GitHub to
	// merge it, and the emulator holds that request until the operator has
	// stopped. Then GitHub merges it: nobody hears the answer.
	arrived, release := env.GitHub.HoldNext(mergeRoute)
	defer release()
	g.Expect(env.GitHub.SetStatus(env.Owner, env.Repo, pr.HeadSHA, "ci", "success")).To(Succeed())
	g.Expect(env.GitHub.Approve(env.Owner, env.Repo, pr.Number, "reviewer")).To(Succeed())
	select {
	case <-arrived:
	case <-time.After(timeout):
		t.Fatal("the Refinery never asked to merge the approved, green pull request")
	}
	// The failed bead at rest, as the operator leaves it.
	failedBefore := &gastownv1.Bead{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gt-fail"}, failedBefore)).To(Succeed())
	// A precondition: the polecat's result, the last of the bead's status
	// to come, is there.
	g.Expect(failedBefore.Status.Result).NotTo(BeNil(), "gt-fail's polecat result is on its bead")
	if err := env.StopOperator(); err != nil {
		t.Fatalf("stopping the operator: %v", err)
	}
	release()
	g.Eventually(func(g Gomega) {
		now, err := env.GitHub.PullRequest(env.Owner, env.Repo, pr.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.Merged).To(BeTrue(), "the held merge landed")
	}, timeout, poll).Should(Succeed())
	merges := env.GitHub.Calls()[mergeRoute]
	g.Expect(merges).To(Equal(1), "the held request was the only merge asked for")

	if err := env.StartOperator(ctx); err != nil {
		t.Fatal(err)
	}
	// The new manager learns of the merge from GitHub and the closure from
	// Flux's next artifact; gt-next is dispatched, and merged as usual.
	g.Eventually(func(g Gomega) {
		b := &gastownv1.Bead{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gt-merge"}, b)).To(Succeed())
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Number).To(BeEquivalentTo(pr.Number))
		g.Expect(b.Status.PullRequest.State).To(Equal(gastownv1.PullRequestMerged))
		g.Expect(b.Status.PullRequest.MergeCommit).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())
	reconcileSource(t, env)
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-merge")).To(Equal(gastownv1.BeadPhaseClosed))
	}, timeout, poll).Should(Succeed())
	merge(t, env, "gt-next")
	reconcileSource(t, env)
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-next")).To(Equal(gastownv1.BeadPhaseClosed))
	}, timeout, poll).Should(Succeed())

	// Nothing was done twice: the polecats from before the restart are the
	// same objects, the only new one is gt-next's, and the failed bead was
	// not written at all: not dispatched again, not even shown Ready for a
	// moment.
	polecatsAfter := polecatUIDs(t, c, ns)
	for name, uid := range polecatsBefore {
		g.Expect(polecatsAfter).To(HaveKeyWithValue(name, uid))
	}
	g.Expect(slices.Sorted(maps.Keys(polecatsAfter))).To(Equal([]string{"gt-fail", "gt-merge", "gt-next"}))
	failed := &gastownv1.Bead{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gt-fail"}, failed)).To(Succeed())
	g.Expect(failed.ResourceVersion).To(Equal(failedBefore.ResourceVersion), "gt-fail was written: %+v", failed.Status)
	g.Expect(failed.Status.Phase).To(Equal(gastownv1.BeadPhaseFailed))
	g.Expect(failed.Status.Dispatch).NotTo(BeNil())
	g.Expect(failed.Status.Dispatch.Attempts).To(BeEquivalentTo(1))
	prs, err := env.GitHub.PullRequests(env.Owner, env.Repo)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(prs).To(HaveLen(2), "one pull request for gt-merge and one for gt-next")
	for _, p := range prs {
		g.Expect(p.Merged).To(BeTrue(), p.Title)
	}
	g.Expect(env.GitHub.Calls()[mergeRoute]-merges).To(Equal(1), "the new manager merged gt-next only")
}

// polecatUIDs are the namespace's polecats, by name.
func polecatUIDs(t *testing.T, c client.Client, ns string) map[string]string {
	t.Helper()
	list := &gastownv1.PolecatList{}
	if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{}
	for _, pc := range list.Items {
		uids[pc.Name] = string(pc.UID)
	}
	return uids
}
