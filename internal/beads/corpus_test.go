package beads

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
	"testing/fstest"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads/beadstest"
)

// TestCorpusLoads reads every real issues.jsonl of the corpus: each loads
// with no error, every bead maps to a distinct object name, and a child ID
// or an underscore keeps its ID.
func TestCorpusLoads(t *testing.T) {
	for _, f := range beadstest.Corpus(t) {
		t.Run(f.Name, func(t *testing.T) {
			set := loadCorpusFile(t, f.Name)
			if len(set.Errors) > 0 {
				t.Errorf("%d errors, first: %v", len(set.Errors), set.Errors[0])
			}
			good, _ := set.Good()
			if len(good) == 0 {
				t.Fatal("no beads")
			}
			names := map[string]string{}
			for _, b := range good {
				name := gastownv1.BeadObjectName(b.ID)
				if other, dup := names[name]; dup {
					t.Errorf("beads %s and %s share the object name %s", b.ID, other, name)
				}
				names[name] = b.ID
				if b.Spec.ID != b.ID {
					t.Errorf("bead %s: spec.id %q", b.ID, b.Spec.ID)
				}
			}
			t.Logf("%d beads, %d warnings", len(good), len(set.Warnings))
		})
	}
}

// TestCorpusCloseChangesOneLine closes an open bead of every corpus file:
// only its line changes, and in it only the fields bd close writes.
func TestCorpusCloseChangesOneLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, f := range beadstest.Corpus(t) {
		t.Run(f.Name, func(t *testing.T) {
			data := beadstest.Read(t, f.Name)
			set := loadCorpusFile(t, f.Name)
			var target *Bead
			for i := range set.Beads {
				if set.Beads[i].Spec.Status != gastownv1.BeadClosed {
					target = &set.Beads[i]
					break
				}
			}
			if target == nil {
				t.Fatal("no bead to close")
			}
			out, err := closeBead(JSONLFile, data, target.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			before, after := bytes.SplitAfter(data, []byte("\n")), bytes.SplitAfter(out, []byte("\n"))
			if len(before) != len(after) {
				t.Fatalf("%d lines before, %d after", len(before), len(after))
			}
			changed := 0
			for i := range before {
				if bytes.Equal(before[i], after[i]) {
					continue
				}
				changed++
				if i+1 != target.Line {
					t.Errorf("line %d changed, want only line %d", i+1, target.Line)
				}
				var was, is map[string]any
				if json.Unmarshal(before[i], &was) != nil || json.Unmarshal(after[i], &is) != nil {
					t.Fatalf("line %d: not JSON after closing:\n%s", i+1, after[i])
				}
				if is["status"] != "closed" || is["updated_at"] != now.Format(time.RFC3339Nano) || is["closed_at"] == nil || is["close_reason"] == nil {
					t.Errorf("closed line: status %v, updated_at %v, closed_at %v, close_reason %v", is["status"], is["updated_at"], is["closed_at"], is["close_reason"])
				}
				for _, k := range []string{"status", "updated_at", "closed_at", "close_reason"} {
					delete(was, k)
					delete(is, k)
				}
				if !maps.EqualFunc(was, is, func(a, b any) bool { x, _ := json.Marshal(a); y, _ := json.Marshal(b); return bytes.Equal(x, y) }) {
					t.Errorf("line %d: fields other than bd close's changed", i+1)
				}
			}
			if changed != 1 {
				t.Errorf("%d lines changed, want 1", changed)
			}
			// Read again, the bead is closed and nothing else moved.
			reread, err := Load(fstest.MapFS{".beads/issues.jsonl": {Data: out}}, ".beads", Options{Format: gastownv1.FormatBeadsJSONL})
			if err != nil || len(reread.Errors) > 0 || len(reread.Beads) != len(set.Beads) {
				t.Fatalf("reading the closed file: %v %v, %d beads, want %d", err, reread.Errors, len(reread.Beads), len(set.Beads))
			}
		})
	}
}

func loadCorpusFile(t testing.TB, name string) *Set {
	t.Helper()
	fsys := fstest.MapFS{".beads/issues.jsonl": {Data: beadstest.Read(t, name)}}
	set, err := Load(fsys, ".beads", Options{Format: gastownv1.FormatBeadsJSONL})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// BenchmarkLoadGasTown parses Gas Town's own issues.jsonl (1.77 MB, 2,669
// lines) as the BeadStore does. MB/s is the parse throughput.
func BenchmarkLoadGasTown(b *testing.B) {
	data := beadstest.Read(b, "steveyegge__gastown")
	fsys := fstest.MapFS{".beads/issues.jsonl": {Data: data}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		set, err := Load(fsys, ".beads", Options{Format: gastownv1.FormatBeadsJSONL})
		if err != nil || len(set.Errors) > 0 {
			b.Fatalf("load: %v %v", err, set.Errors)
		}
	}
}
