package beads

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestLoadRepository(t *testing.T) {
	set, err := Load(os.DirFS("testdata/repo"), ".gastown", Options{Prefix: "gt-"})
	if err != nil {
		t.Fatal(err)
	}

	wantFiles := []string{
		".gastown/health.yaml",
		".gastown/sprint/broken.yaml",
		".gastown/sprint/deep/version.yml",
		".gastown/sprint/docs.yaml",
	}
	if diff := cmp.Diff(wantFiles, set.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	wantErrors := []string{`.gastown/sprint/broken.yaml:7: unknown field "spec.prority"`}
	if diff := cmp.Diff(wantErrors, errorStrings(set.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{".gastown/sprint/broken.yaml": true}, set.BrokenFiles); diff != "" {
		t.Errorf("broken files (-want +got):\n%s", diff)
	}

	// Every bead is in the set, sorted by file and line; the broken file's
	// are left out of Good.
	wantAll := []string{"gt-db", "gt-health", "gt-broken", "gt-neighbour", "gt-version", "gt-readme"}
	if diff := cmp.Diff(wantAll, beadIDs(set.Beads)); diff != "" {
		t.Errorf("beads (-want +got):\n%s", diff)
	}
	good, convoys := set.Good()
	wantGood := []string{"gt-db", "gt-health", "gt-version", "gt-readme"}
	if diff := cmp.Diff(wantGood, beadIDs(good)); diff != "" {
		t.Errorf("good beads (-want +got):\n%s", diff)
	}
	if len(convoys) != 1 || convoys[0].ID != "health-sprint" || convoys[0].File != ".gastown/health.yaml" || convoys[0].Line != 22 {
		t.Errorf("convoys = %+v, want health-sprint at .gastown/health.yaml:22", convoys)
	}

	health := good[1]
	if health.File != ".gastown/health.yaml" || health.Line != 13 || health.Spec.SourcePath != health.File {
		t.Errorf("gt-health read from %s:%d with sourcePath %q", health.File, health.Line, health.Spec.SourcePath)
	}
	if version := good[2]; version.Spec.Status != gastownv1.BeadClosed {
		t.Errorf("gt-version status = %q, want closed", version.Spec.Status)
	}
}

func beadIDs[B Bead | *Bead](beads []B) []string {
	var ids []string
	for _, b := range beads {
		switch b := any(b).(type) {
		case Bead:
			ids = append(ids, b.ID)
		case *Bead:
			ids = append(ids, b.ID)
		}
	}
	return ids
}

// bead returns a bead document for the cross-file tests; its dependencies
// are on lines 7 and on.
func bead(id string, deps ...string) string {
	doc := "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata:\n  name: " + id + "\nspec:\n  title: " + id + "\n"
	if len(deps) > 0 {
		doc += "  dependsOn:\n"
		for _, d := range deps {
			doc += "  - " + d + "\n"
		}
	}
	return doc
}

// convoy returns a convoy document tracking beads on lines 6 and on.
func convoy(id string, tracked ...string) string {
	doc := "apiVersion: gastown.gastown.io/v1alpha1\nkind: Convoy\nmetadata:\n  name: " + id + "\nspec:\n  trackedBeads:\n"
	for _, b := range tracked {
		doc += "  - " + b + "\n"
	}
	return doc
}

// longCycle returns n files whose beads depend on each other in a circle.
func longCycle(n int) map[string]string {
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("b/%02d.yaml", i)] = bead(fmt.Sprintf("gt-%d", i), fmt.Sprintf("gt-%d", (i+1)%n))
	}
	return files
}

