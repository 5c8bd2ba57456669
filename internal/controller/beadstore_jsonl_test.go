package controller_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/beads/beadstest"
	"github.com/boshu2/gastown-operator/internal/controller"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

// issues is an issues.jsonl as bd writes it: child IDs, an epic blocked by
// an open task, a claimed bead, a merge request, a duplicated ID (the
// later line newer) and a dependency on an issue that is not in the file.
const issues = `{"id":"gt-x","title":"Add the store","status":"open","issue_type":"task","priority":1}
{"id":"gt-e","title":"Health epic","status":"open","issue_type":"epic","dependencies":[{"issue_id":"gt-e","depends_on_id":"gt-x","type":"blocks"}]}
{"id":"gt-e.1","title":"Add /health","status":"open","issue_type":"task","dependencies":[{"issue_id":"gt-e.1","depends_on_id":"gt-e","type":"parent-child"}]}
{"id":"gt-e.1.1","title":"Test /health","status":"open","issue_type":"task","dependencies":[{"issue_id":"gt-e.1.1","depends_on_id":"gt-e.1","type":"parent-child"}]}
{"id":"gt-w","title":"Someone's","status":"in_progress","issue_type":"bug"}
{"id":"gt-mr","title":"Merge polecat/gt-w","status":"open","issue_type":"merge-request"}
{"id":"gt-d","title":"Old copy","status":"open","updated_at":"2025-01-01T00:00:00Z"}
{"id":"gt-d","title":"New copy","status":"open","updated_at":"2025-02-01T00:00:00Z","dependencies":[{"issue_id":"gt-d","depends_on_id":"gt-gone","type":"blocks"}]}
`

func TestBeadStoreSyncsBeadsJSONLWithBdRules(t *testing.T) {
	g := NewWithT(t)
	f := newStoreFixture(t)
	update(t, f.ns, f.ns, &gastownv1.BeadStore{}, func(s *gastownv1.BeadStore) { s.Spec.Format = gastownv1.FormatBeadsJSONL })

	rev1 := f.set(map[string]string{".beads/issues.jsonl": issues})
	child := gastownv1.BeadObjectName("gt-e.1")
	grandchild := gastownv1.BeadObjectName("gt-e.1.1")
	g.Expect(child).To(MatchRegexp(`^gt-e-1-[0-9a-f]{8}$`))
	phase := func(g Gomega, name string) gastownv1.BeadPhase {
		return get(g, f.ns, name, &gastownv1.Bead{}).Status.Phase
	}
	reason := func(g Gomega, name string) string {
		return conditions.GetReason(get(g, f.ns, name, &gastownv1.Bead{}), meta.ReadyCondition)
	}
	g.Eventually(func(g Gomega) {
		store := storeSynced(g, f.ns, rev1)
		g.Expect(store.Status.IssueCount).To(BeEquivalentTo(7))
		g.Expect(store.Status.ErrorCount).To(BeZero())
		g.Expect(store.Status.WarningCount).To(BeEquivalentTo(2))
		g.Expect(store.Status.Warnings).To(ContainElement(ContainSubstring(`duplicate bead ID "gt-d" (also on line 7): the copy on line 8 is used`)))
		g.Expect(conditions.IsTrue(store, gastownv1.BeadsValidCondition)).To(BeTrue())
		g.Expect(beadNames(g, f.ns)).To(ConsistOf("gt-x", "gt-e", child, grandchild, "gt-w", "gt-mr", "gt-d"))

		b := get(g, f.ns, child, &gastownv1.Bead{})
		g.Expect(b.Spec.ID).To(Equal("gt-e.1"))
		g.Expect(b.Labels[gastownv1.BeadLabel]).To(Equal("gt-e.1"))
		g.Expect(b.Spec.Parents).To(Equal([]string{"gt-e"}))
		g.Expect(get(g, f.ns, "gt-d", &gastownv1.Bead{}).Spec.Title).To(Equal("New copy"))

		// An epic blocked by an open task holds its children down the tree.
		g.Expect(phase(g, "gt-x")).To(Equal(gastownv1.BeadPhaseReady))
		g.Expect(phase(g, "gt-e")).To(Equal(gastownv1.BeadPhaseBlocked))
		g.Expect(phase(g, child)).To(Equal(gastownv1.BeadPhaseBlocked))
		g.Expect(phase(g, grandchild)).To(Equal(gastownv1.BeadPhaseBlocked))
		// Someone's, and not work.
		g.Expect(phase(g, "gt-w")).To(Equal(gastownv1.BeadPhaseOpen))
		g.Expect(reason(g, "gt-w")).To(Equal(dispatch.ClaimedReason))
		g.Expect(phase(g, "gt-mr")).To(Equal(gastownv1.BeadPhaseOpen))
		g.Expect(reason(g, "gt-mr")).To(Equal(dispatch.NotWorkReason))
		// A missing dependency blocks nothing.
		g.Expect(phase(g, "gt-d")).To(Equal(gastownv1.BeadPhaseReady))
		// The operator has work to do for a blocked or ready bead, none
		// for an open one.
		for name, reconciling := range map[string]bool{"gt-e": true, "gt-d": true, "gt-w": false, "gt-mr": false} {
			b := get(g, f.ns, name, &gastownv1.Bead{})
			g.Expect(conditions.IsReconciling(b)).To(Equal(reconciling), "bead %s: %+v", name, b.Status.Conditions)
			g.Expect(conditions.IsFalse(b, meta.ReadyCondition)).To(BeTrue())
		}
	}, "20s").Should(Succeed())

	// gt-x closes: the open epic no longer holds its children, and is not
	// dispatched itself. A broken line keeps its bead as it was.
	closedX := `{"id":"gt-x","title":"Add the store","status":"closed","issue_type":"task","priority":1,"closed_at":"2025-03-01T00:00:00Z"}`
	lines := splitLines(issues)
	lines[0] = closedX
	lines[4] = `{"id":"gt-w","title":"Someone's","status":"in_progress","priority":"high"}`
	rev2 := f.set(map[string]string{".beads/issues.jsonl": joinLines(lines)})
	g.Eventually(func(g Gomega) {
		store := storeSynced(g, f.ns, rev2)
		g.Expect(store.Status.ErrorCount).To(BeEquivalentTo(1))
		g.Expect(store.Status.Errors).To(ConsistOf(".beads/issues.jsonl:5: priority: expected an integer, got a string"))
		g.Expect(beadNames(g, f.ns)).To(ContainElement("gt-w"))
		g.Expect(get(g, f.ns, "gt-w", &gastownv1.Bead{}).Annotations[controller.SourceErrorAnnotation]).To(ContainSubstring("issues.jsonl:5"))

		g.Expect(phase(g, "gt-e")).To(Equal(gastownv1.BeadPhaseOpen))
		g.Expect(reason(g, "gt-e")).To(Equal(dispatch.EpicReason))
		g.Expect(phase(g, child)).To(Equal(gastownv1.BeadPhaseReady))
		g.Expect(phase(g, grandchild)).To(Equal(gastownv1.BeadPhaseReady))
	}, "20s").Should(Succeed())
}

