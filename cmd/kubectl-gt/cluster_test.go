package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	"github.com/boshu2/gastown-operator/internal/testenv"
)

// env is the test control plane. No operator runs: tests create objects
// and write their status as the controllers would.
var (
	env        *testenv.Env
	kubeconfig string
)

func TestMain(m *testing.M) {
	reconcilePollInterval = 50 * time.Millisecond
	logPollInterval = 50 * time.Millisecond
	testenv.Main(m, &env, func(e *testenv.Env) (func(), error) {
		dir, err := os.MkdirTemp("", "kubectl-gt-")
		if err != nil {
			return nil, err
		}
		kubeconfig = filepath.Join(dir, "kubeconfig")
		if err := e.Kubeconfig(kubeconfig); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return func() { os.RemoveAll(dir) }, nil
	})
}

// gt runs kubectl gt against the test control plane.
func gt(args ...string) (code int, stdout, stderr string) {
	return runCommand(append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

var (
	timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\S+ ago\)`)
	ageRE       = regexp.MustCompile(`\b\d+s\b`)
)

// stable replaces the times in an output, which depend on when the test
// ran, with TIME and AGE.
func stable(s string) string {
	return ageRE.ReplaceAllString(timestampRE.ReplaceAllString(s, "TIME"), "AGE")
}

// create creates obj and then, when setStatus is not nil, writes the
// status setStatus gives it, as its controller would.
func create(t *testing.T, obj client.Object, setStatus func()) {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	if setStatus == nil {
		return
	}
	setStatus()
	if err := env.Client.Status().Update(ctx, obj); err != nil {
		t.Fatalf("writing the status of %T %s: %v", obj, obj.GetName(), err)
	}
}

// newRig creates a cluster-scoped rig named after the test's namespace,
// deleted when the test ends.
func newRig(t *testing.T, ns string, setStatus func(*gastownv1.Rig)) *gastownv1.Rig {
	t.Helper()
	rig := &gastownv1.Rig{}
	rig.Name = ns
	rig.Spec = gastownv1.RigSpec{
		SourceRef:        &gastownv1.SourceReference{Name: "app", Namespace: ns},
		WorkersNamespace: ns,
		BeadsPrefix:      "gt",
		Settings:         gastownv1.RigSettings{MaxPolecats: 4},
	}
	var set func()
	if setStatus != nil {
		set = func() { setStatus(rig) }
	}
	create(t, rig, set)
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), rig) })
	return rig
}

const revision = "main@sha1:0123456789abcdef0123456789abcdef01234567"

// seedRig makes a rig as the operator would have it mid-flight: its
// BeadStore, Refinery and Witness; a bead per phase of interest, one of
// them in review with a pull request; a running and a finished polecat;
// two convoys.
func seedRig(t *testing.T, ns string) {
	t.Helper()
	namespace(t, ns)
	newRig(t, ns, func(rig *gastownv1.Rig) {
		rig.Status.Phase = gastownv1.RigPhaseReady
		rig.Status.GitURL = "https://github.com/acme/app.git"
		rig.Status.BaseBranch = "main"
		rig.Status.PolecatCount = 1
		rig.Status.ReadyBeads = 1
		conditions.MarkTrue(rig, meta.ReadyCondition, meta.ReconciliationSucceededReason, "1 polecats running, 1 beads ready")
		conditions.MarkTrue(rig, gastownv1.SourceReadyCondition, meta.SucceededReason, "GitRepository acme/app has an artifact")
	})

	store := &gastownv1.BeadStore{}
	store.Name, store.Namespace, store.Spec.RigRef = ns, ns, ns
	create(t, store, func() {
		store.Status.Phase = gastownv1.BeadStorePhaseSynced
		store.Status.LastAppliedRevision = revision
		store.Status.IssueCount, store.Status.ConvoyCount = 4, 2
		conditions.MarkTrue(store, meta.ReadyCondition, meta.ReconciliationSucceededReason, "synced 4 beads and 2 convoys")
	})
	refinery := &gastownv1.Refinery{}
	refinery.Name, refinery.Namespace, refinery.Spec.RigRef = ns, ns, ns
	create(t, refinery, func() {
		refinery.Status.Phase = gastownv1.RefineryPhaseProcessing
		refinery.Status.QueueLength = 1
		refinery.Status.MergesSummary.Succeeded = 1
		conditions.MarkTrue(refinery, meta.ReadyCondition, meta.ReconciliationSucceededReason, "1 pull request queued")
	})
	witness := &gastownv1.Witness{}
	witness.Name, witness.Namespace, witness.Spec.RigRef = ns, ns, ns
	create(t, witness, func() {
		witness.Status.Phase = gastownv1.WitnessPhaseActive
		witness.Status.PolecatsSummary = gastownv1.PolecatsSummary{Running: 1}
		conditions.MarkFalse(witness, meta.ReadyCondition, gastownv1.StuckReason, "polecat gt-api wrote nothing for 20m")
	})

	bead := func(name, title string, priority int32, setStatus func(*gastownv1.Bead)) *gastownv1.Bead {
		b := &gastownv1.Bead{}
		b.Name, b.Namespace = name, ns
		b.Spec = gastownv1.BeadSpec{RigRef: ns, Title: title, Priority: &priority, SourcePath: ".gastown/" + name + ".yaml"}
		create(t, b, func() { setStatus(b) })
		return b
	}
	bead("gt-api", "Add the API", 1, func(b *gastownv1.Bead) {
		b.Status.Phase = gastownv1.BeadPhaseWorking
		b.Status.Polecat = "gt-api"
		b.Status.Dispatch = &gastownv1.DispatchStatus{SpecHash: b.Spec.Hash(), Attempts: 1, Runs: 1}
		conditions.MarkFalse(b, meta.ReadyCondition, gastownv1.PodRunningReason, "polecat gt-api is working")
	})
	bead("gt-db", "Add the database", 0, func(b *gastownv1.Bead) {
		b.Status.Phase = gastownv1.BeadPhaseInReview
		b.Status.Polecat = "gt-db"
		b.Status.Branch = "polecat/gt-db"
		b.Status.Commit = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
		b.Status.Dispatch = &gastownv1.DispatchStatus{SpecHash: b.Spec.Hash(), Attempts: 2, Runs: 2}
		b.Status.Result = &gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, FilesChanged: 3, CostUSD: "0.42",
			Summary: "Added a Postgres schema\nand its migrations."}
		b.Status.PullRequest = &gastownv1.PullRequestStatus{Number: 7, URL: "https://github.com/acme/app/pull/7",
			State: gastownv1.PullRequestOpen, HeadBranch: "polecat/gt-db", Gate: "1 approval missing"}
		conditions.MarkFalse(b, meta.ReadyCondition, gastownv1.PullRequestOpenReason, "pull request #7 is open: 1 approval missing")
	})
	bead("gt-docs", "Write the docs", 2, func(b *gastownv1.Bead) {
		b.Status.Phase = gastownv1.BeadPhaseReady
		conditions.MarkFalse(b, meta.ReadyCondition, "Ready", "waiting for a polecat slot")
	})
	bead("gt-init", "Initial import", 3, func(b *gastownv1.Bead) {
		b.Spec.Status = gastownv1.BeadClosed
		b.Status.Phase = gastownv1.BeadPhaseClosed
		conditions.MarkTrue(b, meta.ReadyCondition, "Closed", "the bead is closed in git")
	})

	polecat := func(name string, setStatus func(*gastownv1.Polecat)) {
		pc := &gastownv1.Polecat{}
		pc.Name, pc.Namespace = name, ns
		pc.Spec = gastownv1.PolecatSpec{Rig: ns, BeadID: name}
		pc.Annotations = map[string]string{dispatch.SpecHashAnnotation: "x"}
		create(t, pc, func() { setStatus(pc) })
	}
	polecat("gt-api", func(pc *gastownv1.Polecat) {
		pc.Status.Phase = gastownv1.PolecatPhaseWorking
		pc.Status.Agent = gastownv1.AgentClaudeCode
		pc.Status.Branch = "polecat/gt-api"
	})
	polecat("gt-db", func(pc *gastownv1.Polecat) {
		pc.Status.Phase = gastownv1.PolecatPhaseSucceeded
		pc.Status.Agent = gastownv1.AgentOpenCode
		pc.Status.Branch = "polecat/gt-db"
	})

	sprint := &gastownv1.Convoy{}
	sprint.Name, sprint.Namespace = "sprint", ns
	sprint.Spec = gastownv1.ConvoySpec{RigRef: ns, Description: "The first release", TrackedBeads: []string{"gt-db", "gt-api", "gt-docs"}, Parallelism: 2}
	create(t, sprint, func() {
		sprint.Status.Phase = gastownv1.ConvoyPhaseInProgress
		sprint.Status.Progress = "0/3"
		conditions.MarkFalse(sprint, meta.ReadyCondition, meta.ProgressingReason, "0 of 3 beads closed")
	})
	later := &gastownv1.Convoy{}
	later.Name, later.Namespace = "later", ns
	later.Spec = gastownv1.ConvoySpec{RigRef: ns, TrackedBeads: []string{"gt-init", "gt-search"}}
	create(t, later, nil)
}

// namespace creates a namespace with a name the test chooses, so that
// outputs, whose columns are as wide as their longest cell, are the same
// on every run. envtest never finishes deleting a namespace: every test
// needs its own.
func namespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), ns) })
}
