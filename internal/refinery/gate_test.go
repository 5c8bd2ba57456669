package refinery

import (
	"strings"
	"testing"
)

func TestGate(t *testing.T) {
	yes, no := true, false
	clean := &PullRequest{Number: 1, BaseBranch: "main", Mergeable: &yes, MergeableState: "clean"}
	green := CheckSummary{State: CheckSuccess, Checks: map[string]string{"test": CheckSuccess}}
	approve := func(id int64, user string) Review { return Review{ID: id, User: user, State: "APPROVED"} }
	changes := func(id int64, user string) Review {
		return Review{ID: id, User: user, State: "CHANGES_REQUESTED", Body: "fix it"}
	}
	with := func(f func(*PullRequest)) *PullRequest { pr := *clean; f(&pr); return &pr }

	tests := []struct {
		name   string
		in     GateInput
		action Action
		msg    string
	}{
		{"approved and green merges", GateInput{PR: clean, Reviews: []Review{approve(1, "ann")}, Checks: green, RequiredApprovals: 1, AutoMerge: true}, ActionMerge, "ready to merge"},
		{"no approval", GateInput{PR: clean, Checks: green, RequiredApprovals: 1, AutoMerge: true}, ActionWait, "1 approval missing"},
		{"two required, one given", GateInput{PR: clean, Reviews: []Review{approve(1, "ann"), approve(2, "ann")}, Checks: green, RequiredApprovals: 2, AutoMerge: true}, ActionWait, "1 approval missing"},
		{"zero approvals merges on green", GateInput{PR: clean, Checks: green, AutoMerge: true}, ActionMerge, ""},
		{"checks pending, with missing required ones", GateInput{PR: clean, Checks: CheckSummary{State: CheckPending, Checks: map[string]string{"lint": CheckPending}, Missing: []string{"test"}}, AutoMerge: true}, ActionWait, "waiting for checks: lint, test"},
		{"checks failed", GateInput{PR: clean, Checks: CheckSummary{State: CheckFailure, Checks: map[string]string{"test": CheckFailure, "lint": CheckSuccess}}, AutoMerge: true}, ActionWait, "checks failed: test"},
		{"autoMerge off stops before the merge", GateInput{PR: clean, Checks: green}, ActionWait, "autoMerge is off"},
		{"draft", GateInput{PR: with(func(p *PullRequest) { p.Draft = true }), Checks: green, AutoMerge: true}, ActionWait, "draft"},
		{"behind its base", GateInput{PR: with(func(p *PullRequest) { p.MergeableState = "behind" }), Checks: green, AutoMerge: true}, ActionUpdateBranch, "behind main"},
		{"conflict", GateInput{PR: with(func(p *PullRequest) { p.Mergeable = &no; p.MergeableState = "dirty" }), Checks: green, AutoMerge: true}, ActionFixConflict, "conflicts with main"},
		{"mergeability not computed yet", GateInput{PR: with(func(p *PullRequest) { p.Mergeable = nil; p.MergeableState = "unknown" }), Checks: green, AutoMerge: true}, ActionWait, "compute mergeability"},
		{"changes requested launch a revision", GateInput{PR: clean, Reviews: []Review{approve(1, "bob"), changes(2, "ann")}, Checks: green, RequiredApprovals: 1, AutoMerge: true}, ActionRevise, "ann requested changes"},
		{"a handled request waits for re-review", GateInput{PR: clean, Reviews: []Review{changes(2, "ann")}, Checks: green, AutoMerge: true, HandledReviewID: 2}, ActionWait, "waiting for ann to review the revision"},
		{"a later approval replaces the user's request for changes", GateInput{PR: clean, Reviews: []Review{changes(2, "ann"), approve(3, "ann")}, Checks: green, RequiredApprovals: 1, AutoMerge: true, HandledReviewID: 2}, ActionMerge, ""},
		{"a dismissed review does not count", GateInput{PR: clean, Reviews: []Review{approve(1, "ann"), {ID: 2, User: "ann", State: "DISMISSED"}}, Checks: green, RequiredApprovals: 1, AutoMerge: true}, ActionWait, "1 approval missing"},
		{"comments do not count", GateInput{PR: clean, Reviews: []Review{{ID: 1, User: "ann", State: "COMMENTED"}}, Checks: green, RequiredApprovals: 1, AutoMerge: true}, ActionWait, "1 approval missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Gate(tt.in)
			if got.Action != tt.action {
				t.Errorf("action %s (%s), want %s", got.Action, got.Message, tt.action)
			}
			if !strings.Contains(got.Message, tt.msg) {
				t.Errorf("message %q, want it to contain %q", got.Message, tt.msg)
			}
		})
	}
}

func TestPullRequestBodyCarriesTheMarker(t *testing.T) {
	body := PullRequestBody(BeadInfo{ID: "gt-a", Rig: "app", Title: "Add health", Description: "Return 200.",
		Polecat: "gt-a", Agent: "claude-code", Summary: "Added /health\nand a test", CostUSD: "0.42", InputTokens: 1200, OutputTokens: 300})
	for _, want := range []string{"Return 200.", "> Added /health\n> and a test", "Cost: $0.42, 1200 input and 300 output tokens.", "Polecat `gt-a` (claude-code)"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if got := BeadOfBody(body); got != "gt-a" {
		t.Errorf("BeadOfBody = %q, want gt-a", got)
	}
	if BeadOfBody("no marker here") != "" {
		t.Error("a body without the marker names a bead")
	}
}

func TestRevisionTaskHasTheReviewAndItsComments(t *testing.T) {
	task := RevisionTask(7, Review{User: "ann", Body: "Please rename the handler."},
		[]ReviewComment{{Path: "main.go", Line: 12, Body: "use http.StatusOK"}})
	for _, want := range []string{"pull request #7 by ann", "Please rename the handler.", "- main.go:12: use http.StatusOK"} {
		if !strings.Contains(task, want) {
			t.Errorf("task lacks %q:\n%s", want, task)
		}
	}
}
