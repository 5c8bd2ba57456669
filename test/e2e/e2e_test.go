// Package e2e runs the whole loop with real parts: kube-apiserver and etcd,
// Flux's source-controller, a git server, the GitHub API emulator and the
// operator, with polecats running the real runner and a scripted agent.
package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/devenv"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// sprint is the commit a person makes: two beads, the second depending on
// the first, and a convoy tracking both.
const sprint = `# The health sprint.
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-db
spec:
  title: Add a database ping
  description: |
    Add a function that pings the database.
    scripted-agent: cost 0.0042 1200 300
  priority: 1
---
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-health
spec:
  title: Add a /health endpoint
  description: |
    Return 200 and {"status":"ok"}, using the database ping.
    scripted-agent: cost 0.0042 1200 300
  dependsOn: [gt-db]
---
apiVersion: gastown.gastown.io/v1alpha1
kind: Convoy
metadata:
  name: health-sprint
spec:
  description: Health checks
  trackedBeads: [gt-db, gt-health]
  parallelism: 1
`

const (
	timeout = 90 * time.Second
	poll    = 250 * time.Millisecond
)

func TestTheWholeLoop(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t, devenv.Options{Beads: map[string]string{}})
	c := env.Client
	ns := devenv.WorkersNamespace
	metricsBefore := scrapeMetrics(t, env)

	// A person commits the bead file and runs `flux reconcile source git`
	// to have Flux fetch it now.
	if _, err := env.Push("Plan the health sprint", map[string]string{devenv.BeadsDir + "/sprint.yaml": sprint}); err != nil {
		t.Fatal(err)
	}
	reconcileSource(t, env)
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-db")).To(BeElementOf(gastownv1.BeadPhaseReady, gastownv1.BeadPhaseWorking, gastownv1.BeadPhaseInReview))
		g.Expect(phase(g, c, ns, "gt-health")).To(Equal(gastownv1.BeadPhaseBlocked))
	}, timeout, poll).Should(Succeed())

	merge(t, env, "gt-db")
	// Flux's next artifact shows gt-db closed: gt-health is unblocked.
	reconcileSource(t, env)
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-db")).To(Equal(gastownv1.BeadPhaseClosed))
	}, timeout, poll).Should(Succeed())

	merge(t, env, "gt-health")
	head := reconcileSource(t, env)

	g.Eventually(func(g Gomega) {
		cv := &gastownv1.Convoy{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "health-sprint"}, cv)).To(Succeed())
		g.Expect(cv.Status.Phase).To(Equal(gastownv1.ConvoyPhaseLanded))
		g.Expect(cv.Status.Progress).To(Equal("2/2"))
		g.Expect(cv.Status.CompletedAt).NotTo(BeNil())
		g.Expect(conditions.IsReady(cv)).To(BeTrue(), "%+v", cv.Status.Conditions)
	}, timeout, poll).Should(Succeed())

	// The target branch holds both pieces of work and both closures.
	tree := files(t, env)
	g.Expect(tree).To(ContainElements("README.md", "go.mod", "main.go", ".gastown/sprint.yaml", "changes/gt-db.md", "changes/gt-health.md"))
	beadFile, err := env.GitHub.ReadFile(env.Owner, env.Repo, "main", ".gastown/sprint.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Count(beadFile, "status: closed")).To(Equal(2))
	g.Expect(beadFile).To(HavePrefix("# The health sprint.\n"), "the file's comments survive the closures")

	// Every object's final status.
	for _, id := range []string{"gt-db", "gt-health"} {
		b := &gastownv1.Bead{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: id}, b)).To(Succeed())
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseClosed), id)
		g.Expect(conditions.IsReady(b)).To(BeTrue(), id)
		g.Expect(b.Status.PullRequest.State).To(Equal(gastownv1.PullRequestMerged), id)
		g.Expect(b.Status.PullRequest.MergeCommit).NotTo(BeEmpty(), id)
		g.Expect(b.Status.Dispatch.Attempts).To(BeEquivalentTo(1), id)
		pc := &gastownv1.Polecat{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: id}, pc)).To(Succeed())
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), id)
		g.Expect(pc.Status.Result.Summary).NotTo(BeEmpty(), id)
	}
	prs, err := env.GitHub.PullRequests(env.Owner, env.Repo)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(prs).To(HaveLen(2))
	for _, pr := range prs {
		g.Expect(pr.Merged).To(BeTrue(), pr.Title)
	}
	g.Eventually(func(g Gomega) {
		store := &gastownv1.BeadStore{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: env.Name}, store)).To(Succeed())
		g.Expect(store.Status.LastAppliedRevision).To(Equal(head))
		beads := &gastownv1.BeadList{}
		g.Expect(c.List(ctx, beads, client.InNamespace(ns))).To(Succeed())
		phases := map[gastownv1.BeadPhase]int{}
		for _, b := range beads.Items {
			phases[b.Status.Phase]++
		}
		g.Expect(phases).To(Equal(map[gastownv1.BeadPhase]int{gastownv1.BeadPhaseClosed: 2}))
		ref := &gastownv1.Refinery{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: env.Name}, ref)).To(Succeed())
		g.Expect(ref.Status.MergesSummary.Succeeded).To(BeEquivalentTo(2))
		g.Expect(ref.Status.QueueLength).To(BeZero())
		rig := &gastownv1.Rig{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: env.Name}, rig)).To(Succeed())
		g.Expect(conditions.IsReady(rig)).To(BeTrue())
		src := &sourcev1.GitRepository{}
		g.Expect(c.Get(ctx, env.SourceKey(), src)).To(Succeed())
		g.Expect(src.GetArtifact().Revision).To(Equal(head))
	}, timeout, poll).Should(Succeed())
	checkMetrics(t, env, metricsBefore, 2)
}

