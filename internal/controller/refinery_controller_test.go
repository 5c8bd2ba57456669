package controller_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/google/go-github/v60/github"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// testToken is the emulator's token; it must never surface.
const testToken = "ghp_refinery-test-SECRET-4f2a"

// scriptedAgent writes (or, for a revision, extends) work/<bead>.txt.
const scriptedAgent = `mkdir -p work && printf '%s\n' "$GASTOWN_TASK" >> "work/$GASTOWN_BEAD_ID.txt" && echo "wrote work/$GASTOWN_BEAD_ID.txt"`

// forge is a repository on the emulator with a rig whose polecats run
// locally (the real runner and a scripted agent) and push to it.
type forge struct {
	ns  string
	rig string
	emu *githubemu.Env
}

func beadFile(id string) string {
	return fmt.Sprintf(`# %s: kept by the refinery test
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: %s
spec:
  title: Write %s
  status: open
`, id, id, id)
}

func newForge(t *testing.T, refinerySpec func(*gastownv1.RefinerySpec), beads ...string) forge {
	t.Helper()
	files := map[string]string{"README.md": "# app\n"}
	for _, id := range beads {
		files[".gastown/"+id+".yaml"] = beadFile(id)
	}
	emu, err := githubemu.StartWithRepo("org", "app", testToken, files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return attachRig(t, emu, refinerySpec)
}

// sameRepository is a second rig, with its own namespace and Refinery, on
// the forge's repository.
func (f forge) sameRepository(t *testing.T, refinerySpec func(*gastownv1.RefinerySpec)) forge {
	t.Helper()
	return attachRig(t, f.emu, refinerySpec)
}

func attachRig(t *testing.T, emu *githubemu.Env, refinerySpec func(*gastownv1.RefinerySpec)) forge {
	t.Helper()
	ns := env.Namespace(t)
	dumpOnFailure(t, ns)
	secret(t, ns, "github-token", map[string]string{"token": testToken})

	ref := &gastownv1.Refinery{
		ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns},
		Spec: gastownv1.RefinerySpec{
			RigRef:       ns,
			GitHub:       &gastownv1.GitHubSpec{BaseURL: emu.API.URL()},
			PollInterval: &metav1.Duration{Duration: 500 * time.Millisecond},
			Labels:       []string{"polecat"},
		},
	}
	if refinerySpec != nil {
		refinerySpec(&ref.Spec)
	}
	if err := k8s.Create(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	rig(t, ns, func(r *gastownv1.Rig) {
		r.Spec.GitURL = emu.CloneURL
		r.Spec.Agent = gastownv1.AgentCustom
		r.Spec.AgentConfig = &gastownv1.AgentConfig{Command: []string{"sh", "-c", scriptedAgent}}
		r.Spec.Settings.ExecutionMode = gastownv1.ExecutionModeLocal
		r.Spec.Suspend = true // tests add beads, then start dispatch
	})
	return forge{ns: ns, rig: ns, emu: emu}
}

func (f forge) bead(t *testing.T, id string, priority int32) {
	t.Helper()
	handBead(t, f.ns, f.rig, id, priority)
}

func (f forge) dispatch(t *testing.T) {
	update(t, "", f.rig, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Suspend = false })
}

