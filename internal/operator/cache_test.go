package operator

import (
	"slices"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/pflag"
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
