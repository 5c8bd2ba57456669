package v1alpha1_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, nil) }

// designPolecat is the Polecat example of DESIGN.md and the seed README.
const designPolecat = `
apiVersion: gastown.gastown.io/v1alpha1
kind: Polecat
metadata: {name: my-worker, namespace: gastown-workers}
spec:
  rig: my-project
  beadID: issue-123
  desiredState: Working
  executionMode: kubernetes
  taskDescription: |
    Implement the /health endpoint.
    Commit and push when done.
  kubernetes:
    gitRepository: "git@github.com:myorg/myrepo.git"
    gitBranch: main
    gitSecretRef: {name: git-credentials}
    apiKeySecretRef: {name: claude-credentials, key: api-key}
`

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decoding: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// ensureNamespace creates a namespace the examples name, once.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	if name == "" {
		return
	}
	err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

func TestExamplesAreAccepted(t *testing.T) {
	root, err := testenv.ProjectRoot()
	if err != nil {
		t.Fatal(err)
	}
	samples, _ := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	beadFiles, _ := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if len(samples) < 5 || len(beadFiles) < 1 {
		t.Fatalf("expected samples in config/samples and bead files in examples, found %d and %d", len(samples), len(beadFiles))
	}
	files := append(samples, beadFiles...)
	sources := map[string][]byte{"DESIGN.md Polecat example": []byte(designPolecat)}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		sources[rel] = b
	}
	for name, data := range sources {
		t.Run(name, func(t *testing.T) {
			for _, obj := range decodeAll(t, data) {
				if obj.GetNamespace() == "" && obj.GetKind() != gastownv1.RigKind {
					obj.SetNamespace("gastown-workers") // bead files carry no namespace
				}
				ensureNamespace(t, obj.GetNamespace())
				// Create with strict field validation, as kubectl apply does.
				err := env.Client.Create(context.Background(), obj, client.FieldValidation("Strict"))
				if apierrors.IsAlreadyExists(err) {
					continue // the DESIGN example and config/samples/polecat.yaml are the same object
				}
				if err != nil {
					t.Errorf("%s %s/%s rejected: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
				}
			}
		})
	}
}

func TestSeedPolecatExampleIsUnchanged(t *testing.T) {
	root, _ := testenv.ProjectRoot()
	b, err := os.ReadFile(filepath.Join(root, "config", "samples", "polecat.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var fromFile, fromDesign map[string]any
	if err := yaml.Unmarshal(b, &fromFile); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(designPolecat), &fromDesign); err != nil {
		t.Fatal(err)
	}
	a, _ := yaml.Marshal(fromFile)
	d, _ := yaml.Marshal(fromDesign)
	if !bytes.Equal(a, d) {
		t.Errorf("config/samples/polecat.yaml differs from the DESIGN.md example:\n%s\nvs\n%s", a, d)
	}
}

func TestInvalidObjectsAreRejected(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	tests := []struct {
		name string
		obj  string
		want string
	}{
		{"bead priority 9", `
kind: Bead
metadata: {name: gt-a}
spec: {rigRef: r, title: t, priority: 9}`, "should be less than or equal to 4"},
		{"bead with unknown type", `
kind: Bead
metadata: {name: gt-b}
spec: {rigRef: r, title: t, type: story}`, `Unsupported value: "story"`},
		{"bead ID longer than 50 characters", `
kind: Bead
metadata: {name: gt-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}
spec: {rigRef: r, title: t}`, "a bead ID has at most 50 characters"},
		{"bead without title", `
kind: Bead
metadata: {name: gt-c}
spec: {rigRef: r}`, "spec.title: Required value"},
		{"rig maxPolecats 0", `
kind: Rig
metadata: {name: NAME-max}
spec: {gitURL: "https://example.com/r.git", settings: {maxPolecats: 0}}`, "should be greater than or equal to 1"},
		{"rig with a bad beadsPrefix", `
kind: Rig
metadata: {name: NAME-prefix}
spec: {gitURL: "https://example.com/r.git", beadsPrefix: Bad_Prefix}`, "spec.beadsPrefix in body should match"},
		{"rig without a source or git URL", `
kind: Rig
metadata: {name: NAME-nosource}
spec: {beadsPrefix: gt}`, "one of spec.sourceRef or spec.gitURL is required"},
		{"convoy with empty trackedBeads", `
kind: Convoy
metadata: {name: cv}
spec: {trackedBeads: []}`, "spec.trackedBeads must name at least one bead"},
		{"polecat with unknown desiredState", `
kind: Polecat
metadata: {name: pc}
spec: {rig: r, desiredState: Sleeping}`, `Unsupported value: "Sleeping"`},
		{"refinery with unknown merge method", `
kind: Refinery
metadata: {name: rf}
spec: {rigRef: r, mergeMethod: octopus}`, `Unsupported value: "octopus"`},
		{"refinery with a token and a GitHub App", `
kind: Refinery
metadata: {name: rf-auth}
spec: {rigRef: r, github: {tokenSecretRef: {name: t}, appSecretRef: {name: a}}}`, "tokenSecretRef and appSecretRef are exclusive"},
		{"refinery with an unknown updateBranch", `
kind: Refinery
metadata: {name: rf-update}
spec: {rigRef: r, updateBranch: sometimes}`, `Unsupported value: "sometimes"`},
		{"merge request without a bead", `
kind: MergeRequest
metadata: {name: mr}
spec: {rigRef: r, polecat: p, headBranch: polecat/p}`, "spec.beadRef"},
		{"beadstore with unknown format", `
kind: BeadStore
metadata: {name: bs}
spec: {rigRef: r, format: toml}`, `Unsupported value: "toml"`},
		{"witness with a bad duration", `
kind: Witness
metadata: {name: wt}
spec: {rigRef: r, stuckThreshold: soon}`, "spec.stuckThreshold in body should match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := object(t, strings.ReplaceAll(tt.obj, "NAME", ns), ns)
			err := env.Client.Create(ctx, obj)
			if err == nil {
				t.Fatalf("created; want rejection with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("rejected with %q; want a message containing %q", err, tt.want)
			}
		})
	}
}

func TestMergeRequestSpecIsImmutable(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	mr := &gastownv1.MergeRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-a", Namespace: ns},
		Spec:       gastownv1.MergeRequestSpec{BeadRef: "gt-a", RigRef: "r", Polecat: "gt-a", HeadBranch: "polecat/gt-a"},
	}
	if err := env.Client.Create(ctx, mr); err != nil {
		t.Fatal(err)
	}
	mr.Spec.HeadBranch = "polecat/other"
	err := env.Client.Update(ctx, mr)
	if err == nil || !strings.Contains(err.Error(), "spec is immutable: a merge request is for one attempt") {
		t.Fatalf("update of spec.headBranch: %v; want it refused as immutable", err)
	}
}

