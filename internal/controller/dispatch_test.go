package controller_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

// dispatchRig is a rig without a source whose polecats run a custom agent
// in pods (no secrets needed).
func dispatchRig(t *testing.T, ns string, maxPolecats, maxRetries int32, mutate ...func(*gastownv1.Rig)) *gastownv1.Rig {
	return rig(t, ns, func(r *gastownv1.Rig) {
		r.Spec.Agent = gastownv1.AgentCustom
		r.Spec.AgentConfig = &gastownv1.AgentConfig{Image: "busybox:1.36", Command: []string{"sh", "-c", "date > stamp"}}
		r.Spec.Settings.MaxPolecats = maxPolecats
		r.Spec.Settings.MaxRetries = ptr(maxRetries)
		for _, m := range mutate {
			m(r)
		}
	})
}

func handBead(t *testing.T, ns, rigName, name string, priority int32, deps ...string) {
	t.Helper()
	b := &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: gastownv1.BeadSpec{RigRef: rigName, Title: "work on " + name, Priority: ptr(priority),
			Description: "Do " + name + " well.", Acceptance: name + " is done.",
			DependsOn: deps, SourcePath: ".gastown/" + name + ".yaml"},
	}
	if err := k8s.Create(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func polecatNames(g Gomega, ns string) []string {
	list := &gastownv1.PolecatList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var names []string
	for _, pc := range list.Items {
		names = append(names, pc.Name)
	}
	sort.Strings(names)
	return names
}

func pushed(bead string) string {
	return resultJSON(gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, Branch: "polecat/" + bead,
		Commit: "c0ffee" + bead, FilesChanged: 1, Summary: "did " + bead})
}

func TestDispatchOrdersBeadsWithinLimits(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	r := dispatchRig(t, ns, 2, 2)
	// gt-c (priority 0) and gt-d share a convoy of parallelism 1; gt-b waits for gt-a.
	handBead(t, ns, r.Name, "gt-a", 1)
	handBead(t, ns, r.Name, "gt-b", 0, "gt-a")
	handBead(t, ns, r.Name, "gt-c", 0)
	handBead(t, ns, r.Name, "gt-d", 3)
	handBead(t, ns, r.Name, "gt-e", 4)
	cv := &gastownv1.Convoy{ObjectMeta: metav1.ObjectMeta{Name: "pair", Namespace: ns},
		Spec: gastownv1.ConvoySpec{RigRef: r.Name, TrackedBeads: []string{"gt-c", "gt-d"}, Parallelism: 1}}
	g.Expect(k8s.Create(context.Background(), cv)).To(Succeed())

	// Wave 1: the two best ready beads; gt-b is blocked, gt-d waits for its convoy.
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a", "gt-c"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(HaveLen(2), "the rig's limit holds")
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "gt-b", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseBlocked))
		g.Expect(get(g, ns, "gt-a", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseWorking))
		rg := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(rg.Status.PolecatCount).To(BeEquivalentTo(2))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// gt-c's pod pushes: its slot frees and gt-d (same convoy) starts; gt-e waits for a slot.
	podFinished(t, ns, "polecat-gt-c", 0, pushed("gt-c"), nil)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a", "gt-c", "gt-d"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// The result lands in the Polecat and Bead status.
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "gt-c", &gastownv1.Polecat{})
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded))
		g.Expect(pc.Status.Result).To(HaveField("Summary", "did gt-c"))
		b := get(g, ns, "gt-c", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseInReview))
		g.Expect(b.Status.Branch).To(Equal("polecat/gt-c"))
		g.Expect(b.Status.Commit).To(Equal("c0ffeegt-c"))
		g.Expect(b.Status.Result).To(HaveField("Summary", "did gt-c"))
		g.Expect(b.Status.Dispatch).To(HaveField("Attempts", BeEquivalentTo(1)))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// gt-a's work merges and closes in git: gt-b becomes ready and runs.
	podFinished(t, ns, "polecat-gt-a", 0, pushed("gt-a"), nil)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a", "gt-c", "gt-d", "gt-e"}), "gt-e takes the freed slot; gt-b is still blocked")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	update(t, ns, "gt-a", &gastownv1.Bead{}, func(b *gastownv1.Bead) { b.Spec.Status = gastownv1.BeadClosed })
	podFinished(t, ns, "polecat-gt-d", 0, pushed("gt-d"), nil)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(ContainElement("gt-b"))
		g.Expect(get(g, ns, "gt-a", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseClosed))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

