package operator

import (
	"encoding/json"
	"runtime"
	"slices"
	"testing"
	"unique"
	"unsafe"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

func keys(m map[string]cache.Config) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The namespaces the manager's cache watches, by flags.
func TestCacheNamespaces(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		namespaces  []string // nil: all
		gitRepoNSes []string // nil: as namespaces
	}{
		{name: "all by default"},
		{name: "the operator's own", args: []string{"--watch-all-namespaces=false", "--namespace=ops"}, namespaces: []string{"ops"}},
		{name: "the workers namespaces", args: []string{"--watch-namespaces=b,a"}, namespaces: []string{"a", "b"}},
		{name: "they win over --watch-all-namespaces", args: []string{"--watch-all-namespaces=true", "--watch-namespaces=a"}, namespaces: []string{"a"}},
		{name: "and sources elsewhere", args: []string{"--watch-namespaces=a", "--source-namespaces=flux-system"},
			namespaces: []string{"a"}, gitRepoNSes: []string{"a", "flux-system"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o Options
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c := o.cacheOptions()
			if got := keys(c.DefaultNamespaces); !slices.Equal(got, tc.namespaces) {
				t.Errorf("namespaces %v, want %v", got, tc.namespaces)
			}
			var gitRepo []string
			for obj, by := range c.ByObject {
				if _, ok := obj.(*sourcev1.GitRepository); !ok {
					t.Errorf("unexpected ByObject %T", obj)
				}
				gitRepo = keys(by.Namespaces)
			}
			if !slices.Equal(gitRepo, tc.gitRepoNSes) {
				t.Errorf("GitRepository namespaces %v, want %v", gitRepo, tc.gitRepoNSes)
			}
		})
	}
}

// A cached pod keeps what the operator reads of it: its status and, of its
// spec, the containers' names, images and restart policies and the
// deadline; env, commands and volumes go.
func TestPodOutline(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	deadline := int64(600)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "polecat-gt-a", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "proxy", Image: "proxy:1", RestartPolicy: &always, Args: []string{"--x"}}},
			Containers: []corev1.Container{{Name: "agent", Image: "agent:1", Command: []string{"runner"},
				Env: []corev1.EnvVar{{Name: "GASTOWN_TASK", Value: "a long task"}}}},
			Volumes:               []corev1.Volume{{Name: "work"}},
			ActiveDeadlineSeconds: &deadline,
			RestartPolicy:         corev1.RestartPolicyNever,
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "agent", RestartCount: 1}}},
	}
	want := corev1.PodSpec{
		InitContainers:        []corev1.Container{{Name: "proxy", Image: "proxy:1", RestartPolicy: &always}},
		Containers:            []corev1.Container{{Name: "agent", Image: "agent:1"}},
		ActiveDeadlineSeconds: &deadline,
		RestartPolicy:         corev1.RestartPolicyNever,
	}
	status := *pod.Status.DeepCopy()
	out, err := podOutline(pod)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Pod)
	if !equality.Semantic.DeepEqual(got.Spec, want) {
		t.Errorf("spec %+v, want %+v", got.Spec, want)
	}
	if !equality.Semantic.DeepEqual(got.Status, status) || got.ManagedFields != nil || got.Name != "polecat-gt-a" {
		t.Errorf("status or metadata changed: %+v", got)
	}
}