func TestPolecatRigIsImmutable(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "pc", Namespace: ns},
		Spec:       gastownv1.PolecatSpec{Rig: "one"},
	}
	if err := env.Client.Create(ctx, pc); err != nil {
		t.Fatal(err)
	}
	pc.Spec.Rig = "two"
	err := env.Client.Update(ctx, pc)
	if err == nil || !strings.Contains(err.Error(), "spec.rig is immutable") {
		t.Fatalf("changing spec.rig: got %v, want 'spec.rig is immutable'", err)
	}
}

func TestDefaultsAreApplied(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	c := env.Client

	rig := &gastownv1.Rig{ObjectMeta: metav1.ObjectMeta{Name: ns + "-rig"},
		Spec: gastownv1.RigSpec{GitURL: "https://example.com/r.git"}}
	bead := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-x", Namespace: ns},
		Spec: gastownv1.BeadSpec{RigRef: "r", Title: "t"}}
	pc := &gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{Name: "pc", Namespace: ns},
		Spec: gastownv1.PolecatSpec{Rig: "r"}}
	rf := &gastownv1.Refinery{ObjectMeta: metav1.ObjectMeta{Name: "rf", Namespace: ns},
		Spec: gastownv1.RefinerySpec{RigRef: "r"}}
	wt := &gastownv1.Witness{ObjectMeta: metav1.ObjectMeta{Name: "wt", Namespace: ns},
		Spec: gastownv1.WitnessSpec{RigRef: "r"}}
	bs := &gastownv1.BeadStore{ObjectMeta: metav1.ObjectMeta{Name: "bs", Namespace: ns},
		Spec: gastownv1.BeadStoreSpec{RigRef: "r"}}
	for _, o := range []client.Object{rig, bead, pc, rf, wt, bs} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
	t.Cleanup(func() { _ = c.Delete(ctx, rig) })

	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("rig workersNamespace", rig.Spec.WorkersNamespace, "gastown-workers")
	check("rig agent", rig.Spec.Agent, gastownv1.AgentClaudeCode)
	check("rig maxPolecats", rig.Spec.Settings.MaxPolecats, int32(8))
	check("rig maxRetries", *rig.Spec.Settings.MaxRetries, int32(2))
	check("rig executionMode", rig.Spec.Settings.ExecutionMode, gastownv1.ExecutionModeKubernetes)
	check("rig branchTemplate", rig.Spec.Git.BranchTemplate, "polecat/{{.BeadID}}")
	check("rig interval", rig.Spec.Interval.Duration, 10*time.Minute)
	check("bead type", bead.Spec.Type, gastownv1.BeadType("task"))
	check("bead priority", *bead.Spec.Priority, int32(2))
	check("bead status", bead.Spec.Status, gastownv1.BeadOpen)
	check("polecat desiredState", pc.Spec.DesiredState, gastownv1.DesiredWorking)
	check("polecat executionMode", pc.Spec.ExecutionMode, gastownv1.ExecutionModeKubernetes)
	check("polecat purpose", pc.Spec.Purpose, gastownv1.PurposeWork)
	check("refinery provider", rf.Spec.Provider, gastownv1.ProviderGitHub)
	check("refinery requiredApprovals", *rf.Spec.RequiredApprovals, int32(1))
	check("refinery mergeMethod", rf.Spec.MergeMethod, gastownv1.MergeSquash)
	check("refinery autoMerge", *rf.Spec.AutoMerge, true)
	check("refinery deleteBranch", *rf.Spec.DeleteBranch, true)
	check("refinery maxRevisions", *rf.Spec.MaxRevisions, int32(2))
	check("refinery pollInterval", rf.Spec.PollInterval.Duration, 30*time.Second)
	check("witness healthCheckInterval", wt.Spec.HealthCheckInterval.Duration, 30*time.Second)
	check("witness stuckThreshold", wt.Spec.StuckThreshold.Duration, 15*time.Minute)
	check("beadstore format", bs.Spec.Format, gastownv1.FormatManifests)
	check("beadstore prune", *bs.Spec.Prune, true)
	check("beadstore syncInterval", bs.Spec.SyncInterval.Duration, 5*time.Minute)
	check("beadstore path", bs.BeadsPath(), ".gastown")
}

