package beads

import (
	"os"
	"path/filepath"
	"testing"
)

// addSeeds adds the files under testdata matching pattern to the corpus.
func addSeeds(f *testing.F, patterns ...string) {
	for _, pattern := range patterns {
		names, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// checkErrors asserts what every consumer of errors relies on: each names
// its file and a line, and says something.
func checkErrors(t *testing.T, file string, errs []Error) {
	t.Helper()
	for _, e := range errs {
		if e.File != file || e.Line < 1 || e.Message == "" {
			t.Fatalf("error without file, line or message: %#v", e)
		}
	}
}

// checkBead asserts that a bead is ready to apply as far as its file goes:
// placed, defaulted, and without the fields the operator sets.
func checkBead(t *testing.T, file string, b Bead) {
	t.Helper()
	switch {
	case b.ID == "" || b.File != file || b.Line < 1:
		t.Fatalf("bead without ID, file or line: %#v", b)
	case b.Spec.SourcePath != file || b.Spec.RigRef != "":
		t.Fatalf("bead %s with sourcePath %q and rigRef %q", b.ID, b.Spec.SourcePath, b.Spec.RigRef)
	case b.Spec.Type == "" || b.Spec.Status == "" || b.Spec.Priority == nil:
		t.Fatalf("bead %s without defaults: %#v", b.ID, b.Spec)
	}
}

func FuzzParseManifests(f *testing.F) {
	addSeeds(f, "testdata/repo/.gastown/*.yaml", "testdata/repo/.gastown/*/*.yaml", "testdata/repo/.gastown/*/*/*.yml", "../../examples/*.yaml")
	f.Add([]byte(commented))
	f.Add([]byte(beadHead + "  labels: &l [a, *l]\n"))
	f.Add([]byte(beadHead + "  resources: {limits: {cpu: 1e3}, requests: {memory: -1Gi}}\n  agent: {env: [{name: A, valueFrom: {fieldRef: {fieldPath: x}}}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = ".gastown/f.yaml"
		beads, convoys, errs := ParseManifests(file, data)
		checkErrors(t, file, errs)
		for _, b := range beads {
			checkBead(t, file, b)
		}
		for _, c := range convoys {
			if c.ID == "" || c.File != file || c.Line < 1 || c.Spec.RigRef != "" {
				t.Fatalf("convoy without ID, file or line, or with rigRef: %#v", c)
			}
		}
	})
}

func FuzzParseJSONL(f *testing.F) {
	f.Add([]byte(`{"id":"gt-a","title":"A","status":"open","priority":1,"issue_type":"feature","labels":["x"],"dependencies":[{"issue_id":"gt-a","depends_on_id":"gt-b","type":"blocks"}]}` + "\n" + `{"id":"gt-b","title":"B","status":"closed"}`))
	f.Add([]byte("\n\r\n{\"id\":\"gt-a.1\",\"title\":\"\"}\n[1]\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = ".beads/issues.jsonl"
		beads, errs := ParseJSONL(file, data)
		checkErrors(t, file, errs)
		for _, b := range beads {
			checkBead(t, file, b)
		}
	})
}

// FuzzCloseBead asserts that closing a bead leaves a file in which that
// bead is closed and whose beads are otherwise the same.
func FuzzCloseBead(f *testing.F) {
	f.Add([]byte(commented), "gt-health")
	f.Add([]byte(commented), "gt-db")
	f.Add([]byte("--- {kind: Bead, metadata: {name: gt-a}, spec: {title: A}}\n"), "gt-a")
	f.Fuzz(func(t *testing.T, data []byte, id string) {
		const file = ".gastown/f.yaml"
		out, err := CloseBead(file, data, id)
		if err != nil {
			return
		}
		before, _, _ := ParseManifests(file, data)
		after, _, _ := ParseManifests(file, out)
		if len(before) != len(after) {
			t.Fatalf("closing %q changed the beads from %d to %d:\n%s", id, len(before), len(after), out)
		}
		closed := false // CloseBead closes the first bead with the ID
		for i, b := range after {
			switch {
			case b.ID == id && !closed:
				if b.Spec.Status != "closed" {
					t.Fatalf("bead %q is %q after closing:\n%s", id, b.Spec.Status, out)
				}
				closed = true
			case b.Spec.Status != before[i].Spec.Status:
				t.Fatalf("closing %q changed bead %q:\n%s", id, b.ID, out)
			}
		}
	})
}
