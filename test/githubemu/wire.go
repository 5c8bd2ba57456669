package githubemu

import "time"

// The types in this file are the JSON bodies GitHub sends and accepts, with
// GitHub's field names. They carry only the fields the emulator fills in;
// clients ignore what is absent, as they do for GitHub's many other fields.

type userJSON struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Type  string `json:"type"`
}

type repoJSON struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	FullName      string   `json:"full_name"`
	Owner         userJSON `json:"owner"`
	Private       bool     `json:"private"`
	HTMLURL       string   `json:"html_url"`
	CloneURL      string   `json:"clone_url,omitempty"`
	DefaultBranch string   `json:"default_branch"`
	URL           string   `json:"url"`
}

type branchJSON struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref"`
	SHA   string    `json:"sha"`
	User  userJSON  `json:"user"`
	Repo  *repoJSON `json:"repo,omitempty"`
}

// gitRefJSON is a git reference, as GET /git/ref/{ref} answers.
type gitRefJSON struct {
	Ref    string        `json:"ref"`
	URL    string        `json:"url"`
	Object gitObjectJSON `json:"object"`
}

type gitObjectJSON struct {
	Type string `json:"type"`
	SHA  string `json:"sha"`
	URL  string `json:"url"`
}

// ruleJSON is one rule of GET /rules/branches/{branch}: the rules of the
// rulesets that apply to the branch.
type ruleJSON struct {
	Type              string         `json:"type"`
	Parameters        map[string]any `json:"parameters,omitempty"`
	RulesetSourceType string         `json:"ruleset_source_type"`
	RulesetSource     string         `json:"ruleset_source"`
	RulesetID         int64          `json:"ruleset_id"`
}

type labelJSON struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Color   string `json:"color"`
	Default bool   `json:"default"`
}

type pullJSON struct {
	ID                 int64       `json:"id"`
	Number             int         `json:"number"`
	State              string      `json:"state"`
	Title              string      `json:"title"`
	Body               string      `json:"body"`
	User               userJSON    `json:"user"`
	Draft              bool        `json:"draft"`
	Merged             bool        `json:"merged"`
	Mergeable          *bool       `json:"mergeable"`
	Rebaseable         *bool       `json:"rebaseable"`
	MergeableState     string      `json:"mergeable_state"`
	MergedBy           *userJSON   `json:"merged_by"`
	MergeCommitSHA     *string     `json:"merge_commit_sha"`
	CreatedAt          time.Time   `json:"created_at"`
	UpdatedAt          time.Time   `json:"updated_at"`
	ClosedAt           *time.Time  `json:"closed_at"`
	MergedAt           *time.Time  `json:"merged_at"`
	Head               branchJSON  `json:"head"`
	Base               branchJSON  `json:"base"`
	Labels             []labelJSON `json:"labels"`
	RequestedReviewers []userJSON  `json:"requested_reviewers"`
	URL                string      `json:"url"`
	HTMLURL            string      `json:"html_url"`
	IssueURL           string      `json:"issue_url"`
}

type createPullRequest struct {
	Title string `json:"title"`
	Head  string `json:"head"`
	Base  string `json:"base"`
	Body  string `json:"body"`
	Draft bool   `json:"draft"`
}

type updatePullRequest struct {
	Title *string `json:"title"`
	Body  *string `json:"body"`
	State *string `json:"state"`
}

type mergeRequest struct {
	CommitTitle   string  `json:"commit_title"`
	CommitMessage *string `json:"commit_message"`
	SHA           string  `json:"sha"`
	MergeMethod   string  `json:"merge_method"`
}

type mergeResultJSON struct {
	SHA     string `json:"sha"`
	Merged  bool   `json:"merged"`
	Message string `json:"message"`
}

type updateBranchRequest struct {
	ExpectedHeadSHA string `json:"expected_head_sha"`
}

type messageJSON struct {
	Message string `json:"message"`
	URL     string `json:"url,omitempty"`
}

type reviewJSON struct {
	ID             int64     `json:"id"`
	User           userJSON  `json:"user"`
	Body           string    `json:"body"`
	State          string    `json:"state"`
	CommitID       string    `json:"commit_id"`
	SubmittedAt    time.Time `json:"submitted_at"`
	HTMLURL        string    `json:"html_url"`
	PullRequestURL string    `json:"pull_request_url"`
}

type createReviewRequest struct {
	CommitID string `json:"commit_id"`
	Body     string `json:"body"`
	Event    string `json:"event"`
	Comments []struct {
		Path string `json:"path"`
		Line int    `json:"line"`
		Body string `json:"body"`
	} `json:"comments"`
}

type reviewCommentJSON struct {
	ID                  int64     `json:"id"`
	PullRequestReviewID int64     `json:"pull_request_review_id"`
	Path                string    `json:"path"`
	Line                int       `json:"line"`
	Side                string    `json:"side"`
	Body                string    `json:"body"`
	CommitID            string    `json:"commit_id"`
	User                userJSON  `json:"user"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	HTMLURL             string    `json:"html_url"`
	PullRequestURL      string    `json:"pull_request_url"`
}

type reviewersRequest struct {
	Reviewers     []string `json:"reviewers"`
	TeamReviewers []string `json:"team_reviewers"`
}

type statusJSON struct {
	ID          int64     `json:"id"`
	State       string    `json:"state"`
	Context     string    `json:"context"`
	Description string    `json:"description"`
	TargetURL   string    `json:"target_url"`
	Creator     userJSON  `json:"creator"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

type createStatusRequest struct {
	State       string `json:"state"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

type combinedStatusJSON struct {
	State      string       `json:"state"`
	SHA        string       `json:"sha"`
	TotalCount int          `json:"total_count"`
	Statuses   []statusJSON `json:"statuses"`
	CommitURL  string       `json:"commit_url"`
}

type checkRunJSON struct {
	ID          int64      `json:"id"`
	HeadSHA     string     `json:"head_sha"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	DetailsURL  string     `json:"details_url,omitempty"`
}

type createCheckRunRequest struct {
	Name       string `json:"name"`
	HeadSHA    string `json:"head_sha"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion"`
	DetailsURL string `json:"details_url"`
}

type checkRunsJSON struct {
	TotalCount int            `json:"total_count"`
	CheckRuns  []checkRunJSON `json:"check_runs"`
}

type issueCommentJSON struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	User      userJSON  `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	HTMLURL   string    `json:"html_url"`
	IssueURL  string    `json:"issue_url"`
}

type rateJSON struct {
	Limit     int   `json:"limit"`
	Remaining int   `json:"remaining"`
	Reset     int64 `json:"reset"`
	Used      int   `json:"used"`
}

type rateLimitJSON struct {
	Resources map[string]rateJSON `json:"resources"`
	Rate      rateJSON            `json:"rate"`
}

// errorJSON is GitHub's error body. Errors details a 422 Validation Failed.
type errorJSON struct {
	Message          string            `json:"message"`
	Errors           []errorDetailJSON `json:"errors,omitempty"`
	DocumentationURL string            `json:"documentation_url,omitempty"`
}

type errorDetailJSON struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}
