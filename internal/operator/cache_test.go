package operator

import (
	"slices"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
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