func TestKubectlSeesKindsCategoryAndColumns(t *testing.T) {
	out, err := env.Kubectl("get", "crds")
	if err != nil {
		t.Fatal(err)
	}
	for _, plural := range []string{"rigs", "beadstores", "beads", "convoys", "polecats", "witnesses", "refineries"} {
		if !strings.Contains(out, plural+".gastown.gastown.io") {
			t.Errorf("kubectl get crds does not list %s.gastown.gastown.io:\n%s", plural, out)
		}
	}

	ns := env.Namespace(t)
	pc := &gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{Name: "columns", Namespace: ns},
		Spec: gastownv1.PolecatSpec{Rig: "r", BeadID: "gt-cols"}}
	if err := env.Client.Create(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	out, err = env.Kubectl("get", "gastown", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "polecat.gastown.gastown.io/columns") {
		t.Errorf("kubectl get gastown does not list the polecat:\n%s", out)
	}
	out, err = env.Kubectl("get", "polecats", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	want := []string{"NAME", "RIG", "BEAD", "PHASE", "BRANCH", "AGE"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Errorf("kubectl get polecats columns = %v, want %v", header, want)
	}
	if !strings.Contains(out, "gt-cols") {
		t.Errorf("kubectl get polecats does not show the bead column:\n%s", out)
	}
}

func object(t *testing.T, doc, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetAPIVersion(gastownv1.GroupVersion.String())
	if u.GetKind() != gastownv1.RigKind {
		u.SetNamespace(ns)
	}
	return u
}

// TestGitURLCredentialsAreRefused: a git URL with credentials in its user
// information is refused at admission, in a rig's spec.gitURL and a
// polecat's spec.kubernetes.gitRepository, with a message that says where
// the credentials go and does not echo them. SSH URLs with a bare user
// and scp-like addresses are accepted.
func TestGitURLCredentialsAreRefused(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	const secret = "ghp_s3cretTokenValue0123456789abcdef"
	refused := []string{
		"https://alice:" + secret + "@github.com/org/repo.git",
		"https://" + secret + "@github.com/org/repo.git",
		"http://x-access-token:" + secret + "@git.example.com:8443/org/repo.git",
		"ssh://git:" + secret + "@github.com/org/repo.git",
		"git://user@git.example.com/org/repo.git",
	}
	accepted := []string{
		"https://github.com/org/repo.git",
		"http://127.0.0.1:8080/org/repo.git",
		"git@github.com:org/repo.git",
		"ssh://git@github.com/org/repo.git",
		"ssh://git@127.0.0.1:2222/org/repo.git",
		"SSH://git@github.com/org/repo.git",
		"https://github.com/org/repo@v1.git",
	}
	rig := func(i int, url string) client.Object {
		return &gastownv1.Rig{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-url-%d", ns, i)},
			Spec:       gastownv1.RigSpec{GitURL: url},
		}
	}
	polecat := func(i int, url string) client.Object {
		return &gastownv1.Polecat{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pc-url-%d", i), Namespace: ns},
			Spec:       gastownv1.PolecatSpec{Rig: "r", Kubernetes: &gastownv1.PolecatKubernetes{GitRepository: url}},
		}
	}
	kinds := []struct {
		field string
		make  func(int, string) client.Object
	}{{"spec.gitURL", rig}, {"spec.kubernetes.gitRepository", polecat}}
	for _, k := range kinds {
		for i, url := range refused {
			t.Run("refused "+k.field+" "+url, func(t *testing.T) {
				err := env.Client.Create(ctx, k.make(i, url))
				if err == nil {
					t.Fatalf("created; want a refusal")
				}
				want := k.field + " must not hold credentials (user:password@ or token@ before the host): put them in the git secret (gitSecretRef)"
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refused with %q; want a message containing %q", err, want)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the refusal echoes the credentials: %v", err)
				}
			})
		}
		for i, url := range accepted {
			t.Run("accepted "+k.field+" "+url, func(t *testing.T) {
				if err := env.Client.Create(ctx, k.make(100+i, url)); err != nil {
					t.Errorf("refused: %v", err)
				}
			})
		}
	}
}
