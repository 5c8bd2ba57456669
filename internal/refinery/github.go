package refinery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/boshu2/gastown-operator/internal/metrics"
	"github.com/boshu2/gastown-operator/internal/redact"
)

const (
	// defaultTimeout bounds one provider call, retries included.
	defaultTimeout = 30 * time.Second
	// cacheEntries bounds the ETag cache: a few entries per pull request
	// being polled.
	cacheEntries = 1024
	// perPage is GitHub's largest page.
	perPage = 100
	// secondaryRateLimitWait is GitHub's advice when a secondary rate limit
	// comes without Retry-After: wait at least a minute.
	secondaryRateLimitWait = time.Minute
)

// GitHubOptions configure a GitHub provider.
type GitHubOptions struct {
	// BaseURL of the API; api.github.com when empty. A GitHub Enterprise
	// Server URL works with or without its /api/v3/ suffix.
	BaseURL string
	// Owner and Repo name the repository.
	Owner, Repo string
	// Token authenticates every request. It never appears in an error.
	Token string
	// App authenticates as a GitHub App's installation instead of Token.
	App *GitHubApp
	// HTTPClient's transport and timeout are used when set.
	HTTPClient *http.Client
	// Retry tunes the retries of server errors.
	Retry RetryOptions
}

// GitHubApp is a GitHub App installation's credentials. Its installation
// tokens are fetched and refreshed before they expire by ghinstallation,
// and never logged.
type GitHubApp struct {
	AppID, InstallationID int64
	// PrivateKey is the app's PEM-encoded RSA private key.
	PrivateKey []byte
}

// GitHub is the Provider for GitHub and GitHub Enterprise Server.
type GitHub struct {
	client      *github.Client
	owner, repo string
	token       string // kept only to remove it from error messages
	counter     *callCounter
}

var _ Provider = (*GitHub)(nil)

// NewGitHub returns a GitHub provider for one repository.
func NewGitHub(opts GitHubOptions) (*GitHub, error) {
	if opts.Owner == "" || opts.Repo == "" {
		return nil, errors.New("GitHub provider: owner and repo are required")
	}
	if opts.Token == "" && opts.App == nil {
		return nil, errors.New("GitHub provider: a token or a GitHub App is required")
	}
	base := http.DefaultTransport
	timeout := defaultTimeout
	if opts.HTTPClient != nil {
		if opts.HTTPClient.Transport != nil {
			base = opts.HTTPClient.Transport
		}
		if opts.HTTPClient.Timeout > 0 {
			timeout = opts.HTTPClient.Timeout
		}
	}
	counter := &callCounter{next: metrics.GitHubTransport(base, opts.Owner+"/"+opts.Repo)}
	var authed http.RoundTripper = counter
	if opts.App != nil {
		// Its token requests go through the counter too.
		app, err := ghinstallation.New(counter, opts.App.AppID, opts.App.InstallationID, opts.App.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("GitHub provider: the GitHub App's private key: %w", err)
		}
		if opts.BaseURL != "" {
			app.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
		}
		authed = app
	}
	httpClient := &http.Client{
		Transport: newETagCache(newRetryTransport(authed, opts.Retry), cacheEntries),
		Timeout:   timeout,
	}
	client := github.NewClient(httpClient)
	if opts.App == nil {
		client = client.WithAuthToken(opts.Token)
	}
	if opts.BaseURL != "" {
		var err error
		if client, err = client.WithEnterpriseURLs(opts.BaseURL, uploadURL(opts.BaseURL)); err != nil {
			return nil, wrapOp("GitHub provider: base URL", err, opts.Token)
		}
	}
	return &GitHub{client: client, owner: opts.Owner, repo: opts.Repo, token: opts.Token, counter: counter}, nil
}

// uploadURL is the upload API beside a GitHub Enterprise API URL. The
// Refinery uploads nothing, but go-github wants one.
func uploadURL(baseURL string) string {
	return strings.TrimSuffix(strings.TrimSuffix(baseURL, "/"), "/api/v3")
}

// Calls is the number of HTTP requests sent to GitHub, retries and
// conditional requests included.
func (g *GitHub) Calls() int64 { return g.counter.calls.Load() }