// A cached bead is what was decoded, but for its managedFields and its
// text, with the hash of its whole spec, and two beads share the strings
// they repeat.
func TestBeadOutline(t *testing.T) {
	decode := func(id string) *gastownv1.Bead {
		isController := true
		b := &gastownv1.Bead{
			ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: "gastown-work",
				Labels:          map[string]string{gastownv1.RigLabel: "alpha", gastownv1.BeadLabel: id},
				Annotations:     map[string]string{gastownv1.ContentHashAnnotation: "hash-of-" + id},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "gastown.gastown.io/v1alpha1", Kind: "BeadStore", Name: "alpha", UID: "u-1", Controller: &isController}},
				ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "m"}}},
			Spec: gastownv1.BeadSpec{ID: id, RigRef: "alpha", Title: "T " + id, Type: "task", Status: gastownv1.BeadOpen, SourcePath: ".beads/issues.jsonl",
				Description: "What " + id + " asks for.", Acceptance: "How " + id + " is done."},
			Status: gastownv1.BeadStatus{Phase: gastownv1.BeadPhaseReady,
				Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: id + " is ready"}}},
		}
		// Through JSON, as from a watch: every string its own copy.
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		out := &gastownv1.Bead{}
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Held, so that a collection between the two beads cannot make unique
	// forget a canonical copy.
	var held []unique.Handle[string]
	for _, s := range []string{"gastown-work", gastownv1.RigLabel, "alpha", gastownv1.ContentHashAnnotation, "u-1", ".beads/issues.jsonl", "Ready"} {
		held = append(held, unique.Make(s))
	}
	defer runtime.KeepAlive(held)
	a, b := decode("gt-a"), decode("gt-b")
	wantA := a.DeepCopy()
	wantA.ManagedFields = nil
	wantA.Annotations[dispatch.CachedSpecHashAnnotation] = a.Spec.Hash()
	wantA.Annotations[dispatch.OutlinedAnnotation] = outlineMark
	wantA.Spec.Description, wantA.Spec.Acceptance = "", ""
	// Twice, as client-go may: the second pass keeps the first's hash.
	for _, bead := range []*gastownv1.Bead{a, b, a} {
		if _, err := beadOutline(bead); err != nil {
			t.Fatal(err)
		}
	}
	if !equality.Semantic.DeepEqual(a, wantA) {
		t.Errorf("the bead changed:\n%+v\nwant\n%+v", a, wantA)
	}
	if got, want := dispatch.SpecHash(a), dispatch.SpecHash(decode("gt-a")); got != want {
		t.Errorf("the cached bead's spec hash is %s, the API server's bead's %s", got, want)
	}
	same := func(what, x, y string) {
		t.Helper()
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: the two beads have their own copies of %q", what, x)
		}
	}
	keyOf := func(m map[string]string, key string) string {
		for k := range m {
			if k == key {
				return k
			}
		}
		return ""
	}
	same("namespace", a.Namespace, b.Namespace)
	same("label key", keyOf(a.Labels, gastownv1.RigLabel), keyOf(b.Labels, gastownv1.RigLabel))
	same("label value", a.Labels[gastownv1.RigLabel], b.Labels[gastownv1.RigLabel])
	same("annotation key", keyOf(a.Annotations, gastownv1.ContentHashAnnotation), keyOf(b.Annotations, gastownv1.ContentHashAnnotation))
	same("owner", string(a.OwnerReferences[0].UID), string(b.OwnerReferences[0].UID))
	same("rig", a.Spec.RigRef, b.Spec.RigRef)
	same("file", a.Spec.SourcePath, b.Spec.SourcePath)
	same("condition reason", a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason)
}

// A bead without text has its whole spec in the cache: its hash is taken
// from it, not from a hash a person annotated it with, and a second pass
// keeps that hash.
func TestBeadOutlineHashesABeadWithoutTextItself(t *testing.T) {
	b := &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-a", Namespace: "gastown-work",
			Annotations: map[string]string{dispatch.CachedSpecHashAnnotation: "set-by-hand"}},
		Spec: gastownv1.BeadSpec{ID: "gt-a", RigRef: "alpha", Title: "No text"},
	}
	want := b.Spec.Hash()
	for pass := 1; pass <= 2; pass++ {
		if _, err := beadOutline(b); err != nil {
			t.Fatal(err)
		}
		if got := dispatch.SpecHash(b); got != want {
			t.Errorf("pass %d: the cached bead's spec hash is %s, its spec's %s", pass, got, want)
		}
	}
}
