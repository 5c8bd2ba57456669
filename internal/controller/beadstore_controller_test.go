package controller_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/controller"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

const (
	beadA = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-a
spec:
  title: First task
  priority: 1
`
	beadB = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-b
spec:
  title: Second task
  dependsOn: [gt-a]
`
	beadsCD = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-c
spec:
  title: Third task
---
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-d
spec:
  title: Fourth task
`
	convoyAB = `apiVersion: gastown.gastown.io/v1alpha1
kind: Convoy
metadata:
  name: sprint
spec:
  trackedBeads: [gt-a, gt-b]
  parallelism: 1
`
	convoyCD = `apiVersion: gastown.gastown.io/v1alpha1
kind: Convoy
metadata:
  name: cleanup
spec:
  trackedBeads: [gt-c, gt-d]
`
)

// storeFixture is a rig (dispatch suspended: these tests look at intake
// only) with a GitRepository and the BeadStore the rig creates.
type storeFixture struct {
	ns  string
	set func(files map[string]string) string
}

func newStoreFixture(t *testing.T) storeFixture {
	ns := env.Namespace(t)
	gitRepository(t, ns, "app")
	rig(t, ns, func(r *gastownv1.Rig) {
		r.Spec.GitURL = ""
		r.Spec.SourceRef = &gastownv1.SourceReference{Kind: "GitRepository", Name: "app", Namespace: ns}
		r.Spec.Suspend = true
	})
	return storeFixture{ns: ns, set: func(files map[string]string) string {
		url, digest, rev := publish(t, files)
		setArtifact(t, ns, "app", url, digest, rev)
		return rev
	}}
}

func storeSynced(g Gomega, ns, revision string) *gastownv1.BeadStore {
	store := get(g, ns, ns, &gastownv1.BeadStore{})
	g.Expect(store.Status.LastAppliedRevision).To(Equal(revision), "%v", store.Status.Conditions)
	return store
}

func beadNames(g Gomega, ns string) []string {
	list := &gastownv1.BeadList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var names []string
	for _, b := range list.Items {
		if b.DeletionTimestamp == nil {
			names = append(names, b.Name)
		}
	}
	return names
}

func TestBeadStoreSyncsBeadsAndConvoysAndWritesOnlyChanges(t *testing.T) {
	g := NewWithT(t)
	f := newStoreFixture(t)

	rev1 := f.set(map[string]string{
		".gastown/a.yaml":       beadA,
		".gastown/b.yaml":       beadB,
		".gastown/more/cd.yaml": beadsCD,
		".gastown/convoys.yaml": convoyAB + "---\n" + convoyCD,
		".gastown/README.md":    "not a bead file",
		"src/main.go":           "package main",
	})
	g.Eventually(func(g Gomega) {
		store := storeSynced(g, f.ns, rev1)
		g.Expect(store.Status.IssueCount).To(BeEquivalentTo(4))
		g.Expect(store.Status.ConvoyCount).To(BeEquivalentTo(2))
		g.Expect(conditions.IsReady(store)).To(BeTrue())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(beadNames(g, f.ns)).To(ConsistOf("gt-a", "gt-b", "gt-c", "gt-d"))

	b := get(g, f.ns, "gt-b", &gastownv1.Bead{})
	g.Expect(b.Spec.RigRef).To(Equal(f.ns))
	g.Expect(b.Spec.SourcePath).To(Equal(".gastown/b.yaml"))
	g.Expect(b.Spec.DependsOn).To(Equal([]string{"gt-a"}))
	g.Expect(*b.Spec.Priority).To(BeEquivalentTo(2))
	g.Expect(b.Labels).To(HaveKeyWithValue(gastownv1.RigLabel, f.ns))
	g.Expect(b.OwnerReferences).To(HaveLen(1))
	g.Expect(b.OwnerReferences[0].Kind).To(Equal("BeadStore"))
	sprint := get(g, f.ns, "sprint", &gastownv1.Convoy{})
	g.Expect(sprint.Spec.TrackedBeads).To(Equal([]string{"gt-a", "gt-b"}))
	g.Expect(sprint.Spec.RigRef).To(Equal(f.ns))
	storeWrites.take(f.ns)

	// Cluster-side state survives spec updates.
	a := get(g, f.ns, "gt-a", &gastownv1.Bead{})
	a.Status.LastHandledReconcileAt = "kept"
	g.Expect(env.Client.Status().Update(context.Background(), a)).To(Succeed())
	// So does a person's annotation.
	a = get(g, f.ns, "gt-a", &gastownv1.Bead{})
	annotate := client.MergeFrom(a.DeepCopy())
	a.Annotations["example.com/note"] = "kept"
	g.Expect(env.Client.Patch(context.Background(), a, annotate)).To(Succeed())
	storeCacheHoldsBeads(g, f.ns)

	// Revision 2 edits gt-a, drops gt-b's dependency, deletes gt-d and adds
	// gt-e.
	rev2 := f.set(map[string]string{
		".gastown/a.yaml":       strings.Replace(beadA, "First task", "First task, reworded", 1),
		".gastown/b.yaml":       strings.Replace(beadB, "  dependsOn: [gt-a]\n", "", 1),
		".gastown/more/cd.yaml": strings.SplitN(beadsCD, "---\n", 2)[0],
		".gastown/e.yaml":       strings.ReplaceAll(beadA, "gt-a", "gt-e"),
		".gastown/convoys.yaml": convoyAB + "---\n" + strings.Replace(convoyCD, "[gt-c, gt-d]", "[gt-c]", 1),
	})
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev2)
		g.Expect(beadNames(g, f.ns)).To(ConsistOf("gt-a", "gt-b", "gt-c", "gt-e"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(storeWrites.take(f.ns)).To(Equal([]string{
		"create Bead/gt-e",
		"delete Bead/gt-d",
		"patch Bead/gt-a",
		"patch Bead/gt-b",
		"patch Convoy/cleanup",
	}), "only the edited, added and deleted beads (and the edited convoy) are written")

	a = get(g, f.ns, "gt-a", &gastownv1.Bead{})
	g.Expect(a.Spec.Title).To(Equal("First task, reworded"))
	g.Expect(a.Status.LastHandledReconcileAt).To(Equal("kept"))
	g.Expect(a.Annotations).To(HaveKeyWithValue("example.com/note", "kept"))
	g.Expect(get(g, f.ns, "gt-b", &gastownv1.Bead{}).Spec.DependsOn).To(BeEmpty(), "a field the file no longer has goes")

	// A reconcile request with nothing changed writes nothing.
	storeCacheHoldsBeads(g, f.ns)
	requestReconcile(t, f.ns)
	g.Eventually(func(g Gomega) {
		store := get(g, f.ns, f.ns, &gastownv1.BeadStore{})
		g.Expect(store.Status.LastHandledReconcileAt).To(Equal("now-1"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(storeWrites.take(f.ns)).To(BeEmpty())
}

// storeCacheHoldsBeads waits until the store's cache has every bead of ns
// as the API server has it. The store patches a bead with its cached
// resourceVersion: a cache behind a write (the test's, a controller's)
// makes the patch conflict once and be sent again, which the write counts
// would show.
func storeCacheHoldsBeads(g Gomega, ns string) {
	versions := func(g Gomega, c client.Reader) map[string]string {
		list := &gastownv1.BeadList{}
		g.Expect(c.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
		rv := map[string]string{}
		for _, b := range list.Items {
			rv[b.Name] = b.ResourceVersion
		}
		return rv
	}
	g.Eventually(func(g Gomega) {
		g.Expect(versions(g, storeWrites)).To(Equal(versions(g, env.Client)))
	}, 20*time.Second, 50*time.Millisecond).Should(Succeed())
}

func requestReconcile(t *testing.T, ns string) {
	t.Helper()
	store := &gastownv1.BeadStore{}
	g := NewWithT(t)
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: ns}, store)).To(Succeed())
	patch := client.MergeFrom(store.DeepCopy())
	if store.Annotations == nil {
		store.Annotations = map[string]string{}
	}
	store.Annotations[meta.ReconcileRequestAnnotation] = "now-1"
	g.Expect(env.Client.Patch(context.Background(), store, patch)).To(Succeed())
}

func TestBeadStoreKeepsBeadsOfABrokenFile(t *testing.T) {
	g := NewWithT(t)
	f := newStoreFixture(t)
	// gt-c has text, which stays too.
	beadsCD := strings.Replace(beadsCD, "  title: Third task\n", "  title: Third task\n  description: Tidy the logs.\n  acceptance: No log line is repeated.\n", 1)
	rev1 := f.set(map[string]string{
		".gastown/a.yaml":  beadA,
		".gastown/b.yaml":  beadB,
		".gastown/cd.yaml": beadsCD,
	})
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev1)
		g.Expect(beadNames(g, f.ns)).To(HaveLen(4))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// cd.yaml breaks (an unknown field on line 7), a.yaml is edited.
	broken := strings.Replace(beadsCD, "  title: Third task\n", "  title: Third task\n  estimate: 3\n", 1)
	rev2 := f.set(map[string]string{
		".gastown/a.yaml":  strings.Replace(beadA, "First task", "First task v2", 1),
		".gastown/b.yaml":  beadB,
		".gastown/cd.yaml": broken,
	})
	g.Eventually(func(g Gomega) {
		store := storeSynced(g, f.ns, rev2)
		g.Expect(store.Status.ErrorCount).To(BeEquivalentTo(1))
		g.Expect(store.Status.Errors).To(HaveLen(1))
		g.Expect(store.Status.Errors[0]).To(HavePrefix(".gastown/cd.yaml:7: "))
		g.Expect(store.Status.Errors[0]).To(ContainSubstring("estimate"))
		g.Expect(conditions.IsFalse(store, gastownv1.BeadsValidCondition)).To(BeTrue())
		g.Expect(conditions.GetMessage(store, meta.ReadyCondition)).To(ContainSubstring(".gastown/cd.yaml:7"))
		g.Expect(store.Status.Phase).To(Equal(gastownv1.BeadStorePhaseError))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	g.Expect(beadNames(g, f.ns)).To(ConsistOf("gt-a", "gt-b", "gt-c", "gt-d"), "the broken file's beads are not pruned")
	g.Expect(get(g, f.ns, "gt-a", &gastownv1.Bead{}).Spec.Title).To(Equal("First task v2"), "good files still sync")
	c := get(g, f.ns, "gt-c", &gastownv1.Bead{})
	g.Expect(c.Spec.Title).To(Equal("Third task"), "the broken file's bead keeps its spec")
	g.Expect([]string{c.Spec.Description, c.Spec.Acceptance}).To(Equal([]string{"Tidy the logs.", "No log line is repeated."}), "and its text")
	g.Expect(c.Annotations[controller.SourceErrorAnnotation]).To(HavePrefix(".gastown/cd.yaml:7: "))
	g.Eventually(func(g Gomega) {
		c := get(g, f.ns, "gt-c", &gastownv1.Bead{})
		g.Expect(conditions.IsFalse(c, gastownv1.BeadsValidCondition)).To(BeTrue())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// A store with a broken file syncs at every pass; the beads it kept
	// are neither read again nor written.
	storeCacheHoldsBeads(g, f.ns)
	storeWrites.take(f.ns)
	storeReads.take(f.ns)
	requestReconcile(t, f.ns)
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, f.ns, f.ns, &gastownv1.BeadStore{}).Status.LastHandledReconcileAt).To(Equal("now-1"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(storeWrites.take(f.ns)).To(BeEmpty())
	g.Expect(storeReads.take(f.ns)).To(BeEmpty())

	// Fixing the file clears the mark.
	rev3 := f.set(map[string]string{".gastown/a.yaml": beadA, ".gastown/b.yaml": beadB, ".gastown/cd.yaml": beadsCD})
	g.Eventually(func(g Gomega) {
		store := storeSynced(g, f.ns, rev3)
		g.Expect(store.Status.ErrorCount).To(BeZero())
		g.Expect(get(g, f.ns, "gt-c", &gastownv1.Bead{}).Annotations).NotTo(HaveKey(controller.SourceErrorAnnotation))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// A bead's text follows its file: added, changed and removed.
func TestBeadStoreSyncsABeadsText(t *testing.T) {
	g := NewWithT(t)
	f := newStoreFixture(t)
	text := func(description, acceptance string) string {
		return beadA + "  description: " + description + "\n  acceptance: " + acceptance + "\n"
	}
	for i, tc := range []struct{ file, description, acceptance string }{
		{file: text("Ping the database.", "The ping answers."), description: "Ping the database.", acceptance: "The ping answers."},
		{file: text("Ping the database twice.", "Both pings answer."), description: "Ping the database twice.", acceptance: "Both pings answer."},
		{file: beadA},
	} {
		rev := f.set(map[string]string{".gastown/a.yaml": tc.file})
		g.Eventually(func(g Gomega) {
			storeSynced(g, f.ns, rev)
			a := get(g, f.ns, "gt-a", &gastownv1.Bead{})
			g.Expect([]string{a.Spec.Description, a.Spec.Acceptance}).To(Equal([]string{tc.description, tc.acceptance}), "revision %d", i+1)
		}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	}
}

// A download that does not match the artifact's digest syncs nothing, and
// is retried with the backoff, as Flux's controllers retry a fetch: once
// the download matches, the same artifact syncs.
func TestBeadStoreRefusesAnArtifactWithAWrongDigestAndRetriesIt(t *testing.T) {
	g := NewWithT(t)
	f := newStoreFixture(t)
	want, digest, rev := publish(t, map[string]string{".gastown/a.yaml": beadA})
	served, _, _ := publish(t, map[string]string{".gastown/b.yaml": beadB})
	setArtifact(t, f.ns, "app", served, digest, rev)

	g.Eventually(func(g Gomega) {
		store := get(g, f.ns, f.ns, &gastownv1.BeadStore{})
		g.Expect(conditions.GetReason(store, gastownv1.ArtifactFetchedCondition)).To(Equal(meta.ArtifactFailedReason))
		g.Expect(conditions.GetMessage(store, meta.ReadyCondition)).To(And(
			ContainSubstring("fetching revision "+rev),
			ContainSubstring("computed digest doesn't match provided '"+digest+"'")))
		g.Expect(store.Status.LastAppliedRevision).To(BeEmpty())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(beadNames(g, f.ns)).To(BeEmpty())
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed(), "nothing is synced")

	// The URL now serves the artifact the digest is of; the GitRepository
	// is unchanged.
	b, err := os.ReadFile(filepath.Join(artifacts.Root(), path.Base(want)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(filepath.Join(artifacts.Root(), path.Base(served)), b, 0o644)).To(Succeed())
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev)
		g.Expect(beadNames(g, f.ns)).To(Equal([]string{"gt-a"}))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
}

// storeView is what a BeadStore reconciler that a test runs itself reads:
// the apiserver, with the store not suspended (so that the manager's
// reconciler leaves it alone), and some beads as an out-of-date cache has
// them, nil for one it does not have yet.
type storeView struct {
	client.Client
	beads map[string]*gastownv1.Bead
}

func (v storeView) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if b, ok := obj.(*gastownv1.Bead); ok {
		if cached, seen := v.beads[key.Name]; seen {
			if cached == nil {
				return apierrors.NewNotFound(gastownv1.GroupVersion.WithResource("beads").GroupResource(), key.Name)
			}
			cached.DeepCopyInto(b)
			return nil
		}
	}
	if err := v.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if store, ok := obj.(*gastownv1.BeadStore); ok {
		store.Spec.Suspend = false
	}
	return nil
}

func (v storeView) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := v.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if beads, ok := list.(*gastownv1.BeadList); ok {
		var items []gastownv1.Bead
		for _, b := range beads.Items {
			cached, seen := v.beads[b.Name]
			switch {
			case !seen:
				items = append(items, b)
			case cached != nil:
				items = append(items, *cached.DeepCopy())
			}
		}
		beads.Items = items
	}
	return nil
}

// passOfItsOwn suspends f's store, publishes files and runs one pass of a
// BeadStore reconciler of the test's own that reads through view. It
// returns the object writes of the pass.
func passOfItsOwn(t *testing.T, f storeFixture, files map[string]string, view storeView) []string {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	store := get(g, f.ns, f.ns, &gastownv1.BeadStore{})
	suspend := client.MergeFrom(store.DeepCopy())
	store.Spec.Suspend = true
	g.Expect(env.Client.Patch(ctx, store, suspend)).To(Succeed())
	g.Eventually(func(g Gomega) {
		store := get(g, f.ns, f.ns, &gastownv1.BeadStore{})
		g.Expect(conditions.GetReason(store, meta.ReadyCondition)).To(Equal(meta.SuspendedReason))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	f.set(files)

	writes := &countingClient{Client: view, writes: map[string][]string{}}
	r := &controller.BeadStoreReconciler{Client: writes, APIReader: env.Client,
		EventRecorder: record.NewFakeRecorder(100), ArtifactRetries: 1}
	_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: f.ns, Name: f.ns}})
	g.Expect(err).NotTo(HaveOccurred())
	return writes.take(f.ns)
}

func TestBeadStoreUpdatesABeadItsCacheDoesNotHaveYet(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f := newStoreFixture(t)
	files := map[string]string{".gastown/a.yaml": beadA, ".gastown/b.yaml": beadB}
	rev := f.set(files)
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev)
		g.Expect(beadNames(g, f.ns)).To(HaveLen(2))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// gt-a changed behind the store's back.
	a := get(g, f.ns, "gt-a", &gastownv1.Bead{})
	edit := client.MergeFrom(a.DeepCopy())
	a.Spec.Title = "edited"
	a.Annotations[gastownv1.ContentHashAnnotation] = "edited"
	g.Expect(env.Client.Patch(ctx, a, edit)).To(Succeed())

	// A pass whose cache does not have gt-a yet, as after the pass that
	// created it, creates it: the apiserver says it exists, and the pass
	// updates it from the apiserver's copy.
	files["README.md"] = "a new revision"
	writes := passOfItsOwn(t, f, files, storeView{env.Client, map[string]*gastownv1.Bead{"gt-a": nil}})
	g.Expect(writes).To(Equal([]string{"create Bead/gt-a", "patch Bead/gt-a"}))
	g.Expect(get(g, f.ns, "gt-a", &gastownv1.Bead{}).Spec.Title).To(Equal("First task"))
}

func TestBeadStorePatchesNoBeadFromAnOutOfDateCopy(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f := newStoreFixture(t)
	noDeps := strings.Replace(beadB, "  dependsOn: [gt-a]\n", "", 1)
	rev := f.set(map[string]string{".gastown/a.yaml": beadA, ".gastown/b.yaml": noDeps})
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev)
		g.Expect(beadNames(g, f.ns)).To(HaveLen(2))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	cached := get(g, f.ns, "gt-b", &gastownv1.Bead{})

	// The last pass gave gt-b a dependency; the cache has not seen it.
	b := cached.DeepCopy()
	edit := client.MergeFrom(b.DeepCopy())
	b.Spec.DependsOn = []string{"gt-a"}
	b.Annotations[gastownv1.ContentHashAnnotation] = "last-pass"
	g.Expect(env.Client.Patch(ctx, b, edit)).To(Succeed())

	// The file drops it again and retitles the bead. A patch from the
	// cache's copy would not remove the dependency: it is refused, and the
	// pass patches the apiserver's copy.
	writes := passOfItsOwn(t, f, map[string]string{
		".gastown/a.yaml": beadA,
		".gastown/b.yaml": strings.Replace(noDeps, "Second task", "Second task, reworded", 1),
	}, storeView{env.Client, map[string]*gastownv1.Bead{"gt-b": cached}})
	g.Expect(writes).To(Equal([]string{"patch Bead/gt-b", "patch Bead/gt-b"}), "the refused patch, then the one from the apiserver's copy")
	b = get(g, f.ns, "gt-b", &gastownv1.Bead{})
	g.Expect(b.Spec.Title).To(Equal("Second task, reworded"))
	g.Expect(b.Spec.DependsOn).To(BeEmpty())
}

func TestBeadStoreAppliesTheFilesLabelsAndAnnotations(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f := newStoreFixture(t)
	labelled := func(metadata string) map[string]string {
		return map[string]string{".gastown/m.yaml": "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata:\n  name: gt-m\n" +
			metadata + "spec:\n  title: Labelled task\n"}
	}
	// The cache's own annotations are not the file's to set.
	rev := f.set(labelled("  labels: {team: payments, tier: \"1\"}\n  annotations: {gastown.gastown.io/retry: \"1\", " +
		dispatch.CachedSpecHashAnnotation + ": by-file, " + dispatch.OutlinedAnnotation + ": by-file}\n"))
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev)
		m := get(g, f.ns, "gt-m", &gastownv1.Bead{})
		g.Expect(m.Labels).To(HaveKeyWithValue("team", "payments"))
		g.Expect(m.Labels).To(HaveKeyWithValue("tier", "1"))
		g.Expect(m.Labels).To(HaveKeyWithValue(gastownv1.RigLabel, f.ns))
		g.Expect(m.Annotations).To(HaveKeyWithValue("gastown.gastown.io/retry", "1"))
		g.Expect(m.Annotations).NotTo(HaveKey(dispatch.CachedSpecHashAnnotation))
		g.Expect(m.Annotations).NotTo(HaveKey(dispatch.OutlinedAnnotation))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// A person's label and annotation.
	m := get(g, f.ns, "gt-m", &gastownv1.Bead{})
	mine := client.MergeFrom(m.DeepCopy())
	m.Labels["example.com/owner"] = "me"
	m.Annotations["example.com/note"] = "kept"
	g.Expect(env.Client.Patch(ctx, m, mine)).To(Succeed())

	// The file drops a label and changes the retry.
	rev = f.set(labelled("  labels: {team: payments}\n  annotations: {gastown.gastown.io/retry: \"2\"}\n"))
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev)
		m := get(g, f.ns, "gt-m", &gastownv1.Bead{})
		g.Expect(m.Labels).NotTo(HaveKey("tier"))
		g.Expect(m.Labels).To(HaveKeyWithValue("team", "payments"))
		g.Expect(m.Annotations).To(HaveKeyWithValue("gastown.gastown.io/retry", "2"))
		g.Expect(m.Labels).To(HaveKeyWithValue("example.com/owner", "me"))
		g.Expect(m.Annotations).To(HaveKeyWithValue("example.com/note", "kept"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// Then all its metadata: the person's stays.
	rev = f.set(labelled(""))
	g.Eventually(func(g Gomega) {
		storeSynced(g, f.ns, rev)
		m := get(g, f.ns, "gt-m", &gastownv1.Bead{})
		g.Expect(m.Labels).NotTo(HaveKey("team"))
		g.Expect(m.Annotations).NotTo(HaveKey("gastown.gastown.io/retry"))
		g.Expect(m.Labels).To(HaveKeyWithValue("example.com/owner", "me"))
		g.Expect(m.Annotations).To(HaveKeyWithValue("example.com/note", "kept"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

func TestBeadStoreSyncsTheOtherBeadsWhenOnesNameIsTaken(t *testing.T) {
	g := NewWithT(t)
	f := newStoreFixture(t)
	// Someone made a bead gt-b by hand.
	mine := &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-b", Namespace: f.ns},
		Spec:       gastownv1.BeadSpec{Title: "mine"},
	}
	g.Expect(env.Client.Create(context.Background(), mine)).To(Succeed())

	rev := f.set(map[string]string{".gastown/a.yaml": beadA, ".gastown/b.yaml": beadB, ".gastown/cd.yaml": beadsCD})
	g.Eventually(func(g Gomega) {
		store := get(g, f.ns, f.ns, &gastownv1.BeadStore{})
		ready := conditions.Get(store, meta.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Reason).To(Equal(gastownv1.SyncFailedReason))
		g.Expect(ready.Message).To(ContainSubstring("Bead " + f.ns + "/gt-b exists and is not managed by a BeadStore"))
		g.Expect(beadNames(g, f.ns)).To(ConsistOf("gt-a", "gt-b", "gt-c", "gt-d"), "the other beads of the revision are synced")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(get(g, f.ns, f.ns, &gastownv1.BeadStore{}).Status.LastAppliedRevision).NotTo(Equal(rev))
	b := get(g, f.ns, "gt-b", &gastownv1.Bead{})
	g.Expect(b.Spec.Title).To(Equal("mine"))
	g.Expect(b.OwnerReferences).To(BeEmpty())
}
