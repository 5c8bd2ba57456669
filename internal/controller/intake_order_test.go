package controller_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// intakeRig is a dispatching rig (pods, no secrets) whose beads come from
// the GitRepository app; set publishes a revision of it.
func intakeRig(t *testing.T) (ns string, set func(files map[string]string) string) {
	ns = env.Namespace(t)
	dumpOnFailure(t, ns)
	gitRepository(t, ns, "app")
	dispatchRig(t, ns, 5, 0, func(r *gastownv1.Rig) {
		r.Spec.GitURL = ""
		r.Spec.SourceRef = &gastownv1.SourceReference{Kind: "GitRepository", Name: "app", Namespace: ns}
	})
	return ns, func(files map[string]string) string {
		url, digest, rev := publish(t, files)
		setArtifact(t, ns, "app", url, digest, rev)
		return rev
	}
}

// syncFailedWith waits for the store's Ready to say its sync failed, with
// message in it, and for the beads of ns to be names.
func syncFailedWith(g Gomega, ns, message string, names ...string) {
	g.Eventually(func(g Gomega) {
		store := get(g, ns, ns, &gastownv1.BeadStore{})
		g.Expect(conditions.GetReason(store, meta.ReadyCondition)).To(Equal(gastownv1.SyncFailedReason))
		g.Expect(conditions.GetMessage(store, meta.ReadyCondition)).To(ContainSubstring(message))
		g.Expect(beadNames(g, ns)).To(ConsistOf(names))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// A bead that depends on a bead of the same revision is written after it:
// while gt-a cannot be written, gt-b, which depends on it, is not either,
// and the rig, which dispatches the beads it sees, never takes gt-b for
// ready (a bead missing from the cluster blocks nothing).
func TestABeadIsSyncedAfterTheBeadsItWaitsOn(t *testing.T) {
	g := NewWithT(t)
	ns, set := intakeRig(t)
	restore := storeWrites.failCreates(client.ObjectKey{Namespace: ns, Name: "gt-a"}, apierrors.NewInternalError(errors.New("etcd is away")))
	defer restore()
	rev := set(map[string]string{".gastown/a.yaml": beadA, ".gastown/b.yaml": beadB, ".gastown/cd.yaml": beadsCD})

	syncFailedWith(g, ns, "applying Bead gt-a: Internal error occurred: etcd is away; 1 object waits for it: Bead gt-b", "gt-c", "gt-d")
	// The rig dispatched what it saw: gt-c and gt-d, and nothing else.
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-c", "gt-d"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(beadNames(g, ns)).To(ConsistOf("gt-c", "gt-d"))

	// The store's next pass writes gt-a, then gt-b, which gt-a blocks.
	restore()
	g.Eventually(func(g Gomega) {
		storeSynced(g, ns, rev)
		g.Expect(get(g, ns, "gt-b", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseBlocked))
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a", "gt-c", "gt-d"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// The beads a convoy tracks are written after it: until then, the rig
// would dispatch them without the convoy's parallelism.
func TestTheBeadsOfAConvoyAreSyncedAfterIt(t *testing.T) {
	g := NewWithT(t)
	ns, set := intakeRig(t)
	restore := storeWrites.failCreates(client.ObjectKey{Namespace: ns, Name: "cleanup"}, apierrors.NewInternalError(errors.New("etcd is away")))
	defer restore()
	oneAtATime := strings.Replace(convoyCD, "  trackedBeads: [gt-c, gt-d]\n", "  trackedBeads: [gt-c, gt-d]\n  parallelism: 1\n", 1)
	rev := set(map[string]string{".gastown/a.yaml": beadA, ".gastown/cd.yaml": beadsCD, ".gastown/convoy-cd.yaml": oneAtATime})

	syncFailedWith(g, ns, "applying Convoy cleanup: Internal error occurred: etcd is away; 2 objects wait for it: Bead gt-c, Bead gt-d", "gt-a")
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	restore()
	g.Eventually(func(g Gomega) {
		storeSynced(g, ns, rev)
		g.Expect(beadNames(g, ns)).To(ConsistOf("gt-a", "gt-c", "gt-d"))
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-a", "gt-c"}), "one bead of the convoy at a time, the first by name")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// A bead is pruned before the beads it waits on: while gt-b, which depends
// on gt-a, cannot be deleted, gt-a is not either, and the rig never sees
// gt-b without its blocker.
func TestABeadIsPrunedBeforeTheBeadsItWaitsOn(t *testing.T) {
	g := NewWithT(t)
	ns, set := intakeRig(t)
	claimedA := strings.Replace(beadA, "  priority: 1\n", "  priority: 1\n  status: in_progress\n", 1)
	rev1 := set(map[string]string{".gastown/a.yaml": claimedA, ".gastown/b.yaml": beadB})
	g.Eventually(func(g Gomega) {
		storeSynced(g, ns, rev1)
		g.Expect(get(g, ns, "gt-b", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseBlocked))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	restore := storeWrites.failDeletes(client.ObjectKey{Namespace: ns, Name: "gt-b"}, apierrors.NewInternalError(errors.New("etcd is away")))
	defer restore()
	rev2 := set(map[string]string{".gastown/cd.yaml": beadsCD})
	syncFailedWith(g, ns, "pruning Bead gt-b: Internal error occurred: etcd is away; 1 object waits for it: Bead gt-a", "gt-a", "gt-b", "gt-c", "gt-d")
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-c", "gt-d"}))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(get(g, ns, "gt-b", &gastownv1.Bead{}).Status.Phase).To(Equal(gastownv1.BeadPhaseBlocked))

	restore()
	g.Eventually(func(g Gomega) {
		storeSynced(g, ns, rev2)
		g.Expect(beadNames(g, ns)).To(ConsistOf("gt-c", "gt-d"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-c", "gt-d"}), "gt-b never ran")
}
