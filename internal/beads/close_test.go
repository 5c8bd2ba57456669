package beads

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// commented is a bead file as people write them: comments everywhere, keys
// in their own order, four-space indentation in places.
const commented = `# Sprint 12 beads.
apiVersion: gastown.gastown.io/v1alpha1   # the group
kind: Bead
metadata:
  name: gt-health
spec:
  # What to do.
  title: Add a /health endpoint
  description: |
    Return 200 and {"status":"ok"}.

    status: this line is text, not a key
  status: open    # open until merged
  dependsOn: [gt-db]
---
# The store.
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
    name: gt-db
spec:
    # no status yet
    title: Add a store
    priority: 1
`

func TestCloseBeadYAML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		id   string
		want string
	}{
		{
			name: "replaces the status, keeping every other byte",
			in:   commented,
			id:   "gt-health",
			want: strings.Replace(commented, "  status: open    # open", "  status: closed    # open", 1),
		},
		{
			name: "inserts a status among the spec's keys with their indentation",
			in:   commented,
			id:   "gt-db",
			want: strings.Replace(commented, "spec:\n    # no status yet\n", "spec:\n    status: closed\n    # no status yet\n", 1),
		},
		{
			name: "already closed",
			in:   strings.Replace(commented, "status: open", "status: closed", 1),
			id:   "gt-health",
			want: strings.Replace(commented, "status: open", "status: closed", 1),
		},
		{
			name: "double-quoted status",
			in:   "kind: Bead\nmetadata: {name: gt-a}\nspec:\n  status: \"open\" # quoted\n  title: A\n",
			id:   "gt-a",
			want: "kind: Bead\nmetadata: {name: gt-a}\nspec:\n  status: closed # quoted\n  title: A\n",
		},
		{
			name: "single-quoted status",
			in:   "kind: Bead\nmetadata: {name: gt-a}\nspec:\n  title: A\n  status: 'open'\n",
			id:   "gt-a",
			want: "kind: Bead\nmetadata: {name: gt-a}\nspec:\n  title: A\n  status: closed\n",
		},
		{
			name: "empty status",
			in:   "kind: Bead\nmetadata: {name: gt-a}\nspec:\n  title: A\n  status:\n  priority: 1\n",
			id:   "gt-a",
			want: "kind: Bead\nmetadata: {name: gt-a}\nspec:\n  title: A\n  status: closed\n  priority: 1\n",
		},
		{
			name: "CRLF line ends",
			in:   "kind: Bead\r\nmetadata:\r\n  name: gt-a\r\nspec:\r\n  title: A\r\n",
			id:   "gt-a",
			want: "kind: Bead\r\nmetadata:\r\n  name: gt-a\r\nspec:\r\n  status: closed\r\n  title: A\r\n",
		},
		{
			name: "a convoy of the same name is not the bead",
			in:   "kind: Convoy\nmetadata: {name: gt-a}\nspec:\n  trackedBeads: [gt-a]\n---\nkind: Bead\nmetadata: {name: gt-a}\nspec:\n  title: A\n",
			id:   "gt-a",
			want: "kind: Convoy\nmetadata: {name: gt-a}\nspec:\n  trackedBeads: [gt-a]\n---\nkind: Bead\nmetadata: {name: gt-a}\nspec:\n  status: closed\n  title: A\n",
		},
		{
			name: "flow-style spec re-encodes only its document",
			in:   "# first\nkind: Bead\nmetadata: {name: gt-a}\nspec: {title: A}\n---\n# second\nkind: Bead # keep\nmetadata: {name: gt-b}\nspec: {title: B, status: open}\n---\n# third\nkind: Bead\n",
			id:   "gt-b",
			want: "# first\nkind: Bead\nmetadata: {name: gt-a}\nspec: {title: A}\n---\n# second\nkind: Bead # keep\nmetadata: {name: gt-b}\nspec: {title: B, status: closed}\n---\n# third\nkind: Bead\n",
		},
		{
			name: "flow-style document on its marker line",
			in:   "--- {kind: Bead, metadata: {name: gt-a}, spec: {title: A}}\n",
			id:   "gt-a",
			want: "---\n{kind: Bead, metadata: {name: gt-a}, spec: {title: A, status: closed}}\n",
		},
		{
			name: "status as a block scalar re-encodes the document",
			in:   "kind: Bead\nmetadata:\n  name: gt-a\nspec:\n  title: A\n  status: |\n    open\n",
			id:   "gt-a",
			want: "kind: Bead\nmetadata:\n  name: gt-a\nspec:\n  title: A\n  status: closed\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CloseBead(testFile, []byte(tt.in), tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("closed file (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCloseBeadResultValidates(t *testing.T) {
	for _, id := range []string{"gt-health", "gt-db"} {
		out, err := CloseBead(testFile, []byte(commented), id)
		if err != nil {
			t.Fatal(err)
		}
		beads, _, errs := ParseManifests(testFile, out)
		if len(errs) > 0 {
			t.Fatalf("closing %s: %v", id, errs)
		}
		for _, b := range beads {
			if wantClosed := b.ID == id; (b.Spec.Status == "closed") != wantClosed {
				t.Errorf("closing %s: bead %s has status %s", id, b.ID, b.Spec.Status)
			}
		}
	}
}

func TestCloseBeadErrors(t *testing.T) {
	tests := []struct {
		name, file, in, id, want string
	}{
		{"bead not in the file", testFile, commented, "gt-nope", `.gastown/a.yaml: no bead "gt-nope" in the file`},
		{"bead without a spec", testFile, "kind: Bead\nmetadata: {name: gt-a}\n", "gt-a", `.gastown/a.yaml: bead "gt-a" has no spec mapping to set the status in`},
		{"invalid YAML", testFile, "kind: [Bead\n", "gt-a", ".gastown/a.yaml:2: invalid YAML: did not find expected ',' or ']'"},
		{"bead not in the jsonl", jsonlFile, `{"id":"gt-a","title":"A"}` + "\n", "gt-b", `.beads/issues.jsonl: no bead "gt-b" in the file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CloseBead(tt.file, []byte(tt.in), tt.id)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCloseBeadJSONL(t *testing.T) {
	const issues = `{"id":"gt-a","title":"A","status":"open","priority":1,"created_at":"2025-10-01T10:00:00Z","closed_at":null}
{"id":"gt-b","title":"B", "status" : "in_progress" ,"labels":["x"]}
{"id":"gt-c","title":"C"}
{"id":"gt-d","title":"D","status":"closed"}
{"id":"gt-e","title":"E","closed_at":"2025-10-01T10:00:00Z","status":"open"}
`
	now := time.Date(2025, 10, 2, 12, 30, 0, 0, time.FixedZone("CEST", 2*60*60))
	lines := strings.SplitAfter(issues, "\n")
	tests := []struct {
		name, in, id string
		want         string
	}{
		{
			name: "replaces the status in place",
			in:   issues,
			id:   "gt-a",
			want: `{"id":"gt-a","title":"A","status":"closed","priority":1,"created_at":"2025-10-01T10:00:00Z","closed_at":"2025-10-02T10:30:00Z","updated_at":"2025-10-02T10:30:00Z","close_reason":"Closed"}` + "\n" + strings.Join(lines[1:], ""),
		},
		{
			name: "keeps the spacing around the field",
			in:   issues,
			id:   "gt-b",
			want: lines[0] + `{"id":"gt-b","title":"B", "status" : "closed" ,"labels":["x"],"updated_at":"2025-10-02T10:30:00Z","closed_at":"2025-10-02T10:30:00Z","close_reason":"Closed"}` + "\n" + strings.Join(lines[2:], ""),
		},
		{
			name: "adds a missing status last",
			in:   issues,
			id:   "gt-c",
			want: strings.Join(lines[:2], "") + `{"id":"gt-c","title":"C","status":"closed","updated_at":"2025-10-02T10:30:00Z","closed_at":"2025-10-02T10:30:00Z","close_reason":"Closed"}` + "\n" + strings.Join(lines[3:], ""),
		},
		{
			name: "keeps a closed_at already set",
			in:   issues,
			id:   "gt-e",
			want: strings.Join(lines[:4], "") + `{"id":"gt-e","title":"E","closed_at":"2025-10-01T10:00:00Z","status":"closed","updated_at":"2025-10-02T10:30:00Z","close_reason":"Closed"}` + "\n",
		},
		{
			name: "already closed",
			in:   issues,
			id:   "gt-d",
			want: issues,
		},
		{
			name: "CRLF line ends",
			in:   "{\"id\":\"gt-a\",\"status\":\"open\"}\r\n{\"id\":\"gt-b\"}\r\n",
			id:   "gt-a",
			want: "{\"id\":\"gt-a\",\"status\":\"closed\",\"updated_at\":\"2025-10-02T10:30:00Z\",\"closed_at\":\"2025-10-02T10:30:00Z\",\"close_reason\":\"Closed\"}\r\n{\"id\":\"gt-b\"}\r\n",
		},
		{
			name: "replaces updated_at, keeps a close_reason, and closes the newer copy of a duplicated ID",
			in: `{"id":"gt-a","status":"open","updated_at":"2025-10-01T10:00:00Z"}` + "\n" +
				`{"id":"gt-a","status":"open","updated_at":"2025-10-01T11:00:00Z","close_reason":"done","x":{"id":"gt-a"}}` + "\n",
			id: "gt-a",
			want: `{"id":"gt-a","status":"open","updated_at":"2025-10-01T10:00:00Z"}` + "\n" +
				`{"id":"gt-a","status":"closed","updated_at":"2025-10-02T10:30:00Z","close_reason":"done","x":{"id":"gt-a"},"closed_at":"2025-10-02T10:30:00Z"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := closeBead(jsonlFile, []byte(tt.in), tt.id, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("closed file (-want +got):\n%s", diff)
			}
		})
	}
}