func files(contents map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range contents {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

func TestLoadChecksAcrossFiles(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		opts       Options
		wantErrors []string
		wantBroken []string
		wantGood   []string
	}{
		{
			name:     "dependencies and tracked beads in other files",
			files:    map[string]string{"b/a.yaml": bead("gt-a", "gt-b"), "b/b.yaml": bead("gt-b") + "---\n" + convoy("c", "gt-a", "gt-b")},
			wantGood: []string{"gt-a", "gt-b"},
		},
		{
			name:       "duplicate bead ID in two files",
			files:      map[string]string{"b/a.yaml": bead("gt-a"), "b/b.yaml": bead("gt-a"), "b/c.yaml": bead("gt-c")},
			wantErrors: []string{`b/b.yaml:4: duplicate bead ID "gt-a" (also defined at b/a.yaml:4)`},
			wantBroken: []string{"b/a.yaml", "b/b.yaml"},
			wantGood:   []string{"gt-c"},
		},
		{
			name:       "duplicate bead ID in one file",
			files:      map[string]string{"b/a.yaml": bead("gt-a") + "---\n" + bead("gt-a")},
			wantErrors: []string{`b/a.yaml:11: duplicate bead ID "gt-a" (also defined at b/a.yaml:4)`},
			wantBroken: []string{"b/a.yaml"},
		},
		{
			name:       "duplicate convoy ID",
			files:      map[string]string{"b/a.yaml": bead("gt-a") + "---\n" + convoy("c", "gt-a"), "b/b.yaml": convoy("c", "gt-a")},
			wantErrors: []string{`b/b.yaml:4: duplicate convoy ID "c" (also defined at b/a.yaml:11)`},
			wantBroken: []string{"b/a.yaml", "b/b.yaml"},
		},
		{
			name:       "unknown dependency",
			files:      map[string]string{"b/a.yaml": bead("gt-a", "gt-b", "gt-missing")},
			wantErrors: []string{`b/a.yaml:8: spec.dependsOn: unknown bead "gt-b"`, `b/a.yaml:9: spec.dependsOn: unknown bead "gt-missing"`},
			wantBroken: []string{"b/a.yaml"},
		},
		{
			name: "dependency on a bead in a broken file",
			files: map[string]string{
				"b/a.yaml": bead("gt-a", "gt-b"),
				"b/b.yaml": bead("gt-b") + "  bogus: 1\n",
			},
			wantErrors: []string{`b/b.yaml:7: unknown field "spec.bogus"`},
			wantBroken: []string{"b/b.yaml"},
			wantGood:   []string{"gt-a"},
		},
		{
			name:       "self-dependency",
			files:      map[string]string{"b/a.yaml": bead("gt-a", "gt-a"), "b/b.yaml": bead("gt-b")},
			wantErrors: []string{`b/a.yaml:8: spec.dependsOn: bead "gt-a" depends on itself`},
			wantBroken: []string{"b/a.yaml"},
			wantGood:   []string{"gt-b"},
		},
		{
			name: "dependency cycle across files",
			files: map[string]string{
				"b/a.yaml": bead("gt-a", "gt-b"),
				"b/b.yaml": bead("gt-b", "gt-a"),
				"b/c.yaml": bead("gt-c", "gt-a"),
			},
			wantErrors: []string{"b/a.yaml:8: dependency cycle: gt-a -> gt-b -> gt-a"},
			wantBroken: []string{"b/a.yaml", "b/b.yaml"},
			wantGood:   []string{"gt-c"},
		},
		{
			name: "dependency cycle of three, reported once along its shortest path",
			files: map[string]string{
				"b/a.yaml": bead("gt-a", "gt-b"),
				"b/b.yaml": bead("gt-b", "gt-c"),
				"b/c.yaml": bead("gt-c", "gt-a", "gt-b") + "---\n" + bead("gt-d"),
			},
			wantErrors: []string{"b/a.yaml:8: dependency cycle: gt-a -> gt-b -> gt-c -> gt-a"},
			wantBroken: []string{"b/a.yaml", "b/b.yaml", "b/c.yaml"},
		},
		{
			name:       "long dependency cycle",
			files:      longCycle(12),
			wantErrors: []string{"b/00.yaml:8: dependency cycle: gt-0 -> gt-1 -> gt-2 -> gt-3 -> gt-4 -> gt-5 -> gt-6 -> gt-7 -> gt-8 -> gt-9 -> ... (2 more) -> gt-0"},
			wantBroken: []string{"b/00.yaml", "b/01.yaml", "b/02.yaml", "b/03.yaml", "b/04.yaml", "b/05.yaml", "b/06.yaml", "b/07.yaml", "b/08.yaml", "b/09.yaml", "b/10.yaml", "b/11.yaml"},
		},
		{
			name:       "convoy tracking an unknown bead",
			files:      map[string]string{"b/a.yaml": bead("gt-a"), "b/c.yaml": convoy("c", "gt-a", "gt-missing")},
			wantErrors: []string{`b/c.yaml:8: spec.trackedBeads: unknown bead "gt-missing"`},
			wantBroken: []string{"b/c.yaml"},
			wantGood:   []string{"gt-a"},
		},
		{
			name:       "bead ID without the prefix",
			files:      map[string]string{"b/a.yaml": bead("gt-a"), "b/b.yaml": bead("web-b")},
			opts:       Options{Prefix: "gt-"},
			wantErrors: []string{`b/b.yaml:4: bead ID "web-b" does not start with the prefix "gt-"`},
			wantBroken: []string{"b/b.yaml"},
			wantGood:   []string{"gt-a"},
		},
		{
			name:       "file larger than the limit",
			files:      map[string]string{"b/a.yaml": bead("gt-a"), "b/big.yaml": bead("gt-big") + "# " + strings.Repeat("x", 200) + "\n"},
			opts:       Options{MaxFileSize: 200},
			wantErrors: []string{"b/big.yaml:1: file is 301 bytes; the limit is 200"},
			wantBroken: []string{"b/big.yaml"},
			wantGood:   []string{"gt-a"},
		},
		{
			name:     "files outside the path and not YAML are ignored",
			files:    map[string]string{"b/a.yaml": bead("gt-a"), "b/notes.md": "# notes", "b/a.yaml.orig": "{", "other/x.yaml": "{"},
			wantGood: []string{"gt-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(files(tt.files), "b", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantErrors, errorStrings(set.Errors)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var broken []string
			for f := range set.BrokenFiles {
				broken = append(broken, f)
			}
			slices.Sort(broken)
			if diff := cmp.Diff(tt.wantBroken, broken); diff != "" {
				t.Errorf("broken files (-want +got):\n%s", diff)
			}
			good, _ := set.Good()
			if diff := cmp.Diff(tt.wantGood, beadIDs(good)); diff != "" {
				t.Errorf("good beads (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadRefusesSymbolicLinks(t *testing.T) {
	fsys := fstest.MapFS{
		"b/a.yaml":    {Data: []byte(bead("gt-a"))},
		"b/link.yaml": {Data: []byte("../secret.yaml"), Mode: fs.ModeSymlink},
	}
	set, err := Load(fsys, "b", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"b/link.yaml:1: is a symbolic link; bead files must be regular files"}
	if diff := cmp.Diff(want, errorStrings(set.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestLoadPathErrors(t *testing.T) {
	fsys := files(map[string]string{"b/a.yaml": bead("gt-a"), "file.yaml": bead("gt-f"), ".beads/other.jsonl": ""})
	tests := []struct {
		name, dir string
		format    gastownv1.BeadFormat
		want      string
	}{
		{"missing dir", ".gastown", "", `path ".gastown" not found in the source`},
		{"dir is a file", "file.yaml", "", `path "file.yaml" is not a directory`},
		{"dir leaves the source", "../x", "", `path "../x" is not a path inside the source`},
		{"jsonl file missing", ".beads", gastownv1.FormatBeadsJSONL, `path ".beads/issues.jsonl" not found in the source`},
		{"unknown format", "b", "toml", `unknown bead format "toml": use manifests or beads-jsonl`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(fsys, tt.dir, Options{Format: tt.format})
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadRootDir(t *testing.T) {
	for _, dir := range []string{".", "", "./", "/"} {
		set, err := Load(files(map[string]string{"a.yaml": bead("gt-a"), "x/b.yaml": bead("gt-b", "gt-a")}), dir, Options{})
		if err != nil {
			t.Fatalf("dir %q: %v", dir, err)
		}
		if diff := cmp.Diff([]string{"a.yaml", "x/b.yaml"}, set.Files); diff != "" || len(set.Errors) > 0 {
			t.Errorf("dir %q: files (-want +got):\n%s\nerrors: %v", dir, diff, set.Errors)
		}
	}
}

func TestLoadJSONL(t *testing.T) {
	const issues = `{"id":"gt-a","title":"A","status":"open","priority":1,"issue_type":"feature","created_at":"2025-01-01T00:00:00Z"}
{"id":"gt-b","title":"B","status":"in_progress","dependencies":[{"issue_id":"gt-b","depends_on_id":"gt-a","type":"blocks"}]}
{"id":"gt-c","title":"C","dependencies":[{"issue_id":"gt-c","depends_on_id":"gt-gone","type":"blocks"},{"depends_on_id":"gt-del","type":"blocks"},{"depends_on_id":"external:beads:bd-1","type":"blocks"}]}
{"id":"gt-d","title":"D","priority":"high"}
{"id":"gt-e",
{"id":"gt-del","title":"Deleted","status":"tombstone"}
{"id":"gt-f","title":"F old","updated_at":"2025-02-01T00:00:00Z"}
{"id":"gt-f","title":"F new","updated_at":"2025-03-01T00:00:00-08:00"}
{"id":"gt-g","title":"G new","updated_at":"2025-03-01T00:00:00Z"}
{"id":"gt-g","title":"G old","updated_at":"2025-02-01T00:00:00Z"}
{"id":"gt-h.1","title":"H","dependencies":[{"depends_on_id":"gt-h.1","type":"blocks"}]}
`
	set, err := Load(files(map[string]string{".beads/issues.jsonl": issues}), ".beads", Options{Format: gastownv1.FormatBeadsJSONL, Prefix: "gt-"})
	if err != nil {
		t.Fatal(err)
	}
	wantErrs := []string{
		`.beads/issues.jsonl:4: priority: expected an integer, got a string`,
		`.beads/issues.jsonl:5: invalid JSON at column 13: unexpected end of JSON input`,
	}
	if diff := cmp.Diff(wantErrs, errorStrings(set.Errors)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	wantWarnings := []string{
		`.beads/issues.jsonl:3: bead "gt-c" has a blocking dependency on "gt-gone", which is not in the file; it blocks nothing`,
		`.beads/issues.jsonl:3: bead "gt-c" has a blocking dependency on "external:beads:bd-1" in another repository; it is not followed and blocks nothing`,
		`.beads/issues.jsonl:8: duplicate bead ID "gt-f" (also on line 7): the copy on line 8 is used, its updated_at "2025-03-01T00:00:00-08:00" being newer than "2025-02-01T00:00:00Z" on line 7`,
		`.beads/issues.jsonl:10: duplicate bead ID "gt-g" (also on line 9): the copy on line 9 is used, its updated_at "2025-03-01T00:00:00Z" being newer than "2025-02-01T00:00:00Z" on line 10`,
		`.beads/issues.jsonl:11: bead "gt-h.1" has a blocking dependency on itself; it is ignored`,
	}
	if diff := cmp.Diff(wantWarnings, errorStrings(set.Warnings)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	good, _ := set.Good()
	if diff := cmp.Diff([]string{"gt-a", "gt-b", "gt-c", "gt-f", "gt-g", "gt-h.1"}, beadIDs(good)); diff != "" {
		t.Errorf("good beads (-want +got):\n%s", diff)
	}
	for _, b := range good {
		if b.ID == "gt-f" && b.Spec.Title != "F new" || b.ID == "gt-g" && b.Spec.Title != "G new" {
			t.Errorf("%s: the older copy %q was kept", b.ID, b.Spec.Title)
		}
	}
	if diff := cmp.Diff(map[string]int{"gt-d": 4}, set.BrokenBeads); diff != "" || len(set.BrokenFiles) != 0 {
		t.Errorf("broken beads %v, broken files %v: want gt-d alone, and no broken file", set.BrokenBeads, set.BrokenFiles)
	}
}

func TestLoadJSONLHasNoMiBLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() <= 3<<20; i++ {
		fmt.Fprintf(&b, `{"id":"gt-%d","title":"Task %d","description":"%s"}`+"\n", i, i, strings.Repeat("x", 500))
	}
	set, err := Load(files(map[string]string{".beads/issues.jsonl": b.String()}), ".beads", Options{Format: gastownv1.FormatBeadsJSONL})
	if err != nil || len(set.Errors) > 0 {
		t.Fatalf("a 3 MiB issues.jsonl: %v %v", err, set.Errors)
	}
	set, _ = Load(files(map[string]string{".beads/issues.jsonl": b.String()}), ".beads", Options{Format: gastownv1.FormatBeadsJSONL, MaxJSONLSize: 1 << 20})
	if len(set.Errors) != 1 || !strings.Contains(set.Errors[0].Message, "the limit is 1048576") || !set.BrokenFiles[".beads/issues.jsonl"] {
		t.Errorf("over MaxJSONLSize: %v", set.Errors)
	}
}
