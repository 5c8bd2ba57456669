package refinery

import (
	"context"
	"time"
)

// Pull request states as the Refinery records them (Bead status
// pullRequest.state).
const (
	StateOpen   = "open"
	StateClosed = "closed"
	StateMerged = "merged"
)

// Review states.
const (
	ReviewApproved         = "APPROVED"
	ReviewChangesRequested = "CHANGES_REQUESTED"
	ReviewCommented        = "COMMENTED"
	ReviewDismissed        = "DISMISSED"
)

// Check states, of one check and of a CheckSummary.
const (
	CheckSuccess = "success"
	CheckPending = "pending"
	CheckFailure = "failure"
)

// Merge methods.
const (
	MergeSquash = "squash"
	MergeCommit = "merge"
	MergeRebase = "rebase"
)

// PullRequest is a pull request as the Refinery sees it.
type PullRequest struct {
	Number int
	URL    string
	Title  string
	Body   string
	// State is open, closed (without merge) or merged.
	State      string
	Draft      bool
	Merged     bool
	HeadBranch string
	HeadSHA    string
	BaseBranch string
	// Mergeable is nil while the forge has not computed it.
	Mergeable *bool
	// MergeableState is GitHub's: clean, behind, dirty, draft, blocked,
	// unstable or unknown.
	MergeableState string
	MergeCommitSHA string
	MergedAt       time.Time
	// Opened: CreatePullRequest opened it, rather than finding it open.
	Opened bool
}

// NewPullRequest is what CreatePullRequest opens.
type NewPullRequest struct {
	Title  string
	Body   string
	Head   string
	Base   string
	Draft  bool
	Labels []string
}

// Review is one submitted review.
type Review struct {
	ID          int64
	User        string
	State       string
	Body        string
	CommitID    string
	SubmittedAt time.Time
}

// ReviewComment is a review's comment on a line.
type ReviewComment struct {
	ReviewID int64
	Path     string
	Line     int
	Body     string
}

// CheckSummary is the state of a commit's checks: commit statuses and check
// runs together, by name.
type CheckSummary struct {
	// State is success when every required check succeeded, failure when
	// one failed, pending otherwise.
	State string
	// Checks maps each reported check to success, pending or failure.
	Checks map[string]string
	// Missing lists required checks that were not reported.
	Missing []string
}

// Provider is a forge that hosts pull requests.
type Provider interface {
	// FindPullRequest returns the newest pull request for a head branch in
	// any state, or nil when there is none.
	FindPullRequest(ctx context.Context, head string) (*PullRequest, error)
	// CreatePullRequest opens a pull request and labels it.
	CreatePullRequest(ctx context.Context, pr NewPullRequest) (*PullRequest, error)
	// GetPullRequest reads a pull request.
	GetPullRequest(ctx context.Context, number int) (*PullRequest, error)
	// Reviews lists a pull request's reviews, oldest first.
	Reviews(ctx context.Context, number int) ([]Review, error)
	// ReviewComments lists the line comments of one review.
	ReviewComments(ctx context.Context, number int, reviewID int64) ([]ReviewComment, error)
	// Checks summarises a commit's statuses and check runs. With no
	// required names, every reported check counts.
	Checks(ctx context.Context, sha string, required []string) (CheckSummary, error)
	// Behind says whether head lacks commits of base.
	Behind(ctx context.Context, base, head string) (bool, error)
	// UpdateBranch merges the base into the head branch, if the head is
	// still headSHA.
	UpdateBranch(ctx context.Context, number int, headSHA string) error
	// Merge merges a pull request whose head is headSHA and returns the
	// merge commit.
	Merge(ctx context.Context, number int, headSHA string, method string, title, message string) (mergeSHA string, err error)
	// DeleteBranch deletes a branch; one that is gone already is no error.
	DeleteBranch(ctx context.Context, branch string) error
	// Comment adds a comment to a pull request's conversation.
	Comment(ctx context.Context, number int, body string) error
	// ClosePullRequest closes a pull request unmerged; a closed one is no
	// error.
	ClosePullRequest(ctx context.Context, number int) error
	// Notice writes the Refinery's standing comment on a pull request (an
	// edit of comment id when it is not 0) and returns its ID.
	Notice(ctx context.Context, number int, id int64, body string) (int64, error)
	// RequestReviewers asks users to review a pull request.
	RequestReviewers(ctx context.Context, number int, reviewers []string) error
}
