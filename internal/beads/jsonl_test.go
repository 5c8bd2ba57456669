package beads

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

const jsonlFile = ".beads/issues.jsonl"

func TestParseJSONLMapsFields(t *testing.T) {
	// As bd writes it: many fields the operator does not read.
	const issues = `{"id":"gt-a1b","title":"Add a /health endpoint","description":"Return 200.","design":"","acceptance_criteria":"go test passes","notes":"","status":"in_progress","priority":1,"issue_type":"feature","assignee":"max","created_at":"2025-10-01T10:00:00Z","updated_at":"2025-10-02T10:00:00Z","labels":["http","api"],"dependencies":[{"issue_id":"gt-a1b","depends_on_id":"gt-c2d","type":"blocks","created_at":"2025-10-01T10:00:00Z","created_by":"max"},{"issue_id":"gt-a1b","depends_on_id":"gt-epic","type":"parent-child"},{"issue_id":"gt-a1b","depends_on_id":"gt-x","type":"related"},{"issue_id":"gt-a1b","depends_on_id":"gt-y","type":"discovered-from"},{"issue_id":"gt-a1b","depends_on_id":"gt-c2d","type":"conditional-blocks"},{"issue_id":"gt-a1b","depends_on_id":"gt-mol","type":"waits-for","metadata":"{\"gate\":\"any-children\"}"},{"issue_id":"gt-a1b","depends_on_id":"gt-t","type":"tracks"}],"external_ref":"gh-12"}

{"id":"gt-c2d","title":"Add a store","status":"closed","closed_at":"2025-10-03T10:00:00Z"}
{"id":"gt-del","title":"Deleted","status":"tombstone","issue_type":"task","priority":4}
{"id":"gt-msg.1","title":"Mail for the mayor","status":"hooked","issue_type":"message","ephemeral":true}
`
	beads, errs := ParseJSONL(jsonlFile, []byte(issues))
	if len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	one, two := int32(1), int32(2)
	want := []Bead{
		{
			ID: "gt-a1b",
			Spec: gastownv1.BeadSpec{
				ID:          "gt-a1b",
				Title:       "Add a /health endpoint",
				Description: "Return 200.",
				Acceptance:  "go test passes",
				Type:        "feature",
				Priority:    &one,
				Status:      gastownv1.BeadInProgress,
				DependsOn:   []string{"gt-c2d"},
				Parents:     []string{"gt-epic"},
				WaitsFor:    []string{"gt-mol"},
				WaitsForAny: []string{"gt-mol"},
				Labels:      []string{"http", "api"},
				SourcePath:  jsonlFile,
			},
			File: jsonlFile,
			Line: 1,
		},
		{
			ID:   "gt-c2d",
			Spec: gastownv1.BeadSpec{ID: "gt-c2d", Title: "Add a store", Type: "task", Priority: &two, Status: gastownv1.BeadClosed, SourcePath: jsonlFile},
			File: jsonlFile,
			Line: 3,
		},
		{
			ID: "gt-msg.1",
			Spec: gastownv1.BeadSpec{ID: "gt-msg.1", Title: "Mail for the mayor", Type: "message", Priority: &two,
				Status: gastownv1.BeadHooked, Ephemeral: true, SourcePath: jsonlFile},
			File: jsonlFile,
			Line: 5,
		},
	}
	if diff := cmp.Diff(want, beads); diff != "" {
		t.Errorf("beads (-want +got):\n%s", diff)
	}
}

func TestParseJSONLReportsEachRule(t *testing.T) {
	const ok = `{"id":"gt-ok","title":"OK"}`
	tests := []struct {
		name  string
		jsonl string
		want  []string
	}{
		{
			name:  "blank lines and CRLF line ends",
			jsonl: "\n" + ok + "\r\n  \r\n",
		},
		{
			name:  "not JSON",
			jsonl: ok + "\n{\"id\":\"gt-a\",title:\"A\"}\n",
			want:  []string{".beads/issues.jsonl:2: invalid JSON at column 14: invalid character 't' looking for beginning of object key string"},
		},
		{
			name:  "truncated line",
			jsonl: ok + "\n" + ok + "\n{\"id\":\"gt-a\"\n",
			want:  []string{".beads/issues.jsonl:3: invalid JSON at column 12: unexpected end of JSON input"},
		},
		{
			name:  "not an object",
			jsonl: `["gt-a"]`,
			want:  []string{".beads/issues.jsonl:1: expected a JSON object, got a list"},
		},
		{
			name:  "priority of the wrong type",
			jsonl: `{"id":"gt-a","title":"A","priority":"high"}`,
			want:  []string{".beads/issues.jsonl:1: priority: expected an integer, got a string"},
		},
		{
			name:  "labels of the wrong type",
			jsonl: `{"id":"gt-a","title":"A","labels":"http"}`,
			want:  []string{".beads/issues.jsonl:1: labels: expected a list, got a string"},
		},
		{
			name:  "dependency of the wrong type",
			jsonl: `{"id":"gt-a","title":"A","dependencies":[{"depends_on_id":7}]}`,
			want:  []string{".beads/issues.jsonl:1: dependencies.depends_on_id: expected a string, got a number"},
		},
		{
			name:  "priority out of range",
			jsonl: `{"id":"gt-a","title":"A","priority":7}`,
			want:  []string{".beads/issues.jsonl:1: priority: 7 is out of range: use 0 (highest) to 4"},
		},
		{
			name:  "id missing",
			jsonl: `{"title":"A"}`,
			want:  []string{".beads/issues.jsonl:1: id is required"},
		},
		{
			name:  "title missing",
			jsonl: `{"id":"gt-a"}`,
			want:  []string{".beads/issues.jsonl:1: title is required"},
		},
		{
			name:  "title too long",
			jsonl: `{"id":"gt-a","title":"` + strings.Repeat("x", 300) + `"}`,
			want:  []string{".beads/issues.jsonl:1: title is 300 characters long; the limit is 256"},
		},
		{
			name:  "bd child IDs and underscores are IDs",
			jsonl: ok + "\n" + `{"id":"gt-ok.1","title":"A child"}` + "\n" + `{"id":"scout_mcp-6ea.1.2","title":"A grandchild"}`,
		},
		{
			name:  "ID that is not a label value",
			jsonl: `{"id":"gt a","title":"A"}`,
			want:  []string{`.beads/issues.jsonl:1: bead ID "gt a" is not valid: use letters, digits, '-', '_' and '.', and start and end with a letter or digit`},
		},
		{
			name:  "unknown status",
			jsonl: `{"id":"gt-a","title":"A","status":"doing"}`,
			want:  []string{`.beads/issues.jsonl:1: status: "doing" is not one of open, in_progress, hooked, blocked, deferred, pinned, closed, tombstone`},
		},
		{
			name:  "unknown type",
			jsonl: `{"id":"gt-a","title":"A","issue_type":"story"}`,
			want:  []string{`.beads/issues.jsonl:1: issue_type: "story" is not one of bug, feature, task, chore, epic, merge-request, gate, molecule, message, agent, role, rig, event, decision, convoy`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := ParseJSONL(jsonlFile, []byte(tt.jsonl))
			if diff := cmp.Diff(tt.want, errorStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