// A real issues.jsonl (841 beads of blocks, parent-child and related
// dependencies) is synced in an order that gives each bead its phase for
// the revision at once: one status write a bead, none first Ready and then
// Blocked once its blocker is written. The beads the cluster has Ready are
// those bd's rules make ready in the file.
func TestARealIssuesFileWritesEachBeadsStatusOnce(t *testing.T) {
	const corpusFile = "NewWinHilton__beads"
	data := beadstest.Read(t, corpusFile)
	g := NewWithT(t)
	f := newStoreFixture(t)
	update(t, f.ns, f.ns, &gastownv1.BeadStore{}, func(s *gastownv1.BeadStore) { s.Spec.Format = gastownv1.FormatBeadsJSONL })
	set, err := beads.Load(fstest.MapFS{".beads/issues.jsonl": {Data: data}}, ".beads", beads.Options{Format: gastownv1.FormatBeadsJSONL})
	g.Expect(err).NotTo(HaveOccurred())
	good, _ := set.Good()
	specs := make([]*gastownv1.BeadSpec, len(good))
	for i := range good {
		specs[i] = &good[i].Spec
	}
	var wantReady []string
	for _, s := range dispatch.Ready(specs, nil) {
		wantReady = append(wantReady, gastownv1.BeadObjectName(s.ID))
	}
	g.Expect(wantReady).NotTo(BeEmpty())

	before := statusWrites("Bead", f.ns)
	rev := f.set(map[string]string{".beads/issues.jsonl": string(data)})
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev)
		list := &gastownv1.BeadList{}
		g.Expect(env.Client.List(context.Background(), list, client.InNamespace(f.ns))).To(Succeed())
		g.Expect(list.Items).To(HaveLen(len(good)))
		var ready []string
		for _, b := range list.Items {
			g.Expect(b.Status.ObservedGeneration).To(Equal(b.Generation), "bead %s", b.Name)
			if b.Status.Phase == gastownv1.BeadPhaseReady {
				ready = append(ready, b.Name)
			}
		}
		g.Expect(ready).To(ConsistOf(wantReady))
	}, 60*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(statusWrites("Bead", f.ns)-before).To(Equal(len(good)), "status writes of the %d beads of %s", len(good), corpusFile)
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		out = append(out, l)
	}
	return out
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") + "\n" }