// startEnv starts an environment for the test (logging to it), stops it
// when the test ends, and shows the operator's last log lines if the test
// failed.
func startEnv(t *testing.T, opts devenv.Options) *devenv.Env {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	env, err := devenv.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("starting the environment: %v", err)
	}
	t.Cleanup(env.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator log tail:\n%s", devenv.LogTail(env.OperatorLog, 80))
		}
	})
	return env
}

// reconcileSource runs `flux reconcile source git` and checks that the
// revision flux reports is the head of the target branch: nothing else
// pushes to it while the test reconciles.
func reconcileSource(t *testing.T, env *devenv.Env) string {
	t.Helper()
	revision, err := env.ReconcileSource(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	head, err := env.HeadRevision()
	if err != nil {
		t.Fatal(err)
	}
	if revision != head {
		t.Fatalf("flux fetched %s, the head of main is %s", revision, head)
	}
	return revision
}

// merge waits for the bead's pull request, approves it and posts a green
// status as a reviewer and CI would, and waits for the merge.
func merge(t *testing.T, env *devenv.Env, bead string) {
	t.Helper()
	g := NewWithT(t)
	var pr githubemu.PullRequest
	g.Eventually(func(g Gomega) { pr = pullRequestOf(g, env, bead) }, timeout, poll).Should(Succeed())
	g.Expect(pr.Body).To(ContainSubstring("bead=" + bead))
	g.Expect(env.GitHub.SetStatus(env.Owner, env.Repo, pr.HeadSHA, "ci", "success")).To(Succeed())
	g.Expect(env.GitHub.Approve(env.Owner, env.Repo, pr.Number, "reviewer")).To(Succeed())
	g.Eventually(func(g Gomega) {
		b := &gastownv1.Bead{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: bead}, b)).To(Succeed())
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.State).To(Equal(gastownv1.PullRequestMerged))
	}, timeout, poll).Should(Succeed())
}

// pullRequestOf is the bead's pull request in the emulator.
func pullRequestOf(g Gomega, env *devenv.Env, bead string) githubemu.PullRequest {
	prs, err := env.GitHub.PullRequests(env.Owner, env.Repo)
	g.Expect(err).NotTo(HaveOccurred())
	for _, p := range prs {
		if p.Head == "polecat/"+bead {
			return p
		}
	}
	g.Expect(prs).To(ContainElement(HaveField("Head", "polecat/"+bead)), "a pull request for %s", bead)
	return githubemu.PullRequest{}
}

func phase(g Gomega, c client.Client, ns, name string) gastownv1.BeadPhase {
	b := &gastownv1.Bead{}
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, b)).To(Succeed())
	return b.Status.Phase
}

// files lists the target branch's tree.
func files(t *testing.T, env *devenv.Env) []string {
	t.Helper()
	list, err := env.GitHub.ListFiles(env.Owner, env.Repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(list)
	return list
}
