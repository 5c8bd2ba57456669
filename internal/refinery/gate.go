package refinery

import (
	"fmt"
	"sort"
	"strings"
)

// Action is what the Refinery does next with a pull request.
type Action string

const (
	// ActionWait: nothing to do until a person or a check acts.
	ActionWait Action = "Wait"
	// ActionRevise: launch a revision polecat for new review comments.
	ActionRevise Action = "Revise"
	// ActionFixConflict: the branch conflicts with its base.
	ActionFixConflict Action = "FixConflict"
	// ActionUpdateBranch: the base moved on; merge it into the branch.
	ActionUpdateBranch Action = "UpdateBranch"
	// ActionMerge: every gate passed.
	ActionMerge Action = "Merge"
)

// GateInput is what a gate decision looks at.
type GateInput struct {
	PR      *PullRequest
	Reviews []Review
	Checks  CheckSummary
	// RequiredApprovals: 0 merges on green checks alone.
	RequiredApprovals int
	AutoMerge         bool
	// HandledReviewID is the latest "changes requested" review a revision
	// was already launched for.
	HandledReviewID int64
}

// GateResult is the decision and what people see of it.
type GateResult struct {
	Action Action
	// Message says what the merge waits for, e.g. "1 approval missing".
	Message string
	// ChangesRequested is the review to revise for (ActionRevise), or the
	// latest one still standing.
	ChangesRequested *Review
	// Reviewers are the users whose latest review requests changes.
	Reviewers []string
}

// Gate decides the next step for an open pull request. A person's request
// for changes comes first, then the branch's state against its base, then
// checks, then approvals.
func Gate(in GateInput) GateResult {
	approvals, changes, reviewers := latestReviews(in.Reviews)
	if changes != nil {
		if changes.ID > in.HandledReviewID {
			return GateResult{Action: ActionRevise, ChangesRequested: changes, Reviewers: reviewers,
				Message: fmt.Sprintf("%s requested changes", strings.Join(reviewers, ", "))}
		}
		return GateResult{Action: ActionWait, ChangesRequested: changes, Reviewers: reviewers,
			Message: fmt.Sprintf("waiting for %s to review the revision", strings.Join(reviewers, ", "))}
	}
	pr := in.PR
	switch {
	case pr.Draft || pr.MergeableState == "draft":
		return wait("the pull request is a draft")
	case pr.MergeableState == "dirty" || (pr.Mergeable != nil && !*pr.Mergeable && pr.MergeableState != "behind"):
		return GateResult{Action: ActionFixConflict, Message: "the branch conflicts with " + pr.BaseBranch}
	case pr.MergeableState == "behind":
		return GateResult{Action: ActionUpdateBranch, Message: "the branch is behind " + pr.BaseBranch}
	case pr.Mergeable == nil || pr.MergeableState == "unknown" || pr.MergeableState == "":
		return wait(GateComputingMergeability)
	}
	switch in.Checks.State {
	case CheckFailure:
		return wait("checks failed: " + strings.Join(checksIn(in.Checks, CheckFailure), ", "))
	case CheckPending:
		pending := append(checksIn(in.Checks, CheckPending), in.Checks.Missing...)
		sort.Strings(pending)
		if len(pending) == 0 {
			return wait("waiting for checks to report")
		}
		return wait("waiting for checks: " + strings.Join(pending, ", "))
	}
	if missing := in.RequiredApprovals - approvals; missing > 0 {
		return wait(fmt.Sprintf("%d approval%s missing", missing, plural(missing)))
	}
	if !in.AutoMerge {
		return wait("ready to merge; autoMerge is off")
	}
	return GateResult{Action: ActionMerge, Message: "ready to merge"}
}

// GateComputingMergeability is the gate while the forge computes whether
// the pull request merges cleanly.
const GateComputingMergeability = "waiting for the forge to compute mergeability"

func wait(msg string) GateResult { return GateResult{Action: ActionWait, Message: msg} }

// latestReviews counts approvals and finds the latest standing request for
// changes, from each user's latest approving or change-requesting review.
func latestReviews(reviews []Review) (approvals int, changes *Review, changeUsers []string) {
	latest := map[string]Review{}
	var order []string
	for _, r := range reviews {
		switch r.State {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
			if _, seen := latest[r.User]; !seen {
				order = append(order, r.User)
			}
			latest[r.User] = r
		}
	}
	for _, user := range order {
		r := latest[user]
		switch r.State {
		case "APPROVED":
			approvals++
		case "CHANGES_REQUESTED":
			changeUsers = append(changeUsers, user)
			if changes == nil || r.ID > changes.ID {
				r := r
				changes = &r
			}
		}
	}
	sort.Strings(changeUsers)
	return approvals, changes, changeUsers
}

func checksIn(s CheckSummary, state string) []string {
	var out []string
	for name, st := range s.Checks {
		if st == state {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
