package beads

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads/beadstest"
)

// loadBoth loads fsys with the cache and without, and fails unless the
// two sets are the same.
func loadBoth(t *testing.T, fsys fstest.MapFS, dir string, opts Options, cache *ParseCache) *Set {
	t.Helper()
	fresh, err := Load(fsys, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Cache = cache
	cached, err := Load(fsys, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fresh, cached) {
		t.Fatalf("with the cache, Load returned\n%+v\nwithout it\n%+v", cached, fresh)
	}
	return cached
}

func TestParseCacheParsesOnlyChangedFiles(t *testing.T) {
	bead := func(name, title, deps string) string {
		return "---\napiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata:\n  name: " + name +
			"\nspec:\n  title: " + title + "\n  dependsOn: [" + deps + "]\n"
	}
	fsys := fstest.MapFS{
		".gastown/a.yaml": {Data: []byte(bead("gt-a1", "One", "") + bead("gt-a2", "Two", "gt-a1"))},
		".gastown/b.yaml": {Data: []byte(bead("gt-b1", "Three", "gt-a2"))},
		".gastown/c.yaml": {Data: []byte("apiVersion: gastown.gastown.io/v1alpha1\nkind: Convoy\nmetadata:\n  name: cv-1\nspec:\n  trackedBeads: [gt-a1, gt-b1]\n")},
	}
	opts := Options{Prefix: "gt-"}
	cache := &ParseCache{}
	set := loadBoth(t, fsys, ".gastown", opts, cache)
	if len(set.Beads) != 3 || len(set.Convoys) != 1 || len(set.Errors) != 0 {
		t.Fatalf("first load: %d beads, %d convoys, errors %v", len(set.Beads), len(set.Convoys), set.Errors)
	}
	parsedB := cache.files[".gastown/b.yaml"].parsed.beads

	// A caller that sorts and appends to what it got leaves the cache as
	// it was.
	slices.Reverse(set.Beads)
	set.Errors = append(set.Errors, Error{File: "x", Line: 1, Message: "not from a file"})

	// One file changes, and breaks a dependency; one goes.
	fsys[".gastown/a.yaml"] = &fstest.MapFile{Data: []byte(bead("gt-a1", "One, retitled", "gt-gone"))}
	delete(fsys, ".gastown/c.yaml")
	set = loadBoth(t, fsys, ".gastown", opts, cache)
	if len(set.Beads) != 2 || len(set.Convoys) != 0 {
		t.Fatalf("second load: %d beads, %d convoys", len(set.Beads), len(set.Convoys))
	}
	if set.Beads[0].Spec.Title != "One, retitled" {
		t.Errorf("the changed file was not parsed again: title %q", set.Beads[0].Spec.Title)
	}
	// The files are still checked together: the unchanged file's
	// dependency on a bead that went is an error.
	if !slices.ContainsFunc(set.Errors, func(e Error) bool {
		return e.File == ".gastown/b.yaml" && strings.Contains(e.Message, `unknown bead "gt-a2"`)
	}) {
		t.Errorf("gt-b1 depends on gt-a2, which is gone: errors %v", set.Errors)
	}
	if got := cache.files[".gastown/b.yaml"].parsed.beads; &got[0] != &parsedB[0] {
		t.Error("the unchanged file was parsed again")
	}
	if _, kept := cache.files[".gastown/c.yaml"]; kept {
		t.Error("the cache kept a file the last load did not have")
	}
}

func TestParseCacheOfAnotherFormatStartsOver(t *testing.T) {
	data := beadstest.Read(t, "steveyegge__gastown")
	fsys := fstest.MapFS{".beads/issues.jsonl": {Data: data}}
	cache := &ParseCache{}
	opts := Options{Format: gastownv1.FormatBeadsJSONL}
	first := loadBoth(t, fsys, ".beads", opts, cache)
	again := loadBoth(t, fsys, ".beads", opts, cache)
	if !reflect.DeepEqual(first, again) || len(again.Beads) == 0 {
		t.Fatalf("a second load from the cache differs, or has no beads (%d)", len(again.Beads))
	}
	// The same path read as manifests: not the JSONL parse.
	fsys[".beads/b.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata:\n  name: gt-m\nspec:\n  title: M\n")}
	set := loadBoth(t, fsys, ".beads", Options{}, cache)
	if len(set.Beads) != 1 {
		t.Fatalf("manifests after JSONL: %d beads", len(set.Beads))
	}
}
