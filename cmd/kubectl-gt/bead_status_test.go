package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// TestBeadStatusMerged prints a bead whose pull request merged, with
// everything a status can hold.
func TestBeadStatusMerged(t *testing.T) {
	exit := int32(0)
	merged := metav1.NewTime(time.Now().Add(-time.Hour))
	bead := &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-health-1-0a1b2c3d", Namespace: "gastown-workers"},
		Spec: gastownv1.BeadSpec{
			ID: "gt-health.1", Parents: []string{"gt-health"},
			RigRef: "my-project", Title: "Add a /health endpoint", Type: "feature",
			Description: "Return 200 and {\"status\":\"ok\"}.\nAdd a test.\n", Acceptance: "go test ./... passes",
			DependsOn: []string{"gt-db", "gt-api"}, Agent: &gastownv1.AgentSpec{Type: gastownv1.AgentClaudeCode,
				AgentConfig: gastownv1.AgentConfig{Model: "claude-sonnet-4-5"}},
		},
		Status: gastownv1.BeadStatus{
			Phase:    gastownv1.BeadPhaseMerged,
			Polecat:  "gt-health-2",
			Branch:   "polecat/gt-health",
			Commit:   "1111111111111111111111111111111111111111",
			Dispatch: &gastownv1.DispatchStatus{Attempts: 2, Runs: 2, LastDispatchTime: &merged},
			Result: &gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, FilesChanged: 1, AgentExitCode: &exit,
				CostUSD: "1.05", InputTokens: 1200, OutputTokens: 800, Summary: "Added /health."},
			PullRequest: &gastownv1.PullRequestStatus{Number: 12, URL: "https://github.com/acme/app/pull/12", State: gastownv1.PullRequestMerged,
				HeadBranch: "polecat/gt-health", MergeCommit: "2222222222222222222222222222222222222222", MergedAt: &merged, Revisions: 1},
		},
	}
	conditions.MarkFalse(bead, meta.ReadyCondition, gastownv1.PullRequestMergedReason,
		"pull request #12 merged as 222222222222; waiting for the source to show the bead closed")

	var out bytes.Buffer
	if err := printBeadStatus(&out, bead); err != nil {
		t.Fatal(err)
	}
	want := `Name:         gt-health-1-0a1b2c3d
ID:           gt-health.1
Namespace:    gastown-workers
Rig:          my-project
Title:        Add a /health endpoint
Type:         feature
Priority:     2
In git:       open
Depends on:   gt-db, gt-api
Parents:      gt-health
Agent:        claude-code (model claude-sonnet-4-5)
Phase:        Merged: pull request #12 merged as 222222222222; waiting for the source to show the bead closed
Dispatch:     attempt 2 for this spec, 2 runs in all, last at TIME
Polecat:      gt-health-2
Branch:       polecat/gt-health
Commit:       1111111111111111111111111111111111111111
Result:       Pushed: 1 file changed, agent exit code 0, cost $1.05, 1200 input and 800 output tokens
Summary:      Added /health.
Pull request: #12, merged
  URL:        https://github.com/acme/app/pull/12
  Branch:     polecat/gt-health
  Merge SHA:  2222222222222222222222222222222222222222
  Merged at:  TIME
  Follow-ups: 1 revision, 0 conflict fixes
Description:
  Return 200 and {"status":"ok"}.
  Add a test.
Acceptance:
  go test ./... passes
`
	if diff := cmp.Diff(want, stable(out.String())); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
