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

// Routes of the Refinery's requests that a restart cuts off.
const (
	createRoute = "POST /repos/{owner}/{repo}/pulls"
	mergeRoute  = "PUT /repos/{owner}/{repo}/pulls/{number}/merge"
)

// TestARestartDuplicatesNothingAndLosesNoMerge takes the operator away
// twice, each time while a request of the Refinery is on its way to GitHub:
// the one that opens a pull request, then the one that merges it. GitHub
// carries each out while no operator runs, and a new operator starts with
// empty caches. It must not dispatch the failed bead again, open a second
// pull request or merge twice, and it must take up the pull request and the
// merge it never heard answered, closing the bead and unblocking the next.
// The operator goes away as in an upgrade (the in-process manager stopped)
// and as in a crash (the manager process killed with SIGKILL).
func TestARestartDuplicatesNothingAndLosesNoMerge(t *testing.T) {
	t.Run("stopped", func(t *testing.T) {
		testRestart(t, false, (*devenv.Env).StopOperator)
	})
	t.Run("killed", func(t *testing.T) {
		testRestart(t, true, (*devenv.Env).KillOperator)
	})
}

// testRestart runs the restarts, taking the operator away with stop; with
// process, the operator is cmd/manager in its own process.
func testRestart(t *testing.T, process bool, stop func(*devenv.Env) error) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t, devenv.Options{Beads: map[string]string{}, ManagerProcess: process,
		Rig: func(r *gastownv1.Rig) { r.Spec.Settings.MaxRetries = ptrTo(int32(0)) }})
	c, ns := env.Client, devenv.WorkersNamespace
	restart := func(release func()) {
		t.Helper()
		if err := stop(env); err != nil {
			t.Fatalf("taking the operator away: %v", err)
		}
		release()
	}
	start := func() {
		t.Helper()
		if err := env.StartOperator(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The Refinery asks GitHub to open gt-merge's pull request; the
	// emulator holds that request until the operator is gone, then opens
	// it: nobody hears the answer.
	arrived, release := env.GitHub.HoldNext(createRoute)
	defer release()
	if _, err := env.Push("Beads in flight", map[string]string{devenv.BeadsDir + "/flight.yaml": inFlight}); err != nil {
		t.Fatal(err)
	}
	reconcileSource(t, env)
	select {
	case <-arrived:
	case <-time.After(timeout):
		t.Fatal("the Refinery never asked to open gt-merge's pull request")
	}
	// No local run is left for the crash to cut off.
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-fail")).To(Equal(gastownv1.BeadPhaseFailed))
	}, timeout, poll).Should(Succeed())
	polecatsBefore := polecatUIDs(t, c, ns)
	g.Expect(polecatsBefore).To(HaveLen(2), "gt-fail and gt-merge")
	restart(release)
	g.Eventually(func(g Gomega) {
		prs, err := env.GitHub.PullRequests(env.Owner, env.Repo)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(prs).To(HaveLen(1), "the held request opened gt-merge's pull request")
	}, timeout, poll).Should(Succeed())
	start()

	// The new manager finds that pull request by its branch, and records
	// it on the bead.
	var pr githubemu.PullRequest
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-fail")).To(Equal(gastownv1.BeadPhaseFailed))
		g.Expect(phase(g, c, ns, "gt-merge")).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(phase(g, c, ns, "gt-next")).To(Equal(gastownv1.BeadPhaseBlocked))
		pr = pullRequestOf(g, env, "gt-merge")
		b := &gastownv1.Bead{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gt-merge"}, b)).To(Succeed())
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Number).To(BeEquivalentTo(pr.Number))
	}, timeout, poll).Should(Succeed())
	g.Expect(env.GitHub.Calls()[createRoute]).To(Equal(1), "one request opened a pull request")

	// The pull request is approved and green; the Refinery asks GitHub to
	// merge it, and the emulator holds that request until the operator has
	// stopped. Then GitHub merges it: nobody hears the answer.
	arrived, release = env.GitHub.HoldNext(mergeRoute)
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
	restart(release)
	g.Eventually(func(g Gomega) {
		now, err := env.GitHub.PullRequest(env.Owner, env.Repo, pr.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.Merged).To(BeTrue(), "the held merge landed")
	}, timeout, poll).Should(Succeed())
	merges := env.GitHub.Calls()[mergeRoute]
	g.Expect(merges).To(Equal(1), "the held request was the only merge asked for")

	start()
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

	// Nothing was done twice: the polecats from before the restarts are the
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
	g.Expect(env.GitHub.Calls()[createRoute]).To(Equal(2), "one request opened each pull request")
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
