// Package beadstest finds the corpus of real beads (bd) issue files that
// tests read: ../shared/data/beads-real beside the project, or the folder
// $GASTOWN_BEADS_CORPUS names. The files are not copied into the
// repository.
package beadstest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/boshu2/gastown-operator/internal/testenv"
)

// CorpusEnv names the folder of the corpus, overriding the default.
const CorpusEnv = "GASTOWN_BEADS_CORPUS"

// CorpusFile is one issues.jsonl of the corpus.
type CorpusFile struct {
	// Name is the file's base name without .jsonl, such as
	// steveyegge__gastown (owner__repository).
	Name string
	// Path is the file's absolute path.
	Path string
}

// Corpus returns the corpus files, sorted. When the corpus is missing the
// test fails under CI (CI=true) and is skipped elsewhere, with a message
// naming CorpusEnv.
func Corpus(t testing.TB) []CorpusFile {
	t.Helper()
	dir := os.Getenv(CorpusEnv)
	if dir == "" {
		root, err := testenv.ProjectRoot()
		if err != nil {
			t.Fatalf("finding the project root: %v", err)
		}
		dir = filepath.Join(root, "..", "shared", "data", "beads-real")
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(paths) == 0 {
		msg := "no beads corpus (*.jsonl) in " + dir + ": set $" + CorpusEnv + " to the folder of the real issues.jsonl files"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	sort.Strings(paths)
	var out []CorpusFile
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, CorpusFile{Name: strings.TrimSuffix(filepath.Base(p), ".jsonl"), Path: abs})
	}
	return out
}

// Read returns the content of a corpus file by name, failing the test when
// it is not in the corpus.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	for _, f := range Corpus(t) {
		if f.Name == name {
			data, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatalf("%s.jsonl is not in the beads corpus", name)
	return nil
}