// FindPullRequest returns the newest pull request whose head is the branch,
// in any state, or nil. Listed pull requests carry no mergeability: read it
// with GetPullRequest.
func (g *GitHub) FindPullRequest(ctx context.Context, head string) (*PullRequest, error) {
	opts := &github.PullRequestListOptions{
		State:       "all",
		Head:        g.owner + ":" + head,
		ListOptions: github.ListOptions{PerPage: perPage},
	}
	var newest *github.PullRequest
	for {
		prs, resp, err := g.client.PullRequests.List(ctx, g.owner, g.repo, opts)
		if err != nil {
			return nil, g.wrap("find pull request for "+head, err)
		}
		for _, pr := range prs {
			if pr.GetHead().GetRef() == head && (newest == nil || pr.GetNumber() > newest.GetNumber()) {
				newest = pr
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if newest == nil {
		return nil, nil
	}
	return toPullRequest(newest), nil
}

// CreatePullRequest opens a pull request and adds the labels. When GitHub
// answers that an open pull request for the head exists already (a retry
// after a lost response, or a restart), that one is returned and labelled.
// A labelling error returns the pull request with the error, so that the
// caller can still record it.
func (g *GitHub) CreatePullRequest(ctx context.Context, in NewPullRequest) (*PullRequest, error) {
	pr, err := g.create(ctx, in)
	if err != nil {
		return nil, err
	}
	if len(in.Labels) > 0 {
		if _, _, err := g.client.Issues.AddLabelsToIssue(ctx, g.owner, g.repo, pr.Number, in.Labels); err != nil {
			return pr, g.wrap(fmt.Sprintf("label pull request #%d", pr.Number), err)
		}
	}
	return pr, nil
}

func (g *GitHub) create(ctx context.Context, in NewPullRequest) (*PullRequest, error) {
	op := "create pull request for " + in.Head
	// The text is built from the bead and the agent's summary: it never
	// carries the provider's token or a token-shaped string.
	in.Title, in.Body = redact.Text(in.Title, g.token), redact.Text(in.Body, g.token)
	created, _, err := g.client.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
		Title: &in.Title,
		Head:  &in.Head,
		Base:  &in.Base,
		Body:  &in.Body,
		Draft: &in.Draft,
	})
	if err == nil {
		pr := toPullRequest(created)
		pr.Opened = true
		return pr, nil
	}
	// A refusal may be for a pull request open for this head already (a
	// retry after a lost response): the head's lookup tells, not the
	// message.
	if !hasStatus(err, http.StatusUnprocessableEntity) {
		return nil, g.wrap(op, err)
	}
	existing, ferr := g.FindPullRequest(ctx, in.Head)
	if ferr != nil {
		return nil, ferr
	}
	if existing == nil || existing.State != StateOpen {
		return nil, g.wrap(op, err)
	}
	return existing, nil
}

// hasStatus says whether err is GitHub's answer with that HTTP status.
func hasStatus(err error, status int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == status
}

// GetPullRequest reads a pull request, with its mergeability.
func (g *GitHub) GetPullRequest(ctx context.Context, number int) (*PullRequest, error) {
	pr, _, err := g.client.PullRequests.Get(ctx, g.owner, g.repo, number)
	if err != nil {
		return nil, g.wrap(fmt.Sprintf("get pull request #%d", number), err)
	}
	return toPullRequest(pr), nil
}

// Behind says whether head lacks commits of base: tested on it, the work
// was not tested on what it would merge into. GitHub's compare API decides
// it, whatever branch protection says.
func (g *GitHub) Behind(ctx context.Context, base, head string) (bool, error) {
	cmp, _, err := g.client.Repositories.CompareCommits(ctx, g.owner, g.repo, base, head, nil)
	if err != nil {
		return false, g.wrap(fmt.Sprintf("compare %s with %s", head, base), err)
	}
	return cmp.GetBehindBy() > 0, nil
}

// Reviews lists a pull request's reviews, oldest first.
func (g *GitHub) Reviews(ctx context.Context, number int) ([]Review, error) {
	opts := &github.ListOptions{PerPage: perPage}
	var out []Review
	for {
		reviews, resp, err := g.client.PullRequests.ListReviews(ctx, g.owner, g.repo, number, opts)
		if err != nil {
			return nil, g.wrap(fmt.Sprintf("list reviews of pull request #%d", number), err)
		}
		for _, r := range reviews {
			out = append(out, Review{
				ID:          r.GetID(),
				User:        r.GetUser().GetLogin(),
				State:       r.GetState(),
				Body:        r.GetBody(),
				CommitID:    r.GetCommitID(),
				SubmittedAt: r.GetSubmittedAt().Time,
			})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// ReviewComments lists the line comments of one review.
func (g *GitHub) ReviewComments(ctx context.Context, number int, reviewID int64) ([]ReviewComment, error) {
	opts := &github.ListOptions{PerPage: perPage}
	var out []ReviewComment
	for {
		comments, resp, err := g.client.PullRequests.ListReviewComments(ctx, g.owner, g.repo, number, reviewID, opts)
		if err != nil {
			return nil, g.wrap(fmt.Sprintf("list comments of review %d on pull request #%d", reviewID, number), err)
		}
		for _, c := range comments {
			line := c.GetLine()
			if line == 0 {
				// A comment on a line that has since changed keeps only
				// its original line.
				line = c.GetOriginalLine()
			}
			out = append(out, ReviewComment{ReviewID: reviewID, Path: c.GetPath(), Line: line, Body: c.GetBody()})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// Checks reads a commit's statuses and check runs and summarises them.
func (g *GitHub) Checks(ctx context.Context, sha string, required []string) (CheckSummary, error) {
	checks := map[string]string{}
	if err := g.statuses(ctx, sha, checks); err != nil {
		return CheckSummary{}, err
	}
	if err := g.checkRuns(ctx, sha, checks); err != nil {
		return CheckSummary{}, err
	}
	return summarize(checks, required), nil
}

func (g *GitHub) statuses(ctx context.Context, sha string, checks map[string]string) error {
	opts := &github.ListOptions{PerPage: perPage}
	for {
		combined, resp, err := g.client.Repositories.GetCombinedStatus(ctx, g.owner, g.repo, sha, opts)
		if err != nil {
			return g.wrap("read commit statuses of "+sha, err)
		}
		for _, s := range combined.Statuses {
			record(checks, s.GetContext(), statusState(s.GetState()))
		}
		if resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}

func (g *GitHub) checkRuns(ctx context.Context, sha string, checks map[string]string) error {
	opts := &github.ListCheckRunsOptions{Filter: github.String("latest"), ListOptions: github.ListOptions{PerPage: perPage}}
	for {
		runs, resp, err := g.client.Checks.ListCheckRunsForRef(ctx, g.owner, g.repo, sha, opts)
		if err != nil {
			return g.wrap("read check runs of "+sha, err)
		}
		for _, r := range runs.CheckRuns {
			record(checks, r.GetName(), checkRunState(r.GetStatus(), r.GetConclusion()))
		}
		if resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}

// UpdateBranch merges the base into the head branch. A branch that is up to
// date already is no error.
func (g *GitHub) UpdateBranch(ctx context.Context, number int, headSHA string) error {
	opts := &github.PullRequestBranchUpdateOptions{}
	if headSHA != "" {
		opts.ExpectedHeadSHA = &headSHA
	}
	_, _, err := g.client.PullRequests.UpdateBranch(ctx, g.owner, g.repo, number, opts)
	var accepted *github.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		return nil
	}
	op := fmt.Sprintf("update branch of pull request #%d", number)
	if !hasStatus(err, http.StatusUnprocessableEntity) {
		return g.wrap(op, err)
	}
	// GitHub refuses (422) a head that moved, a head that has the base's
	// commits already, and a conflict; the pull request and the compare
	// API say which, not the message.
	pr, gerr := g.GetPullRequest(ctx, number)
	if gerr != nil {
		return gerr
	}
	if pr.State != StateOpen {
		return g.wrap(op, err)
	}
	if headSHA != "" && pr.HeadSHA != headSHA {
		return g.wrap(op, fmt.Errorf("%w: %s is at %s", ErrHeadChanged, pr.HeadBranch, pr.HeadSHA))
	}
	behind, berr := g.Behind(ctx, pr.BaseBranch, pr.HeadSHA)
	if berr != nil {
		return berr
	}
	switch {
	case !behind:
		return nil
	case pr.Mergeable != nil && !*pr.Mergeable:
		return g.wrap(op, &ConflictError{})
	}
	return g.wrap(op, err)
}

// Merge merges a pull request whose head is headSHA with method (squash
// when empty) and returns the merge commit. When GitHub refuses because the
// pull request is merged already (a retry after a lost response, or a
// restart), the existing merge commit is returned: no merge is lost or made
// twice.
func (g *GitHub) Merge(ctx context.Context, number int, headSHA, method, title, message string) (string, error) {
	if method == "" {
		method = MergeSquash
	}
	op := fmt.Sprintf("merge pull request #%d", number)
	res, _, err := g.client.PullRequests.Merge(ctx, g.owner, g.repo, number, message, &github.PullRequestOptions{
		CommitTitle: title,
		SHA:         headSHA,
		MergeMethod: method,
	})
	if err == nil {
		return res.GetSHA(), nil
	}
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return "", g.wrap(op, err)
	}
	switch er.Response.StatusCode {
	case http.StatusConflict:
		return "", g.wrap(op, fmt.Errorf("%w: %s", ErrHeadChanged, er.Message))
	case http.StatusMethodNotAllowed:
		// Refused: merged already, or its branch takes merges only
		// through the merge queue, or not mergeable. The pull request and
		// the branch's rules say which, not the message.
		pr, gerr := g.GetPullRequest(ctx, number)
		if gerr != nil {
			return "", gerr
		}
		if pr.Merged && pr.MergeCommitSHA != "" {
			return pr.MergeCommitSHA, nil
		}
		queued, qerr := g.mergeQueueRequired(ctx, pr.BaseBranch)
		if qerr != nil {
			return "", qerr
		}
		if queued {
			return "", g.wrap(op, fmt.Errorf("%w: %s", ErrMergeQueueRequired, er.Message))
		}
		return "", g.wrap(op, fmt.Errorf("%w: %s", ErrNotMergeable, er.Message))
	}
	return "", g.wrap(op, err)
}

// mergeQueueRequired says whether a rule of branch's rulesets requires the
// merge queue. The rules are decoded here: go-github v60's
// GetRulesForBranch fails on the merge_queue rule, which it does not know.
func (g *GitHub) mergeQueueRequired(ctx context.Context, branch string) (bool, error) {
	op := "read the rules of branch " + branch
	req, err := g.client.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/rules/branches/%s", g.owner, g.repo, branch), nil)
	if err != nil {
		return false, g.wrap(op, err)
	}
	var rules []struct {
		Type string `json:"type"`
	}
	if _, err := g.client.Do(ctx, req, &rules); err != nil {
		return false, g.wrap(op, err)
	}
	for _, r := range rules {
		if r.Type == "merge_queue" {
			return true, nil
		}
	}
	return false, nil
}

// DeleteBranch deletes a branch; one that is gone already is no error.
func (g *GitHub) DeleteBranch(ctx context.Context, branch string) error {
	op := "delete branch " + branch
	_, err := g.client.Git.DeleteRef(ctx, g.owner, g.repo, "heads/"+branch)
	switch {
	case err == nil || hasStatus(err, http.StatusNotFound):
		return nil
	case !hasStatus(err, http.StatusUnprocessableEntity):
		return g.wrap(op, err)
	}
	// GitHub refuses (422) to delete a branch that is not there; whether
	// it is there is read, not taken from the message.
	_, _, gerr := g.client.Git.GetRef(ctx, g.owner, g.repo, "heads/"+branch)
	if hasStatus(gerr, http.StatusNotFound) {
		return nil
	}
	if gerr != nil {
		return g.wrap("read branch "+branch, gerr)
	}
	return g.wrap(op, err)
}

// Comment adds a comment to a pull request's conversation.
func (g *GitHub) Comment(ctx context.Context, number int, body string) error {
	body = redact.Text(body, g.token)
	_, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, number, &github.IssueComment{Body: &body})
	return g.wrap(fmt.Sprintf("comment on pull request #%d", number), err)
}

// ClosePullRequest closes a pull request unmerged.
func (g *GitHub) ClosePullRequest(ctx context.Context, number int) error {
	_, _, err := g.client.PullRequests.Edit(ctx, g.owner, g.repo, number, &github.PullRequest{State: github.String("closed")})
	return g.wrap(fmt.Sprintf("close pull request #%d", number), err)
}

// noticeMarker ends the Refinery's standing comment, so that it is found
// again when its ID was not recorded (a restart right after posting it).
const noticeMarker = "<!-- gastown:notice -->"

// Notice writes body as the Refinery's standing comment on a pull request:
// an edit of comment id, else of the comment that carries the notice
// marker, else a new comment. It returns the comment's ID.
func (g *GitHub) Notice(ctx context.Context, number int, id int64, body string) (int64, error) {
	body = redact.Text(body, g.token) + "\n" + noticeMarker + "\n"
	op := fmt.Sprintf("comment on pull request #%d", number)
	if id == 0 {
		found, err := g.findNotice(ctx, number)
		if err != nil {
			return 0, g.wrap(op, err)
		}
		id = found
	}
	if id != 0 {
		_, resp, err := g.client.Issues.EditComment(ctx, g.owner, g.repo, id, &github.IssueComment{Body: &body})
		if err == nil {
			return id, nil
		}
		if resp == nil || resp.StatusCode != http.StatusNotFound {
			return 0, g.wrap(op, err)
		}
	}
	c, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, number, &github.IssueComment{Body: &body})
	if err != nil {
		return 0, g.wrap(op, err)
	}
	return c.GetID(), nil
}

// findNotice is the ID of the pull request's comment with the notice
// marker, or 0.
func (g *GitHub) findNotice(ctx context.Context, number int) (int64, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: perPage}}
	for {
		comments, resp, err := g.client.Issues.ListComments(ctx, g.owner, g.repo, number, opts)
		if err != nil {
			return 0, err
		}
		for _, c := range comments {
			if strings.Contains(c.GetBody(), noticeMarker) {
				return c.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, nil
		}
		opts.Page = resp.NextPage
	}
}

// RequestReviewers asks users to review a pull request.
func (g *GitHub) RequestReviewers(ctx context.Context, number int, reviewers []string) error {
	if len(reviewers) == 0 {
		return nil
	}
	_, _, err := g.client.PullRequests.RequestReviewers(ctx, g.owner, g.repo, number, github.ReviewersRequest{Reviewers: reviewers})
	return g.wrap(fmt.Sprintf("request reviewers for pull request #%d", number), err)
}

// wrap names the operation, turns GitHub's rate-limit errors into
// RateLimitedError and keeps the token out of the message.
func (g *GitHub) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if rl := rateLimited(err); rl != nil {
		err = rl
	}
	return wrapOp(op, err, g.token)
}

// rateLimited recognises GitHub's primary limit (403 or go-github's own
// refusal before the reset), its secondary limit (403 with Retry-After) and a
// plain 429.
func rateLimited(err error) *RateLimitedError {
	var primary *github.RateLimitError
	if errors.As(err, &primary) {
		return &RateLimitedError{RetryAfter: untilReset(primary.Rate.Reset.Time)}
	}
	var secondary *github.AbuseRateLimitError
	if errors.As(err, &secondary) {
		wait := secondaryRateLimitWait
		if secondary.RetryAfter != nil && *secondary.RetryAfter > 0 {
			wait = *secondary.RetryAfter
		}
		return &RateLimitedError{RetryAfter: wait, Secondary: true}
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusTooManyRequests {
		wait := secondaryRateLimitWait
		if s, perr := strconv.Atoi(er.Response.Header.Get("Retry-After")); perr == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return &RateLimitedError{RetryAfter: wait, Secondary: true}
	}
	return nil
}

// untilReset is the wait until a rate limit resets, at least a second so
// that a requeue after it is never a requeue without delay.
func untilReset(reset time.Time) time.Duration {
	return max(time.Until(reset), time.Second)
}

func toPullRequest(pr *github.PullRequest) *PullRequest {
	out := &PullRequest{
		Number:         pr.GetNumber(),
		URL:            pr.GetHTMLURL(),
		Title:          pr.GetTitle(),
		Body:           pr.GetBody(),
		State:          pr.GetState(),
		Draft:          pr.GetDraft(),
		Merged:         pr.GetMerged() || pr.MergedAt != nil,
		HeadBranch:     pr.GetHead().GetRef(),
		HeadSHA:        pr.GetHead().GetSHA(),
		BaseBranch:     pr.GetBase().GetRef(),
		Mergeable:      pr.Mergeable,
		MergeableState: pr.GetMergeableState(),
		MergedAt:       pr.GetMergedAt().Time,
	}
	if out.Merged {
		out.State = StateMerged
		out.MergeCommitSHA = pr.GetMergeCommitSHA()
	}
	return out
}