// suspendRefinery sets spec.suspend and waits until the refinery observed
// it: a reconcile in flight when the spec changed is over by then.
func (f forge) suspendRefinery(t *testing.T, suspend bool) {
	update(t, f.ns, f.ns, &gastownv1.Refinery{}, func(r *gastownv1.Refinery) { r.Spec.Suspend = suspend })
	NewWithT(t).Eventually(func(g Gomega) {
		ref := get(g, f.ns, f.ns, &gastownv1.Refinery{})
		g.Expect(ref.Status.ObservedGeneration).To(Equal(ref.Generation))
		g.Expect(conditions.GetReason(ref, meta.ReadyCondition) == meta.SuspendedReason).To(Equal(suspend))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

// pushedBehindASuspendedRefinery runs the bead's polecat while the
// Refinery is suspended, and returns the bead InReview with its push.
func (f forge) pushedBehindASuspendedRefinery(t *testing.T, id string) *gastownv1.Bead {
	t.Helper()
	f.suspendRefinery(t, true)
	f.bead(t, id, 2)
	f.dispatch(t)
	var b *gastownv1.Bead
	NewWithT(t).Eventually(func(g Gomega) {
		b = get(g, f.ns, id, &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	return b
}

// client is a go-github client of the emulator, as a person would use.
func (f forge) client(t *testing.T) *github.Client {
	t.Helper()
	gh, err := github.NewClient(nil).WithAuthToken(testToken).WithEnterpriseURLs(f.emu.API.URL(), f.emu.API.URL())
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

// pr waits for the bead's pull request and returns it.
func (f forge) pr(t *testing.T, bead string) githubemu.PullRequest {
	t.Helper()
	var out githubemu.PullRequest
	NewWithT(t).Eventually(func(g Gomega) {
		prs, err := f.emu.API.PullRequests("org", "app")
		g.Expect(err).NotTo(HaveOccurred())
		var found []githubemu.PullRequest
		for _, pr := range prs {
			if pr.Head == "polecat/"+bead {
				found = append(found, pr)
			}
		}
		g.Expect(found).To(HaveLen(1), "exactly one pull request for %s", bead)
		out = found[0]
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	return out
}

func (f forge) green(t *testing.T, pr githubemu.PullRequest) {
	t.Helper()
	if err := f.emu.API.SetStatus("org", "app", pr.HeadSHA, "test", "success"); err != nil {
		t.Fatal(err)
	}
}

func (f forge) approve(t *testing.T, pr githubemu.PullRequest) {
	t.Helper()
	if err := f.emu.API.Approve("org", "app", pr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
}

func (f forge) merged(t *testing.T, bead string) *gastownv1.Bead {
	t.Helper()
	var b *gastownv1.Bead
	NewWithT(t).Eventually(func(g Gomega) {
		b = get(g, f.ns, bead, &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.State).To(Equal(gastownv1.PullRequestMerged))
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseMerged))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	return b
}

func totalCalls(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

func TestRefineryMergesAnApprovedGreenPullRequest(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.emu.API.ResetCalls()
	f.dispatch(t)

	pr := f.pr(t, "gt-a")
	g.Expect(pr.Title).To(Equal("gt-a: work on gt-a"))
	g.Expect(pr.Body).To(ContainSubstring("<!-- gastown: bead=gt-a rig=" + f.rig + " -->"))
	g.Expect(pr.Body).To(ContainSubstring("wrote work/gt-a.txt"), "the polecat's summary")
	g.Expect(pr.Body).To(ContainSubstring("Do gt-a well.\n\n**Acceptance**\n\ngt-a is done."), "the bead's text")
	g.Expect(pr.Draft).To(BeFalse())
	g.Eventually(func(g Gomega) { // labels are a second call after the creation
		now, err := f.emu.API.PullRequest("org", "app", pr.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.Labels).To(ConsistOf("polecat"))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).NotTo(BeNil(), "the bead records the pull request")
		g.Expect(b.Status.PullRequest.Number).To(Equal(pr.Number))
		g.Expect(b.Status.PullRequest.URL).To(ContainSubstring(fmt.Sprintf("/pull/%d", pr.Number)))
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(b.Status.PullRequest.Gate).To(Equal("1 approval missing"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	opening := f.emu.API.Calls() // includes the polls while the test waited

	f.emu.API.ResetCalls()
	f.green(t, pr)
	f.approve(t, pr)
	b := f.merged(t, "gt-a")

	mainSHA, err := f.emu.API.BranchSHA("org", "app", "main")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b.Status.PullRequest.MergeCommit).To(Equal(mainSHA))
	work, err := f.emu.API.ReadFile("org", "app", "main", "work/gt-a.txt")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(work).To(ContainSubstring("work on gt-a"))
	beadOnMain, err := f.emu.API.ReadFile("org", "app", "main", ".gastown/gt-a.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(beadOnMain).To(ContainSubstring("status: closed"))
	g.Expect(beadOnMain).To(HavePrefix("# gt-a: kept by the refinery test\n"), "the file's comments are kept")
	_, err = f.emu.API.BranchSHA("org", "app", "polecat/gt-a")
	g.Expect(err).To(HaveOccurred(), "the branch is deleted after the merge")
	got, _ := f.emu.API.PullRequest("org", "app", pr.Number)
	g.Expect(got.Merged).To(BeTrue())
	// One event for the merge: the bead's phase, Merged.
	g.Eventually(func(g Gomega) {
		merged := eventsFor(g, f.ns, "Bead", "gt-a", "Merged")
		g.Expect(merged).To(HaveLen(1))
		g.Expect(merged[0].Message).To(HavePrefix(fmt.Sprintf("pull request #%d merged as ", pr.Number)))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(eventsFor(g, f.ns, "Bead", "gt-a", "Merged")).To(HaveLen(1))
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())

	calls := f.emu.API.Calls()
	t.Logf("GitHub API calls to open the pull request and gate it once: %d %v", totalCalls(opening), opening)
	t.Logf("GitHub API calls from approval to merge: %d %v", totalCalls(calls), calls)

	g.Eventually(func(g Gomega) {
		ref := get(g, f.ns, f.ns, &gastownv1.Refinery{})
		g.Expect(ref.Status.MergesSummary.Succeeded).To(BeEquivalentTo(1))
		g.Expect(ref.Status.LastMergeTime).NotTo(BeNil())
		g.Expect(ref.Status.QueueLength).To(BeZero())
		g.Expect(ref.Status.Phase).To(Equal(gastownv1.RefineryPhaseIdle))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	assertNoToken(t, f.ns)
}

// revision waits for the revision polecat name.
func (f forge) revision(t *testing.T, name string) *gastownv1.Polecat {
	t.Helper()
	var rev *gastownv1.Polecat
	NewWithT(t).Eventually(func(g Gomega) {
		rev = get(g, f.ns, name, &gastownv1.Polecat{})
		g.Expect(rev.Spec.Purpose).To(Equal(gastownv1.PurposeRevision))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	return rev
}

// twoReady opens the pull requests of beads gt-lo (priority 3) and gt-hi
// (priority 0) and makes both green and approved while the Refinery is
// suspended, so that they are ready at once; it returns suspended.
func (f forge) twoReady(t *testing.T) (lo, hi githubemu.PullRequest) {
	t.Helper()
	f.suspendRefinery(t, true)
	f.bead(t, "gt-lo", 3)
	f.bead(t, "gt-hi", 0)
	f.dispatch(t)
	NewWithT(t).Eventually(func(g Gomega) {
		for _, id := range []string{"gt-lo", "gt-hi"} {
			g.Expect(get(g, f.ns, id, &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		}
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	f.suspendRefinery(t, false)
	lo, hi = f.pr(t, "gt-lo"), f.pr(t, "gt-hi")
	f.suspendRefinery(t, true)
	for _, pr := range []githubemu.PullRequest{lo, hi} {
		f.green(t, pr)
		f.approve(t, pr)
	}
	return lo, hi
}

func TestRefineryMergesInPriorityOrderAndUpdatesABranchBehindBase(t *testing.T) {
	g := NewWithT(t)
	// Branch protection requires the "test" check: an updated branch waits for it again.
	f := newForge(t, func(s *gastownv1.RefinerySpec) { s.RequiredChecks = []string{"test"} }, "gt-lo", "gt-hi")
	// Both are ready at once: the higher priority merges first.
	lo, hi := f.twoReady(t)
	f.suspendRefinery(t, false)

	hiBead := f.merged(t, "gt-hi")
	// gt-lo is now behind main: its branch is updated, and checks must pass again.
	g.Eventually(func(g Gomega) {
		now, err := f.emu.API.PullRequest("org", "app", lo.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.HeadSHA).NotTo(Equal(lo.HeadSHA), "update-branch moved the head")
		b := get(g, f.ns, "gt-lo", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).To(HaveField("Gate", ContainSubstring("waiting for checks: test")))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	updated, _ := f.emu.API.PullRequest("org", "app", lo.Number)
	f.green(t, updated)
	loBead := f.merged(t, "gt-lo")
	g.Expect(loBead.Status.PullRequest.MergedAt.After(hiBead.Status.PullRequest.MergedAt.Time) ||
		loBead.Status.PullRequest.MergedAt.Equal(hiBead.Status.PullRequest.MergedAt)).To(BeTrue())
	for _, file := range []string{"work/gt-hi.txt", "work/gt-lo.txt"} {
		_, err := f.emu.API.ReadFile("org", "app", "main", file)
		g.Expect(err).NotTo(HaveOccurred(), file)
	}
	order := mergeOrder(t, f)
	g.Expect(order).To(Equal([]string{"gt-hi", "gt-lo"}))
	for _, pr := range []githubemu.PullRequest{lo, hi} {
		now, err := f.emu.API.PullRequest("org", "app", pr.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.MergedBehind).To(BeFalse(), "#%d merged on a base it was not tested on", pr.Number)
	}
}

// TestMergesIntoOneBranchTakeTurnsAcrossRefineries: two rigs on one
// repository merge into its main one at a time. While the first merge is
// in flight (the emulator holds it), the other Refinery waits for it; then
// its branch, behind main by that merge, is updated before it merges, so
// nothing lands that was not tested on main as it is.
func TestMergesIntoOneBranchTakeTurnsAcrossRefineries(t *testing.T) {
	g := NewWithT(t)
	a := newForge(t, nil, "gt-a", "gt-b")
	b := a.sameRepository(t, nil)
	a.bead(t, "gt-a", 2)
	b.bead(t, "gt-b", 2)
	arrived, release := a.emu.API.HoldNext("PUT /repos/{owner}/{repo}/pulls/{number}/merge")
	defer release()
	a.dispatch(t)
	b.dispatch(t)
	prs := map[string]githubemu.PullRequest{"gt-a": a.pr(t, "gt-a"), "gt-b": b.pr(t, "gt-b")}
	for _, pr := range prs {
		a.green(t, pr)
		a.approve(t, pr)
	}
	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		t.Fatal("no merge was asked for")
	}
	// Which Refinery came first is the scheduler's choice; the other waits.
	waiting := ""
	g.Eventually(func(g Gomega) {
		waiting = ""
		for _, x := range []struct {
			f  forge
			id string
		}{{a, "gt-a"}, {b, "gt-b"}} {
			pr := get(g, x.f.ns, x.id, &gastownv1.Bead{}).Status.PullRequest
			if pr != nil && strings.HasPrefix(pr.Gate, "ready to merge; waiting for refinery ") {
				g.Expect(waiting).To(BeEmpty(), "both wait")
				waiting = x.id
			}
		}
		g.Expect(waiting).NotTo(BeEmpty(), "a second merge into main while the first is in flight")
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	release()

	a.merged(t, "gt-a")
	b.merged(t, "gt-b")
	for id, opened := range prs {
		now, err := a.emu.API.PullRequest("org", "app", opened.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.MergedBehind).To(BeFalse(), "%s merged on a base it was not tested on", id)
		if id == waiting {
			g.Expect(now.HeadSHA).NotTo(Equal(opened.HeadSHA), "%s was updated with main before its merge", id)
		}
	}
}

// mergeOrder lists the beads in the order their merges landed on main.
func mergeOrder(t *testing.T, f forge) []string {
	list := &gastownv1.BeadList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool {
		return list.Items[i].Status.PullRequest.MergedAt.Before(list.Items[j].Status.PullRequest.MergedAt)
	})
	var out []string
	for _, b := range list.Items {
		out = append(out, b.Name)
	}
	return out
}

func TestChangesRequestedLaunchARevisionPolecat(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")
	err := f.emu.API.RequestChanges("org", "app", pr.Number, "alice", "Please say hello.",
		[]githubemu.LineComment{{Path: "work/gt-a.txt", Line: 1, Body: "start with hello"}})
	g.Expect(err).NotTo(HaveOccurred())

	var rev *gastownv1.Polecat
	g.Eventually(func(g Gomega) {
		rev = get(g, f.ns, "gt-a-rev-1", &gastownv1.Polecat{})
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(rev.Spec.Purpose).To(Equal(gastownv1.PurposeRevision))
	g.Expect(rev.Spec.Kubernetes.WorkBranch).To(Equal("polecat/gt-a"))
	g.Expect(rev.Spec.TaskDescription).To(ContainSubstring("Please say hello."))
	g.Expect(rev.Spec.TaskDescription).To(ContainSubstring("- work/gt-a.txt:1: start with hello"))

	// The revision pushes to the same branch, then alice is asked to look again.
	g.Eventually(func(g Gomega) {
		now, err := f.emu.API.PullRequest("org", "app", pr.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.HeadSHA).NotTo(Equal(pr.HeadSHA))
		g.Expect(now.RequestedReviewers).To(ContainElement("alice"))
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest.Revisions).To(BeEquivalentTo(1))
		g.Expect(b.Status.PullRequest.Gate).To(Equal("waiting for alice to review the revision"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	work, _ := f.emu.API.ReadFile("org", "app", "polecat/gt-a", "work/gt-a.txt")
	g.Expect(work).To(ContainSubstring("Please say hello."))
	g.Consistently(func(g Gomega) {
		g.Expect(polecatNames(g, f.ns)).To(Equal([]string{"gt-a", "gt-a-rev-1"}), "one revision per review")
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestARevisionTakesNoPolecatOfAnotherBead: the revision's name is held by
// another bead's polecat that the Refinery's cache has not seen yet. The
// create finds it; the revision is not taken for launched.
func TestARevisionTakesNoPolecatOfAnotherBead(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")

	handBead(t, f.ns, "", "gt-other", 2)
	other := get(g, f.ns, "gt-other", &gastownv1.Bead{})
	holder := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-a-rev-1", Namespace: f.ns,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(other, gastownv1.GroupVersion.WithKind("Bead"))}},
		Spec: gastownv1.PolecatSpec{Rig: f.rig, BeadID: "gt-other", Purpose: gastownv1.PurposeRevision, DesiredState: gastownv1.DesiredIdle},
	}
	key := client.ObjectKeyFromObject(holder)
	refineryCache.hide(key, true)
	t.Cleanup(func() { refineryCache.hide(key, false) })
	g.Expect(env.Client.Create(context.Background(), holder)).To(Succeed())

	g.Expect(f.emu.API.RequestChanges("org", "app", pr.Number, "alice", "Please say hello.", nil)).To(Succeed())
	g.Eventually(func(g Gomega) {
		ref := get(g, f.ns, f.ns, &gastownv1.Refinery{})
		g.Expect(conditions.GetMessage(ref, meta.ReadyCondition)).To(ContainSubstring(
			`polecat ` + f.ns + `/gt-a-rev-1 exists for bead "gt-other" (purpose "Revision"), not as gt-a's Revision`))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
	g.Expect(b.Status.PullRequest.Revisions).To(BeZero(), "no revision is recorded as launched")
	g.Expect(get(g, f.ns, "gt-a-rev-1", &gastownv1.Polecat{}).Spec.BeadID).To(Equal("gt-other"))
}

// TestRefineryAdoptsAPullRequestItDidNotRecord starts from a manager that
// died after opening the pull request and before recording it.
func TestRefineryAdoptsAPullRequestItDidNotRecord(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.pushedBehindASuspendedRefinery(t, "gt-a")
	gh := f.client(t)
	opened, _, err := gh.PullRequests.Create(context.Background(), "org", "app", &github.NewPullRequest{
		Title: github.String("gt-a: opened before the crash"), Head: github.String("polecat/gt-a"), Base: github.String("main")})
	g.Expect(err).NotTo(HaveOccurred())

	f.suspendRefinery(t, false)
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Number).To(Equal(opened.GetNumber()))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(f.pr(t, "gt-a").Number).To(Equal(opened.GetNumber()), "exactly one pull request")
}

// TestARestartAfterOpeningFindsThePullRequestItOpened: the merge request
// was made by an earlier pass, which may have opened the pull request and
// stopped before recording it; meanwhile someone merged it. The Refinery
// looks it up by branch, records that merge, and opens no second one.
func TestARestartAfterOpeningFindsThePullRequestItOpened(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	bead := f.pushedBehindASuspendedRefinery(t, "gt-a")
	g.Expect(k8s.Create(context.Background(), &gastownv1.MergeRequest{
		ObjectMeta: metav1.ObjectMeta{Name: bead.Status.Dispatch.Polecat, Namespace: f.ns},
		Spec: gastownv1.MergeRequestSpec{BeadRef: "gt-a", RigRef: f.rig, Polecat: bead.Status.Dispatch.Polecat,
			HeadBranch: bead.Status.Branch},
	})).To(Succeed())
	gh := f.client(t)
	opened, _, err := gh.PullRequests.Create(context.Background(), "org", "app", &github.NewPullRequest{
		Title: github.String("gt-a: opened before the restart"), Head: github.String("polecat/gt-a"), Base: github.String("main")})
	g.Expect(err).NotTo(HaveOccurred())
	_, _, err = gh.PullRequests.Merge(context.Background(), "org", "app", opened.GetNumber(), "", nil)
	g.Expect(err).NotTo(HaveOccurred())

	f.suspendRefinery(t, false)
	merged := f.merged(t, "gt-a")
	g.Expect(merged.Status.PullRequest.Number).To(Equal(opened.GetNumber()))
	g.Expect(f.pr(t, "gt-a").Number).To(Equal(opened.GetNumber()), "exactly one pull request")
}

func TestRefinerySurvivesServerErrorsAndRateLimits(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, func(s *gastownv1.RefinerySpec) {
		s.RequiredApprovals = ptr(int32(0))
		s.RequiredChecks = []string{"test"}
	}, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")

	f.emu.API.FailNext(4, 500)
	f.emu.API.RateLimitNext(3, time.Now().Add(2*time.Second))
	f.green(t, pr)
	g.Eventually(func(g Gomega) {
		ref := get(g, f.ns, f.ns, &gastownv1.Refinery{})
		g.Expect(conditions.GetReason(ref, meta.ReadyCondition)).To(Equal(gastownv1.RateLimitedReason))
	}, 20*time.Second, 50*time.Millisecond).Should(Succeed(), "the rate limit is reported, not hidden")
	f.merged(t, "gt-a")
	g.Eventually(func(g Gomega) {
		g.Expect(conditions.IsReady(get(g, f.ns, f.ns, &gastownv1.Refinery{}))).To(BeTrue())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	assertNoToken(t, f.ns)
}

func TestGitProviderMergesWithoutPullRequests(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, func(s *gastownv1.RefinerySpec) { s.Provider = gastownv1.ProviderGit; s.GitHub = nil }, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	b := f.merged(t, "gt-a")

	mainSHA, err := f.emu.API.BranchSHA("org", "app", "main")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b.Status.PullRequest.MergeCommit).To(Equal(mainSHA))
	g.Expect(b.Status.PullRequest.Number).To(BeZero())
	beadOnMain, _ := f.emu.API.ReadFile("org", "app", "main", ".gastown/gt-a.yaml")
	g.Expect(beadOnMain).To(ContainSubstring("status: closed"))
	_, err = f.emu.API.ReadFile("org", "app", "main", "work/gt-a.txt")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = f.emu.API.BranchSHA("org", "app", "polecat/gt-a")
	g.Expect(err).To(HaveOccurred(), "the branch is deleted")
	prs, _ := f.emu.API.PullRequests("org", "app")
	g.Expect(prs).To(BeEmpty())
}

// assertNoToken checks that the token is in no log line, event or status.
func assertNoToken(t *testing.T, ns string) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(logs.String()).NotTo(ContainSubstring(testToken), "logs")
	events := &corev1.EventList{}
	g.Expect(env.Client.List(context.Background(), events, client.InNamespace(ns))).To(Succeed())
	g.Expect(events.Items).NotTo(BeEmpty())
	for _, list := range []client.ObjectList{events, &gastownv1.BeadList{}, &gastownv1.PolecatList{}, &gastownv1.RefineryList{}} {
		g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
		b, _ := json.Marshal(list)
		g.Expect(string(b)).NotTo(ContainSubstring(testToken), "%T", list)
		g.Expect(strings.Count(string(b), "ghp_")).To(BeZero())
	}
}

// TestGitProviderStartsOverAnEditedBeadItGaveUpOn: with the git provider,
// a conflict it gave up on is retired (the branch deleted) once the bead
// is edited, and the new attempt merges.
func TestGitProviderStartsOverAnEditedBeadItGaveUpOn(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, func(s *gastownv1.RefinerySpec) {
		s.Provider, s.GitHub, s.MaxConflictFixes = gastownv1.ProviderGit, nil, ptr(int32(0))
	}, "gt-a")
	f.pushedBehindASuspendedRefinery(t, "gt-a")
	_, err := f.emu.CommitFiles("main", "someone else's change", map[string]string{"work/gt-a.txt": "a different line\n"})
	g.Expect(err).NotTo(HaveOccurred())
	f.suspendRefinery(t, false)
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseFailed))
		g.Expect(conditions.GetReason(b, meta.StalledCondition)).To(Equal(gastownv1.MergeConflictReason))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	update(t, f.ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Description = "Start from main as it is now." })
	merged := f.merged(t, "gt-a")
	g.Expect(merged.Status.Dispatch.Polecat).To(Equal("gt-a-2"))
	g.Expect(get(g, f.ns, "gt-a", &gastownv1.MergeRequest{}).Status.State).To(Equal(gastownv1.PullRequestClosed), "the failed attempt is retired")
	mainSHA, err := f.emu.API.BranchSHA("org", "app", "main")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(merged.Status.PullRequest.MergeCommit).To(Equal(mainSHA))
}

func TestAClosedPullRequestRejectsTheBeadUntilItIsEdited(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")
	g.Expect(f.emu.API.ClosePullRequest("org", "app", pr.Number)).To(Succeed())

	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseRejected))
		g.Expect(conditions.IsStalled(b)).To(BeTrue())
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	_, err := f.emu.API.BranchSHA("org", "app", "polecat/gt-a")
	g.Expect(err).To(HaveOccurred(), "the rejected branch is deleted")
	g.Consistently(func(g Gomega) {
		g.Expect(polecatNames(g, f.ns)).To(Equal([]string{"gt-a"}), "no relaunch until the bead changes")
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())

	// Editing the bead starts over: a new polecat, a new branch, a new pull request.
	update(t, f.ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Description = "Say it differently." })
	g.Eventually(func(g Gomega) {
		prs, err := f.emu.API.PullRequests("org", "app")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(prs).To(HaveLen(2))
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Number).NotTo(Equal(pr.Number))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(polecatNames(g, f.ns)).To(Equal([]string{"gt-a", "gt-a-2"}))
}

// conflictOnMain opens the bead's pull request, then commits a conflicting
// change to the same file on main.
func conflictOnMain(t *testing.T, f forge, bead string) githubemu.PullRequest {
	t.Helper()
	pr := f.pr(t, bead)
	if _, err := f.emu.CommitFiles("main", "someone else's change", map[string]string{"work/" + bead + ".txt": "a different line\n"}); err != nil {
		t.Fatal(err)
	}
	return pr
}

// TestAConflictResolvedByHandMerges: after the Refinery gave up on a
// conflict, a person resolves it on the branch; the Refinery, still gating
// the pull request, lifts the failure and merges it.
func TestAConflictResolvedByHandMerges(t *testing.T) {
	g := NewWithT(t)
	f, pr := givenUpOnAConflict(t)

	// The resolution: the branch takes main's side of the conflicting line.
	resolved, err := f.emu.CommitFiles("polecat/gt-a", "resolve the conflict with main", map[string]string{"work/gt-a.txt": "a different line\n"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(b.Status.PullRequest.Failure).To(BeEmpty())
		g.Expect(b.Status.PullRequest.Gate).To(Equal("1 approval missing"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	now, err := f.emu.API.PullRequest("org", "app", pr.Number)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(now.HeadSHA).To(Equal(resolved))
	f.approve(t, now)
	merged := f.merged(t, "gt-a")
	g.Expect(merged.Status.PullRequest.Number).To(Equal(pr.Number), "the same pull request")
	g.Expect(polecatNames(g, f.ns)).To(Equal([]string{"gt-a"}), "no new attempt")
}

func TestAConflictIsRedoneByAConflictPolecat(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, func(s *gastownv1.RefinerySpec) { s.RequiredApprovals = ptr(int32(0)); s.AutoMerge = ptr(false) }, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := conflictOnMain(t, f, "gt-a")

	var fix *gastownv1.Polecat
	g.Eventually(func(g Gomega) {
		fix = get(g, f.ns, "gt-a-fix-1", &gastownv1.Polecat{})
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(fix.Spec.Purpose).To(Equal(gastownv1.PurposeConflictFix))
	g.Expect(fix.Spec.Kubernetes.WorkBranch).To(Equal("polecat/gt-a"))

	// The fix redoes the work on the new main: the pull request is mergeable again.
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest.ConflictFixes).To(BeEquivalentTo(1))
		g.Expect(b.Status.PullRequest.HeadSHA).NotTo(Equal(pr.HeadSHA))
		g.Expect(b.Status.PullRequest.Gate).To(Equal("ready to merge; autoMerge is off"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	work, err := f.emu.API.ReadFile("org", "app", "polecat/gt-a", "work/gt-a.txt")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(work).To(HavePrefix("a different line\n"), "the new branch starts from main")
}

// givenUpOnAConflict is a bead whose branch conflicts with main, on a
// Refinery that allows no conflict fix: it fails.
func givenUpOnAConflict(t *testing.T) (forge, githubemu.PullRequest) {
	t.Helper()
	f := newForge(t, func(s *gastownv1.RefinerySpec) { s.MaxConflictFixes = ptr(int32(0)) }, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := conflictOnMain(t, f, "gt-a")
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(get(g, f.ns, "gt-a", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseFailed))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	return f, pr
}

func TestAConflictFailsTheBeadWhenNoFixIsAllowed(t *testing.T) {
	g := NewWithT(t)
	f, pr := givenUpOnAConflict(t)
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(conditions.GetReason(b, meta.StalledCondition)).To(Equal(gastownv1.MergeConflictReason))
		g.Expect(conditions.GetMessage(b, meta.ReadyCondition)).To(ContainSubstring("still conflicts with main after 0 conflict fixes"))
		now, err := f.emu.API.PullRequest("org", "app", pr.Number)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(now.Comments).To(ContainElement(ContainSubstring("Gas Town refinery: the branch still conflicts with main")))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	// Edited, the failed bead runs again, on the current main, and its new
	// work is what merges: never the failed attempt's.
	update(t, f.ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Description = "Start from main as it is now." })
	var again *gastownv1.Bead
	g.Eventually(func(g Gomega) {
		again = get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(again.Status.Dispatch.Polecat).To(Equal("gt-a-2"))
		g.Expect(again.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(again.Status.PullRequest).NotTo(BeNil())
		g.Expect(again.Status.PullRequest.Gate).NotTo(ContainSubstring("conflicts"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(again.Status.PullRequest.Number).NotTo(Equal(pr.Number), "a new pull request")
	failed, err := f.emu.API.PullRequest("org", "app", pr.Number)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(failed.State).To(Equal("closed"), "the failed attempt's pull request is closed")
	g.Expect(failed.Merged).To(BeFalse())
	g.Expect(failed.Comments).To(ContainElement(ContainSubstring("a new attempt follows")))
	now, err := f.emu.API.PullRequest("org", "app", again.Status.PullRequest.Number)
	g.Expect(err).NotTo(HaveOccurred())
	f.green(t, now)
	f.approve(t, now)
	merged := f.merged(t, "gt-a")
	g.Expect(merged.Status.PullRequest.HeadSHA).To(Equal(merged.Status.Commit), "the new attempt's commit merged")
}

func TestAMergeQueueRepositoryIsReported(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, func(s *gastownv1.RefinerySpec) { s.RequiredApprovals = ptr(int32(0)) }, "gt-a")
	f.emu.API.RequireMergeQueue(true)
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	f.pr(t, "gt-a")
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Gate).To(ContainSubstring("requires GitHub's merge queue"))
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
}

// twoApproved brings gt-lo (priority 3) and gt-hi (priority 0) to green,
// approved pull requests that become mergeable in the same pass.
func twoApproved(t *testing.T, f forge) (lo, hi githubemu.PullRequest) {
	t.Helper()
	f.suspendRefinery(t, true)
	f.bead(t, "gt-lo", 3)
	f.bead(t, "gt-hi", 0)
	f.dispatch(t)
	NewWithT(t).Eventually(func(g Gomega) {
		for _, id := range []string{"gt-lo", "gt-hi"} {
			g.Expect(get(g, f.ns, id, &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		}
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	f.suspendRefinery(t, false)
	lo, hi = f.pr(t, "gt-lo"), f.pr(t, "gt-hi")
	f.suspendRefinery(t, true)
	for _, pr := range []githubemu.PullRequest{lo, hi} {
		f.green(t, pr)
		f.approve(t, pr)
	}
	f.suspendRefinery(t, false)
	return lo, hi
}

// TestUpdateBranchWhenRequiredFollowsBranchProtection: with updateBranch
// whenRequired and no branch protection, GitHub calls a pull request that
// lacks the target's latest commit "clean" and the Refinery merges it as it
// was tested; once protection requires up-to-date branches, it is updated
// first. (The default, always, is TestRefineryMergesInPriorityOrderAndUpdatesABranchBehindBase.)
func TestUpdateBranchWhenRequiredFollowsBranchProtection(t *testing.T) {
	for _, protected := range []bool{false, true} {
		t.Run(fmt.Sprintf("protected=%v", protected), func(t *testing.T) {
			g := NewWithT(t)
			f := newForge(t, func(s *gastownv1.RefinerySpec) { s.UpdateBranch = gastownv1.UpdateBranchWhenRequired }, "gt-lo", "gt-hi")
			f.emu.API.RequireUpToDate("org", "app", "main", protected)
			lo, _ := twoApproved(t, f)
			f.merged(t, "gt-hi")
			if !protected {
				f.merged(t, "gt-lo")
				now, err := f.emu.API.PullRequest("org", "app", lo.Number)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(now.HeadSHA).To(Equal(lo.HeadSHA), "merged as it was tested, on the old base")
				g.Expect(now.MergedBehind).To(BeTrue(), "whenRequired lets it merge behind main")
				return
			}
			g.Eventually(func(g Gomega) {
				now, err := f.emu.API.PullRequest("org", "app", lo.Number)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(now.HeadSHA).NotTo(Equal(lo.HeadSHA), "update-branch moved the head")
			}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
			updated, _ := f.emu.API.PullRequest("org", "app", lo.Number)
			f.green(t, updated)
			f.merged(t, "gt-lo")
		})
	}
}

// TestARevisionTakesAPolecatSlot: with maxPolecats 1 and another polecat of
// the rig live, the revision a review asks for waits for the slot, then
// starts once the slot is free.
func TestARevisionTakesAPolecatSlot(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	update(t, "", f.rig, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Settings.MaxPolecats = 1 })
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")

	// A polecat made by hand for the rig: its pod stays Pending here, so
	// it holds the rig's one slot.
	blocker := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "hand-made", Namespace: f.ns},
		Spec: gastownv1.PolecatSpec{Rig: f.rig, DesiredState: gastownv1.DesiredWorking,
			ExecutionMode: gastownv1.ExecutionModeKubernetes, TaskDescription: "hold the slot",
			Kubernetes: &gastownv1.PolecatKubernetes{Image: "registry.example.com/agent:1"}},
	}
	g.Expect(k8s.Create(context.Background(), blocker)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, f.ns, "hand-made", &gastownv1.Polecat{}).Status.Phase).To(Equal(gastownv1.PolecatPhasePending))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	g.Expect(f.emu.API.RequestChanges("org", "app", pr.Number, "alice", "Please say hello.", nil)).To(Succeed())
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Gate).To(Equal("alice requested changes; the revision waits for a polecat slot"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(polecatNames(g, f.ns)).To(Equal([]string{"gt-a", "hand-made"}), "no revision polecat over the limit")

	update(t, f.ns, "hand-made", &gastownv1.Polecat{}, func(pc *gastownv1.Polecat) { pc.Spec.DesiredState = gastownv1.DesiredTerminated })
	f.revision(t, "gt-a-rev-1")
}

// TestAFailedRevisionIsNoticedOnThePullRequest: a revision polecat that
// fails says so on the pull request, in the Refinery's one comment, which
// the next failure edits rather than adding another.
func TestAFailedRevisionIsNoticedOnThePullRequest(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	update(t, "", f.rig, &gastownv1.Rig{}, func(r *gastownv1.Rig) {
		r.Spec.AgentConfig.Command = []string{"sh", "-c", `case "$GASTOWN_TASK" in *IMPOSSIBLE*) echo "cannot do that" >&2; exit 3;; esac; ` + scriptedAgent}
	})
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")

	g.Expect(f.emu.API.RequestChanges("org", "app", pr.Number, "alice", "IMPOSSIBLE: make it faster than light.", nil)).To(Succeed())
	g.Eventually(func(g Gomega) {
		n := f.notices(g, pr.Number)
		g.Expect(n).To(HaveLen(1))
		g.Expect(n[0]).To(ContainSubstring("polecat `gt-a-rev-1` (revision) failed: AgentFailed"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())

	g.Expect(f.emu.API.RequestChanges("org", "app", pr.Number, "alice", "Still IMPOSSIBLE, try again.", nil)).To(Succeed())
	g.Eventually(func(g Gomega) {
		n := f.notices(g, pr.Number)
		g.Expect(n).To(HaveLen(1), "one comment, edited")
		g.Expect(n[0]).To(ContainSubstring("gt-a-rev-1"))
		g.Expect(n[0]).To(ContainSubstring("polecat `gt-a-rev-2` (revision) failed"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestARefineryAuthenticatesAsAGitHubApp: with spec.github.appSecretRef the
// Refinery works as the app's installation (Flux's secret keys), and
// merges as it does with a token.
func TestARefineryAuthenticatesAsAGitHubApp(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, func(s *gastownv1.RefinerySpec) {
		s.GitHub.AppSecretRef = &meta.LocalObjectReference{Name: "github-app"}
	}, "gt-a")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	g.Expect(err).NotTo(HaveOccurred())
	f.emu.API.RegisterApp(1001, 2002, &key.PublicKey, time.Hour)
	secret(t, f.ns, "github-app", map[string]string{
		"githubAppID": "1001", "githubAppInstallationID": "2002",
		"githubAppPrivateKey": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
	})
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")
	f.green(t, pr)
	f.approve(t, pr)
	f.merged(t, "gt-a")
	g.Expect(f.emu.API.InstallationTokens()).To(Equal(1), "one installation token, reused")
}

// TestAnEscalationIsNoticedOnThePullRequest: a polecat on the bead's
// branch that the Witness escalates (stuck, its restarts used up) is named
// in the Refinery's comment on the pull request.
func TestAnEscalationIsNoticedOnThePullRequest(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")

	// A follow-up on the branch, in a pod, that never prints a thing.
	scriptOutput(t, f.ns, "gt-a-rev-7", silent)
	newWitness(t, f.ns, func(w *gastownv1.Witness) {
		w.Spec.RigRef = f.rig
		w.Spec.StuckThreshold = seconds(1)
		w.Spec.PendingTimeout = &metav1.Duration{Duration: time.Hour}
		w.Spec.MaxRestarts = ptr(int32(0))
	})
	customPolecat(t, f.ns, "gt-a-rev-7", func(pc *gastownv1.Polecat) {
		pc.Spec.Rig, pc.Spec.BeadID, pc.Spec.Purpose = f.rig, "gt-a", gastownv1.PurposeRevision
		pc.Spec.ExecutionMode = gastownv1.ExecutionModeKubernetes
		pc.Spec.Kubernetes.WorkBranch = "polecat/gt-a"
	})
	podRunning(t, f.ns, "polecat-gt-a-rev-7", "")

	g.Eventually(func(g Gomega) {
		notices := f.notices(g, pr.Number)
		g.Expect(notices).To(HaveLen(1))
		g.Expect(notices[0]).To(ContainSubstring("polecat `gt-a-rev-7`: Stuck, no output since"))
		g.Expect(notices[0]).To(ContainSubstring("the Witness escalated it"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
}

// notices are the Refinery's standing comments on pull request number.
func (f forge) notices(g Gomega, number int) []string {
	now, err := f.emu.API.PullRequest("org", "app", number)
	g.Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, c := range now.Comments {
		if strings.HasPrefix(c, "**Gas Town refinery**") {
			out = append(out, c)
		}
	}
	return out
}

// TestASuspendedRigStartsNoFollowUp: a suspended rig starts no polecats,
// the Refinery's revisions included; the revision starts once it resumes.
func TestASuspendedRigStartsNoFollowUp(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")

	update(t, "", f.rig, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Suspend = true })
	g.Expect(f.emu.API.RequestChanges("org", "app", pr.Number, "alice", "Please say hello.", nil)).To(Succeed())
	g.Eventually(func(g Gomega) {
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Gate).To(Equal("alice requested changes; the revision waits for the rig to resume (spec.suspend)"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(polecatNames(g, f.ns)).To(Equal([]string{"gt-a"}), "no revision polecat while suspended")

	update(t, "", f.rig, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Suspend = false })
	f.revision(t, "gt-a-rev-1")
}

// TestASecondAttemptHasRevisionsOfItsOwn: follow-ups are named after their
// attempt, so that the bead's second attempt, after the first one's pull
// request was closed, gets a revision polecat of its own rather than
// finding the first attempt's under the same name.
func TestASecondAttemptHasRevisionsOfItsOwn(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-a")
	f.bead(t, "gt-a", 2)
	f.dispatch(t)
	pr := f.pr(t, "gt-a")
	g.Expect(f.emu.API.RequestChanges("org", "app", pr.Number, "alice", "Please say hello.", nil)).To(Succeed())
	f.revision(t, "gt-a-rev-1")

	g.Expect(f.emu.API.ClosePullRequest("org", "app", pr.Number)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, f.ns, "gt-a", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseRejected))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	update(t, f.ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Description = "Say it differently." })
	var second githubemu.PullRequest
	g.Eventually(func(g Gomega) {
		prs, err := f.emu.API.PullRequests("org", "app")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(prs).To(HaveLen(2))
		second = prs[1]
		g.Expect(second.Number).NotTo(Equal(pr.Number))
		b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.Number).To(Equal(second.Number))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())

	g.Expect(f.emu.API.RequestChanges("org", "app", second.Number, "alice", "Say goodbye too.", nil)).To(Succeed())
	g.Expect(f.revision(t, "gt-a-2-rev-1").Spec.TaskDescription).To(ContainSubstring("Say goodbye too."))
	g.Expect(get(g, f.ns, "gt-a-rev-1", &gastownv1.Polecat{}).Spec.TaskDescription).To(ContainSubstring("Please say hello."),
		"the first attempt's revision is its own")
}

// TestAPullRequestTheForgeFailsOnStopsNoOther: GitHub fails on one bead's
// pull request (every read of it answers 404, as after a repository
// change); the other bead's still gates and merges, the failing one says
// so in the queue, and it merges once GitHub answers again.
func TestAPullRequestTheForgeFailsOnStopsNoOther(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, nil, "gt-lo", "gt-hi")
	_, hi := f.twoReady(t)
	// gt-hi would merge first; its pull request's every read fails.
	f.emu.API.FailNextMatching(http.MethodGet, fmt.Sprintf("/repos/org/app/pulls/%d", hi.Number), 1000000, http.StatusNotFound)
	f.suspendRefinery(t, false)

	f.merged(t, "gt-lo")
	g.Eventually(func(g Gomega) {
		ref := get(g, f.ns, f.ns, &gastownv1.Refinery{})
		g.Expect(conditions.GetReason(ref, meta.ReadyCondition)).To(Equal(gastownv1.ProviderErrorReason))
		g.Expect(conditions.GetMessage(ref, meta.ReadyCondition)).To(ContainSubstring("bead gt-hi: "))
		g.Expect(ref.Status.Queue).To(ContainElement(And(HaveField("Bead", "gt-hi"),
			HaveField("Gate", ContainSubstring("the forge failed, retried with backoff: ")))))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(get(g, f.ns, "gt-hi", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))

	f.emu.API.ClearFaults()
	f.merged(t, "gt-hi")
	g.Eventually(func(g Gomega) {
		g.Expect(conditions.IsReady(get(g, f.ns, f.ns, &gastownv1.Refinery{}))).To(BeTrue())
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
}
