package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/boshu2/gastown-operator/internal/beads/beadstest"
)

func TestReady(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{
			// gt-d4.1 (priority 0) is the child of an epic blocked by the
			// open gt-b2; gt-b2.1 is the child of an open, unblocked
			// feature; gt-c3 is in progress; gt-m6 is a merge request;
			// gt-e5's missing dependency blocks nothing.
			name: "bd's rules, in dispatch order",
			args: []string{"ready", "testdata/jsonl", "--format", "beads-jsonl"},
			wantOut: `ID        PRIORITY   TYPE      TITLE
gt-b2     1          feature   Add a /health endpoint
gt-b2.1   2          task      Test /health
gt-e5     3          chore     Upgrade Go
`,
			wantErr: "testdata/jsonl/issues.jsonl:7: warning: bead \"gt-e5\" has a blocking dependency on \"gt-gone\", which is not in the file; it blocks nothing\n",
		},
		{
			name: "work types widened",
			args: []string{"ready", "testdata/jsonl", "--format", "beads-jsonl", "--work-types", "task,feature,merge-request"},
			wantOut: `ID        PRIORITY   TYPE            TITLE
gt-m6     0          merge-request   Merge polecat/gt-x
gt-b2     1          feature         Add a /health endpoint
gt-b2.1   2          task            Test /health
`,
		},
		{
			name:     "a broken line stops only itself",
			args:     []string{"ready", "testdata/jsonl-broken", "--format", "beads-jsonl"},
			wantCode: exitFailed,
			wantOut: `ID      PRIORITY   TYPE   TITLE
gt-a1   1          task   Add a store
gt-c3   2          task   Fine
`,
			wantErr: "testdata/jsonl-broken/issues.jsonl:2: invalid JSON at column 31: unexpected end of JSON input\n",
		},
		{
			name:    "manifests",
			args:    []string{"ready", "../../examples"},
			wantOut: "ID          PRIORITY  TYPE     TITLE\n",
		},
		{
			name:     "unknown format",
			args:     []string{"ready", "testdata/jsonl", "--format", "toml"},
			wantCode: exitUsage,
			wantErr:  "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCommand(tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if tt.name == "manifests" {
				if !strings.HasPrefix(out, "ID ") {
					t.Errorf("output %q", out)
				}
				return
			}
			if tt.wantCode == exitUsage {
				return
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if diff := cmp.Diff(tt.wantErr, errOut); diff != "" {
					t.Errorf("stderr (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestReadyJSON(t *testing.T) {
	code, out, _ := runCommand("ready", "testdata/jsonl", "--format", "beads-jsonl", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit code %d", code)
	}
	var got []readyBead
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	want := []readyBead{
		{ID: "gt-b2", Title: "Add a /health endpoint", Type: "feature", Priority: 1, Status: "open", File: "testdata/jsonl/issues.jsonl", Line: 2},
		{ID: "gt-b2.1", Title: "Test /health", Type: "task", Priority: 2, Status: "open", File: "testdata/jsonl/issues.jsonl", Line: 3},
		{ID: "gt-e5", Title: "Upgrade Go", Type: "chore", Priority: 3, Status: "open", File: "testdata/jsonl/issues.jsonl", Line: 7},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ready (-want +got):\n%s", diff)
	}
}

// TestCorpusValidateAndReady runs validate and ready on every real issues
// file of the corpus: each validates with exit code 0 (warnings allowed),
// and ready prints JSON.
func TestCorpusValidateAndReady(t *testing.T) {
	for _, f := range beadstest.Corpus(t) {
		t.Run(f.Name, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "issues.jsonl"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCommand("validate", dir, "--format", "beads-jsonl")
			if code != exitOK || !strings.Contains(out, ": no errors") {
				t.Errorf("validate: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = runCommand("ready", dir, "--format", "beads-jsonl", "-o", "json")
			var ready []readyBead
			if code != exitOK || json.Unmarshal([]byte(out), &ready) != nil {
				t.Errorf("ready: exit %d\n%s%s", code, out, errOut)
			}
			t.Logf("%s: %d ready", f.Name, len(ready))
		})
	}
}
