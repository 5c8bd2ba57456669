package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// TestGet checks the list and status commands against a rig the operator
// would have mid-flight.
func TestGet(t *testing.T) {
	seedRig(t, "acme")

	tests := []struct {
		name    string
		args    []string
		wantOut string
	}{
		{
			name: "rig list",
			args: []string{"rig", "list"},
			wantOut: `NAME   PHASE   SOURCE     POLECATS   READY BEADS   READY   MESSAGE
acme   Ready   acme/app   1/4        1             True    1 polecats running, 1 beads ready
`,
		},
		{
			name: "rig status",
			args: []string{"rig", "status", "acme"},
			wantOut: `Name:              acme
Phase:             Ready: 1 polecats running, 1 beads ready
Source:            GitRepository acme/app
Git URL:           https://github.com/acme/app.git
Base branch:       main
Workers namespace: acme
Agent:             claude-code
Execution mode:    kubernetes
Limits:            4 polecats at once, 2 retries
Conditions:
  TYPE          STATUS   REASON                    MESSAGE
  Ready         True     ReconciliationSucceeded   1 polecats running, 1 beads ready
  SourceReady   True     Succeeded                 GitRepository acme/app has an artifact
Components:
  KIND        NAME   PHASE        READY   SUMMARY
  BeadStore   acme   Synced       True    revision main@sha1:0123456789abcdef0123456789abcdef01234567, 4 beads, 2 convoys
  Refinery    acme   Processing   True    1 pull request queued, 1 merged, 0 failed
  Witness     acme   Active       False   1 running, 0 stuck, 0 findings; polecat gt-api wrote nothing for 20m
Beads:  4 (1 Ready, 1 Working, 1 InReview, 1 Closed)
Polecats:  1 running (limit 4)
  NAME     BEAD     PHASE     AGENT         AGE
  gt-api   gt-api   Working   claude-code   AGE
`,
		},
		{
			name: "bead list of a rig",
			args: []string{"bead", "list", "--rig", "acme"},
			wantOut: `ID        PHASE      PRIORITY   POLECAT   PR                                   TITLE
gt-api    Working    1          gt-api    -                                    Add the API
gt-db     InReview   0          gt-db     https://github.com/acme/app/pull/7   Add the database
gt-docs   Ready      2          -         -                                    Write the docs
gt-init   Closed     3          -         -                                    Initial import
`,
		},
		{
			name: "bead list of a phase in all namespaces",
			args: []string{"bead", "list", "-A", "--phase", "inreview"},
			wantOut: `NAMESPACE   ID      PHASE      PRIORITY   POLECAT   PR                                   TITLE
acme        gt-db   InReview   0          gt-db     https://github.com/acme/app/pull/7   Add the database
`,
		},
		{
			name: "bead status in review",
			args: []string{"bead", "status", "gt-db", "--rig", "acme"},
			wantOut: `Name:         gt-db
Namespace:    acme
Rig:          acme
Title:        Add the database
Type:         task
Priority:     0
In git:       open, in .gastown/gt-db.yaml
Phase:        InReview: pull request #7 is open: 1 approval missing
Dispatch:     attempt 2 for this spec, 2 runs in all
Polecat:      gt-db
Branch:       polecat/gt-db
Commit:       9f8e7d6c5b4a39281706f5e4d3c2b1a098765432
Result:       Pushed: 3 files changed, cost $0.42
Summary:      Added a Postgres schema and its migrations.
Pull request: #7, open
  URL:        https://github.com/acme/app/pull/7
  Branch:     polecat/gt-db
  Gate:       1 approval missing
`,
		},
		{
			name: "bead status ready",
			args: []string{"bead", "status", "gt-docs", "-n", "acme"},
			wantOut: `Name:      gt-docs
Namespace: acme
Rig:       acme
Title:     Write the docs
Type:      task
Priority:  2
In git:    open, in .gastown/gt-docs.yaml
Phase:     Ready: waiting for a polecat slot
Dispatch:  never dispatched
`,
		},
		{
			name: "polecat list",
			args: []string{"polecat", "list", "-n", "acme"},
			wantOut: `NAME     BEAD     PHASE       AGENT         BRANCH           AGE
gt-api   gt-api   Working     claude-code   polecat/gt-api   AGE
gt-db    gt-db    Succeeded   opencode      polecat/gt-db    AGE
`,
		},
		{
			name: "convoy list",
			args: []string{"convoy", "list", "--rig", "acme"},
			wantOut: `NAME     PHASE        PROGRESS   PARALLELISM
later    -            0/2        rig limit
sprint   InProgress   0/3        2
`,
		},
		{
			name: "convoy status",
			args: []string{"convoy", "status", "sprint", "--rig", "acme"},
			wantOut: `Name:        sprint
Namespace:   acme
Rig:         acme
Description: The first release
Phase:       InProgress: 0 of 3 beads closed
Progress:    0/3
Parallelism: 2
Beads (3):
  BEAD      PHASE      POLECAT   PR                                   TITLE
  gt-db     InReview   gt-db     https://github.com/acme/app/pull/7   Add the database
  gt-api    Working    gt-api    -                                    Add the API
  gt-docs   Ready      -         -                                    Write the docs
`,
		},
		{
			name: "convoy status with a missing bead",
			args: []string{"convoy", "status", "later", "-n", "acme"},
			wantOut: `Name:        later
Namespace:   acme
Rig:         acme
Phase:       not evaluated yet
Progress:    0/2
Parallelism: rig limit
Beads (2):
  BEAD        PHASE      POLECAT   PR   TITLE
  gt-init     Closed     -         -    Initial import
  gt-search   NotFound   -         -    no bead gt-search in namespace acme
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gt(tt.args...)
			if code != exitOK || errOut != "" {
				t.Errorf("exit code %d, stderr %q; want 0 and nothing", code, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, stable(out)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	namespace(t, "empty")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no rig", []string{"rig", "status", "nope"}, exitFailed,
			"Error: rig \"nope\" not found: list the rigs with 'kubectl gt rig list'\n"},
		{"no bead", []string{"bead", "status", "gt-x", "-n", "empty"}, exitFailed,
			"Error: bead \"gt-x\" not found in namespace empty: list them with 'kubectl gt bead list -n empty'\n"},
		{"no convoy", []string{"convoy", "status", "x", "-n", "empty"}, exitFailed,
			"Error: convoy \"x\" not found in namespace empty: list them with 'kubectl gt convoy list -n empty'\n"},
		{"no polecat", []string{"polecat", "logs", "x", "-n", "empty"}, exitFailed,
			"Error: polecat \"x\" not found in namespace empty: list them with 'kubectl gt polecat list -n empty'\n"},
		{"list of an unknown rig", []string{"bead", "list", "--rig", "nope"}, exitFailed,
			"Error: rig \"nope\" not found: list the rigs with 'kubectl gt rig list'\n"},
		{"empty list", []string{"polecat", "list", "-n", "empty"}, exitOK,
			"No polecats found in namespace empty.\n"},
		{"bad phase", []string{"bead", "list", "--phase", "Done"}, exitUsage,
			"Error: --phase \"Done\": use one of Open, Blocked, Ready, Working, InReview, Merged, Closed, Failed, Rejected\nRun 'kubectl gt bead list --help' for usage.\n"},
		{"bad output", []string{"rig", "list", "-o", "wide"}, exitUsage,
			"Error: --output \"wide\": use yaml or json\nRun 'kubectl gt rig list --help' for usage.\n"},
		{"status without a name", []string{"bead", "status"}, exitUsage,
			"Error: accepts 1 arg(s), received 0\nRun 'kubectl gt bead status --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gt(tt.args...)
			if code != tt.wantCode || out != "" {
				t.Errorf("exit code %d, stdout %q; want %d and nothing", code, out, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantErr, errOut); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefaultNamespace checks that a command without -n or --rig reads the
// default workers namespace, as the kubeconfig names none.
func TestDefaultNamespace(t *testing.T) {
	namespace(t, gastownv1.DefaultWorkersNamespace)
	b := &gastownv1.Bead{}
	b.Name, b.Namespace, b.Spec.Title = "gt-here", gastownv1.DefaultWorkersNamespace, "Here"
	create(t, b, nil)
	code, out, errOut := gt("bead", "list")
	if code != exitOK || !strings.HasPrefix(strings.Split(out, "\n")[1], "gt-here ") {
		t.Errorf("exit code %d, stderr %q, output:\n%s", code, errOut, out)
	}
}

func TestStructuredOutput(t *testing.T) {
	seedRig(t, "acme-out")

	code, out, _ := gt("bead", "list", "--rig", "acme-out", "-o", "json")
	var list gastownv1.BeadList
	if err := json.Unmarshal([]byte(out), &list); code != exitOK || err != nil {
		t.Fatalf("exit code %d, decoding the output: %v\n%s", code, err, out)
	}
	if list.Kind != "BeadList" || len(list.Items) != 4 || list.Items[1].Kind != "Bead" || list.Items[1].Status.PullRequest.Number != 7 {
		t.Errorf("bead list -o json: kind %q, %d items, want BeadList with 4 beads and their kind and status", list.Kind, len(list.Items))
	}

	code, out, _ = gt("polecat", "list", "--rig", "acme-out", "-o", "yaml")
	var pcs gastownv1.PolecatList
	if err := yaml.Unmarshal([]byte(out), &pcs); code != exitOK || err != nil || len(pcs.Items) != 2 {
		t.Fatalf("polecat list -o yaml: exit code %d, %v, %d items\n%s", code, err, len(pcs.Items), out)
	}
	if strings.Contains(out, "managedFields") {
		t.Errorf("polecat list -o yaml prints managed fields:\n%s", out)
	}

	code, out, _ = gt("rig", "status", "acme-out", "-o", "yaml")
	if code != exitOK || !strings.HasPrefix(out, "apiVersion: gastown.gastown.io/v1alpha1\nkind: Rig\n") {
		t.Errorf("rig status -o yaml: exit code %d\n%s", code, out)
	}
}