func TestFailedPolecatIsRetriedThenTheBeadFails(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	r := dispatchRig(t, ns, 3, 1)
	handBead(t, ns, r.Name, "gt-flaky", 2)
	failed := resultJSON(gastownv1.PolecatResult{Outcome: gastownv1.OutcomeAgentFailed, Message: "the agent gave up"})

	g.Eventually(func(g Gomega) { get(g, ns, "gt-flaky", &gastownv1.Polecat{}) }, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	podFinished(t, ns, "polecat-gt-flaky", 11, failed, nil)

	// After the backoff, attempt 2 runs under the next deterministic name.
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-flaky", "gt-flaky-2"}))
		g.Expect(get(g, ns, "gt-flaky", &gastownv1.Bead{}).Status.Dispatch).To(HaveField("Attempts", BeEquivalentTo(2)))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	podFinished(t, ns, "polecat-gt-flaky-2", 11, failed, nil)

	g.Eventually(func(g Gomega) {
		b := get(g, ns, "gt-flaky", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseFailed))
		g.Expect(conditions.GetReason(b, meta.StalledCondition)).To(Equal(gastownv1.RetriesExhaustedReason))
		g.Expect(conditions.GetMessage(b, meta.ReadyCondition)).To(ContainSubstring("2 attempts failed, last: AgentFailed: the agent gave up"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(HaveLen(2), "no third attempt")
	}, 3*time.Second, 300*time.Millisecond).Should(Succeed())

	// The retry annotation makes it dispatchable again.
	update(t, ns, "gt-flaky", &gastownv1.Bead{}, func(b *gastownv1.Bead) {
		b.Annotations = map[string]string{gastownv1.RetryAnnotation: "after-fix"}
	})
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-flaky", "gt-flaky-2", "gt-flaky-3"}))
		b := get(g, ns, "gt-flaky", &gastownv1.Bead{})
		g.Expect(b.Status.Dispatch).To(HaveField("Attempts", BeEquivalentTo(1)))
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseWorking))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestRestartMidDispatchCreatesNoTwin starts from what a manager that died
// between creating a polecat and recording it leaves behind: the polecat
// exists under its deterministic name and the bead has no dispatch record.
func TestRestartMidDispatchCreatesNoTwin(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	// Created suspended: a rig suspended afterwards may dispatch from the
	// cached, unsuspended spec first.
	r := dispatchRig(t, ns, 2, 2, func(r *gastownv1.Rig) { r.Spec.Suspend = true })
	for _, name := range []string{"gt-1", "gt-2", "gt-3"} {
		handBead(t, ns, r.Name, name, 2)
	}
	one := get(g, ns, "gt-1", &gastownv1.Bead{})
	orphan := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-1", Namespace: ns,
			Labels:          map[string]string{gastownv1.RigLabel: r.Name, gastownv1.BeadLabel: "gt-1"},
			Annotations:     map[string]string{dispatch.SpecHashAnnotation: one.Spec.Hash(), dispatch.RetryAnnotation: ""},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(one, gastownv1.GroupVersion.WithKind("Bead"))}},
		Spec: gastownv1.PolecatSpec{Rig: r.Name, BeadID: "gt-1", Purpose: gastownv1.PurposeWork},
	}
	g.Expect(env.Client.Create(context.Background(), orphan)).To(Succeed())

	update(t, "", r.Name, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Suspend = false })

	g.Eventually(func(g Gomega) {
		names := polecatNames(g, ns)
		g.Expect(names).To(HaveLen(2), "the orphan takes a slot")
		g.Expect(names).To(ContainElement("gt-1"))
		g.Expect(names).NotTo(ContainElement("gt-1-2"), "no twin for gt-1")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(HaveLen(2))
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(get(g, ns, "gt-1", &gastownv1.Polecat{}).UID).To(Equal(orphan.UID), "adopted, not recreated")
}

// The Rig counts a rig's polecats from its cache, and asks the API server
// only when the cache misses a polecat this manager created: maxPolecats
// holds either way, and a cache that shows them all costs no LIST.
func TestDispatchListsTheAPIServerOnlyWhenTheCacheMissesItsPolecats(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	r := dispatchRig(t, ns, 1, 2)
	handBead(t, ns, r.Name, "gt-1", 2)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-1"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// The cache has not seen gt-1 yet: a ready gt-2 seems to have a slot,
	// and the API server says it has not. (The rig's first count in the
	// manager, gt-1's, was the API server's too.)
	gt1 := client.ObjectKey{Namespace: ns, Name: "gt-1"}
	rigCache.hide(gt1, true)
	lists := rigLists.of(ns)
	handBead(t, ns, r.Name, "gt-2", 2)
	g.Eventually(func(g Gomega) {
		g.Expect(rigLists.of(ns)).To(BeNumerically(">", lists), "the pass that would create gt-2 asks the API server")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-1"}), "maxPolecats 1 holds")
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())

	// The cache catches up, and gt-1 finishes: gt-2 takes the slot on the
	// cache's count alone.
	rigCache.hide(gt1, false)
	lists = rigLists.of(ns)
	podFinished(t, ns, "polecat-gt-1", 0, pushed("gt-1"), nil)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-1", "gt-2"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(rigLists.of(ns)).To(Equal(lists), "no LIST once the cache shows every polecat made")
}

// A Ready bead records since when; the polecat the Rig makes for it
// carries that time, where its dispatch latency starts.
func TestAPolecatCarriesWhenItsBeadBecameReady(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	r := dispatchRig(t, ns, 1, 2, func(r *gastownv1.Rig) { r.Spec.Suspend = true })
	handBead(t, ns, r.Name, "gt-1", 2)
	var since *metav1.Time
	g.Eventually(func(g Gomega) {
		b := get(g, ns, "gt-1", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseReady))
		g.Expect(b.Status.ReadySince).NotTo(BeNil())
		since = b.Status.ReadySince
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	update(t, "", r.Name, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Suspend = false })
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "gt-1", &gastownv1.Polecat{})
		g.Expect(pc.Annotations).To(HaveKeyWithValue(dispatch.ReadySinceAnnotation, since.UTC().Format(time.RFC3339)))
		b := get(g, ns, "gt-1", &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseWorking))
		g.Expect(b.Status.ReadySince).To(BeNil(), "only a Ready bead has it")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestRigKeepsItsRunningPolecatsWhenItsSourceGoesAway: a GitRepository
// that is gone for a while (deleted and applied again, as a Flux reinstall
// does) neither fails the polecats that run nor starts new ones: the rig
// keeps the git URL it recorded, and dispatch waits for the source.
func TestRigKeepsItsRunningPolecatsWhenItsSourceGoesAway(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	const url = "https://git.example.com/org/app.git"
	repo := gitRepository(t, ns, "app")
	artifactURL, digest, rev := publish(t, map[string]string{".gastown/README.md": "no beads here\n"})
	setArtifact(t, ns, "app", artifactURL, digest, rev)
	r := dispatchRig(t, ns, 5, 2, func(r *gastownv1.Rig) {
		r.Spec.GitURL = ""
		r.Spec.SourceRef = &gastownv1.SourceReference{Kind: "GitRepository", Name: "app", Namespace: ns}
	})
	handBead(t, ns, r.Name, "gt-a", 1)
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, "", r.Name, &gastownv1.Rig{}).Status.GitURL).To(Equal(url))
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a"}), "the first polecat is made with the rig's URL recorded")
		g.Expect(get(g, ns, "polecat-gt-a", &corev1.Pod{}).Spec.InitContainers).NotTo(BeEmpty())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	g.Expect(env.Client.Delete(context.Background(), repo)).To(Succeed())
	g.Eventually(func(g Gomega) {
		rg := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.GetReason(rg, meta.ReadyCondition)).To(Equal(gastownv1.SourceNotFoundReason))
		g.Expect(rg.Status.GitURL).To(Equal(url), "the URL its polecats were made with")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	handBead(t, ns, r.Name, "gt-b", 1)

	// The running polecat's pod starts: the polecat works on, and is not
	// resolved again against the rig.
	g.Eventually(func(g Gomega) {
		pod := get(g, ns, "polecat-gt-a", &corev1.Pod{})
		pod.Status.Phase = corev1.PodRunning
		g.Expect(env.Client.Status().Update(context.Background(), pod)).To(Succeed())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "gt-a", &gastownv1.Polecat{})
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseWorking), "%+v", pc.Status.Conditions)
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a"}), "no dispatch without the source")
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())

	// The source comes back: gt-b is dispatched.
	gitRepository(t, ns, "app")
	setArtifact(t, ns, "app", artifactURL, digest, rev)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a", "gt-b"}))
		g.Expect(get(g, ns, "gt-a", &gastownv1.Polecat{}).Status.Phase).To(Equal(gastownv1.PolecatPhaseWorking))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// A source edit that leaves the rig without a usable URL (one with
	// credentials) stalls the rig, not the run: gt-a's pod, made before,
	// goes on, and its next state is mapped.
	update(t, ns, "app", &sourcev1.GitRepository{}, func(r *sourcev1.GitRepository) {
		r.Spec.URL = "https://bot:s3cret@git.example.com/org/app.git"
	})
	g.Eventually(func(g Gomega) {
		rg := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.IsStalled(rg)).To(BeTrue())
		g.Expect(rg.Status.GitURL).To(BeEmpty())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	podFinished(t, ns, "polecat-gt-a", 0, pushed("gt-a"), nil)
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "gt-a", &gastownv1.Polecat{})
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "%+v", pc.Status.Conditions)
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestRigsSharingANamespaceTakeNoNameOfTheOther: bead gt-x of one rig
// fails its first run; its second would be gt-x-2, the name of the other
// rig's bead gt-x-2 and its first run's. Each bead gets runs of its own.
func TestRigsSharingANamespaceTakeNoNameOfTheOther(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	a := dispatchRig(t, ns, 2, 2)
	b := dispatchRig(t, ns, 2, 2, func(r *gastownv1.Rig) {
		r.Name = ns + "-b"
		r.Spec.Suspend = true
	})
	handBead(t, ns, b.Name, "gt-x-2", 2)
	handBead(t, ns, a.Name, "gt-x", 2)
	g.Eventually(func(g Gomega) { get(g, ns, "gt-x", &gastownv1.Polecat{}) }, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	podFinished(t, ns, "polecat-gt-x", 11, resultJSON(gastownv1.PolecatResult{Outcome: gastownv1.OutcomeAgentFailed, Message: "gave up"}), nil)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-x", "gt-x-3"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	update(t, "", b.Name, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Suspend = false })
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-x", "gt-x-2", "gt-x-3"}))
		g.Expect(get(g, ns, "gt-x-2", &gastownv1.Bead{}).Status.Dispatch).To(HaveField("Polecat", "gt-x-2"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	for polecat, bead := range map[string]string{"gt-x-2": "gt-x-2", "gt-x-3": "gt-x"} {
		pc := get(g, ns, polecat, &gastownv1.Polecat{})
		g.Expect(pc.Spec.BeadID).To(Equal(bead), "polecat %s", polecat)
	}
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "gt-x", &gastownv1.Bead{}).Status.Dispatch).To(HaveField("Polecat", "gt-x-3"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestRigAdoptsNoPolecatOfAnotherBead: the cache has not seen polecat
// gt-z, made by hand for another rig's bead, when bead gt-z is decided:
// the create finds it, the Rig says whose it is instead of taking it for
// gt-z's run, and the next pass, once the cache shows it, names another.
func TestRigAdoptsNoPolecatOfAnotherBead(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	a := dispatchRig(t, ns, 2, 2, func(r *gastownv1.Rig) { r.Spec.Suspend = true })
	b := dispatchRig(t, ns, 2, 2, func(r *gastownv1.Rig) {
		r.Name = ns + "-b"
		r.Spec.Suspend = true
	})
	handBead(t, ns, b.Name, "gt-other", 2)
	other := get(g, ns, "gt-other", &gastownv1.Bead{})
	stranger := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-z", Namespace: ns,
			Labels:          map[string]string{gastownv1.RigLabel: b.Name, gastownv1.BeadLabel: "gt-other"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(other, gastownv1.GroupVersion.WithKind("Bead"))}},
		Spec: gastownv1.PolecatSpec{Rig: b.Name, BeadID: "gt-other", Purpose: gastownv1.PurposeWork},
	}
	key := client.ObjectKeyFromObject(stranger)
	rigCache.hide(key, true)
	g.Expect(env.Client.Create(context.Background(), stranger)).To(Succeed())
	handBead(t, ns, a.Name, "gt-z", 2)
	update(t, "", a.Name, &gastownv1.Rig{}, func(r *gastownv1.Rig) { r.Spec.Suspend = false })

	g.Eventually(func(g Gomega) {
		g.Expect(conditions.GetMessage(get(g, "", a.Name, &gastownv1.Rig{}), meta.ReadyCondition)).To(
			ContainSubstring("polecat gt-z, bead gt-z's next run, is taken by bead gt-other of rig " + b.Name))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(get(g, ns, "gt-z", &gastownv1.Bead{}).Status.Dispatch).To(BeNil(), "not adopted")

	rigCache.hide(key, false)
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-z", "gt-z-2"}))
		g.Expect(get(g, ns, "gt-z", &gastownv1.Bead{}).Status.Dispatch).To(HaveField("Polecat", "gt-z-2"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(get(g, ns, "gt-z", &gastownv1.Polecat{}).Spec.BeadID).To(Equal("gt-other"))
}
