package refinery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"

	"github.com/boshu2/gastown-operator/test/githubemu"
)

const (
	owner   = "acme"
	repo    = "app"
	token   = "ghp_refineryTestToken_DoNotLeak42"
	branchA = "polecat/gt-a"
)

var fastRetries = RetryOptions{Max: 3, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond}

func startEnv(t testing.TB) *githubemu.Env {
	t.Helper()
	env, err := githubemu.StartWithRepo(owner, repo, token, map[string]string{
		"README.md":  "hello\n",
		"shared.txt": "base\n",
	})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(env.Close)
	return env
}

func newProvider(t testing.TB, env *githubemu.Env, mutate ...func(*GitHubOptions)) *GitHub {
	t.Helper()
	opts := GitHubOptions{BaseURL: env.API.URL(), Owner: owner, Repo: repo, Token: token, Retry: fastRetries}
	for _, m := range mutate {
		m(&opts)
	}
	gh, err := NewGitHub(opts)
	if err != nil {
		t.Fatalf("new provider: %v", err)
	}
	return gh
}

func push(t testing.TB, env *githubemu.Env, branch string, files map[string]string) string {
	t.Helper()
	sha, err := env.CommitFiles(branch, "work on "+branch, files)
	if err != nil {
		t.Fatalf("push %s: %v", branch, err)
	}
	return sha
}

// openPR pushes branchA and opens its pull request through the provider.
func openPR(t *testing.T, env *githubemu.Env, gh *GitHub, files map[string]string) *PullRequest {
	t.Helper()
	push(t, env, branchA, files)
	pr, err := gh.CreatePullRequest(context.Background(), NewPullRequest{
		Title: "gt-a: add feature", Body: "Bead gt-a.", Head: branchA, Base: githubemu.DefaultBranch,
	})
	if err != nil {
		t.Fatalf("create pull request: %v", err)
	}
	return pr
}

func TestGitHubPullRequestLifecycle(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)

	found, err := gh.FindPullRequest(ctx, branchA)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found).To(BeNil())

	head := push(t, env, branchA, map[string]string{"feature.go": "package app\n"})
	created, err := gh.CreatePullRequest(ctx, NewPullRequest{
		Title: "gt-a: add feature", Body: "Bead gt-a.", Head: branchA, Base: githubemu.DefaultBranch,
		Labels: []string{"gastown", "bead/gt-a"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(created.Number).To(Equal(1))
	g.Expect(created.State).To(Equal(StateOpen))
	g.Expect(created.HeadSHA).To(Equal(head))
	g.Expect(created.URL).To(HaveSuffix("/acme/app/pull/1"))

	// Found again by its head: the lookup that keeps a restart from opening
	// a second pull request.
	found, err = gh.FindPullRequest(ctx, branchA)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found).NotTo(BeNil())
	g.Expect(found.Number).To(Equal(created.Number))
	g.Expect(found.HeadBranch).To(Equal(branchA))
	g.Expect(found.BaseBranch).To(Equal(githubemu.DefaultBranch))

	// Creating again returns the open one instead of failing or doubling.
	again, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "x", Head: branchA, Base: githubemu.DefaultBranch})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.Number).To(Equal(created.Number))
	all, err := env.API.PullRequests(owner, repo)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(all).To(HaveLen(1))
	g.Expect(all[0].Labels).To(Equal([]string{"gastown", "bead/gt-a"}))

	pr, err := gh.GetPullRequest(ctx, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pr.Mergeable).NotTo(BeNil())
	g.Expect(*pr.Mergeable).To(BeTrue())
	g.Expect(pr.MergeableState).To(Equal("clean"))
	g.Expect(pr.Title).To(Equal("gt-a: add feature"))
	g.Expect(pr.Body).To(Equal("Bead gt-a."))

	g.Expect(gh.RequestReviewers(ctx, 1, []string{"alice"})).To(Succeed())
	g.Expect(gh.Comment(ctx, 1, "Polecat gt-a finished.")).To(Succeed())
	snap, err := env.API.PullRequest(owner, repo, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(snap.RequestedReviewers).To(Equal([]string{"alice"}))
	g.Expect(snap.Comments).To(Equal([]string{"Polecat gt-a finished."}))

	g.Expect(env.API.RequestChanges(owner, repo, 1, "bob", "Needs a test.", []githubemu.LineComment{
		{Path: "feature.go", Line: 1, Body: "Test this."},
	})).To(Succeed())
	g.Expect(env.API.Approve(owner, repo, 1, "alice")).To(Succeed())
	reviews, err := gh.Reviews(ctx, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(reviews).To(HaveLen(2))
	g.Expect(reviews[0].User).To(Equal("bob"))
	g.Expect(reviews[0].State).To(Equal(ReviewChangesRequested))
	g.Expect(reviews[0].Body).To(Equal("Needs a test."))
	g.Expect(reviews[0].CommitID).To(Equal(head))
	g.Expect(reviews[0].SubmittedAt.IsZero()).To(BeFalse())
	g.Expect(reviews[1].State).To(Equal(ReviewApproved))

	comments, err := gh.ReviewComments(ctx, 1, reviews[0].ID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(comments).To(Equal([]ReviewComment{{ReviewID: reviews[0].ID, Path: "feature.go", Line: 1, Body: "Test this."}}))

	g.Expect(env.API.SetStatus(owner, repo, head, "ci/build", "success")).To(Succeed())
	g.Expect(env.API.AddCheckRun(owner, repo, head, "test", "completed", "success")).To(Succeed())
	checks, err := gh.Checks(ctx, head, []string{"ci/build", "test"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(checks.State).To(Equal(CheckSuccess))

	sha, err := gh.Merge(ctx, 1, head, MergeSquash, "gt-a: add feature (#1)", "Closes gt-a.")
	g.Expect(err).NotTo(HaveOccurred())
	mainSHA, err := env.API.BranchSHA(owner, repo, githubemu.DefaultBranch)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sha).To(Equal(mainSHA))
	content, err := env.API.ReadFile(owner, repo, githubemu.DefaultBranch, "feature.go")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(content).To(Equal("package app\n"))

	pr, err = gh.GetPullRequest(ctx, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pr.State).To(Equal(StateMerged))
	g.Expect(pr.Merged).To(BeTrue())
	g.Expect(pr.MergeCommitSHA).To(Equal(sha))
	g.Expect(pr.MergedAt.IsZero()).To(BeFalse())

	g.Expect(gh.DeleteBranch(ctx, branchA)).To(Succeed())
	g.Expect(gh.DeleteBranch(ctx, branchA)).To(Succeed(), "a deleted branch is no error")
	_, err = env.API.BranchSHA(owner, repo, branchA)
	g.Expect(err).To(MatchError(githubemu.ErrNotFound))

	found, err = gh.FindPullRequest(ctx, branchA)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found.State).To(Equal(StateMerged), "a merged pull request is still found by its head")
	g.Expect(found.MergeCommitSHA).To(Equal(sha))
}

func TestGitHubFindReturnsNewest(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)
	openPR(t, env, gh, map[string]string{"a.txt": "1\n"})
	g.Expect(env.API.ClosePullRequest(owner, repo, 1)).To(Succeed())
	push(t, env, "polecat/other", map[string]string{"o.txt": "o\n"})
	_, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "other", Head: "polecat/other", Base: githubemu.DefaultBranch})
	g.Expect(err).NotTo(HaveOccurred())
	second, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "retry", Head: branchA, Base: githubemu.DefaultBranch})
	g.Expect(err).NotTo(HaveOccurred())

	found, err := gh.FindPullRequest(ctx, branchA)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found.Number).To(Equal(second.Number))
	g.Expect(found.Number).To(Equal(3))
}

func TestGitHubChecks(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)
	head := push(t, env, branchA, map[string]string{"a.txt": "a\n"})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.API.SetStatus(owner, repo, head, "ci/build", "success"))
	must(env.API.SetStatus(owner, repo, head, "ci/lint", "pending"))
	must(env.API.AddCheckRun(owner, repo, head, "test", "completed", "failure"))
	// A re-run that passed replaces the failed run.
	must(env.API.AddCheckRun(owner, repo, head, "test", "completed", "success"))
	must(env.API.AddCheckRun(owner, repo, head, "e2e", "in_progress", ""))

	tests := []struct {
		name     string
		required []string
		want     CheckSummary
	}{
		{
			name: "every reported check",
			want: CheckSummary{State: CheckPending, Checks: map[string]string{
				"ci/build": CheckSuccess, "ci/lint": CheckPending, "test": CheckSuccess, "e2e": CheckPending,
			}},
		},
		{
			name:     "required ones pass",
			required: []string{"ci/build", "test"},
			want: CheckSummary{State: CheckSuccess, Checks: map[string]string{
				"ci/build": CheckSuccess, "ci/lint": CheckPending, "test": CheckSuccess, "e2e": CheckPending,
			}},
		},
		{
			name:     "required one missing",
			required: []string{"ci/build", "security"},
			want: CheckSummary{State: CheckPending, Missing: []string{"security"}, Checks: map[string]string{
				"ci/build": CheckSuccess, "ci/lint": CheckPending, "test": CheckSuccess, "e2e": CheckPending,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := gh.Checks(ctx, head, tt.required)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cmp.Diff(tt.want, got)).To(BeEmpty())
		})
	}

	must(env.API.SetStatus(owner, repo, head, "ci/build", "failure"))
	got, err := gh.Checks(ctx, head, []string{"ci/build"})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	NewWithT(t).Expect(got.State).To(Equal(CheckFailure))
}

func TestGitHubUpdateBranch(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)
	pr := openPR(t, env, gh, map[string]string{"a.txt": "a\n"})

	g.Expect(gh.UpdateBranch(ctx, pr.Number, pr.HeadSHA)).To(Succeed(), "up to date already")

	push(t, env, githubemu.DefaultBranch, map[string]string{"base.txt": "moved\n"})
	pr, err := gh.GetPullRequest(ctx, pr.Number)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pr.MergeableState).To(Equal("clean"), "GitHub says behind only under branch protection")
	behind, err := gh.Behind(ctx, githubemu.DefaultBranch, pr.HeadSHA)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(behind).To(BeTrue(), "the compare API says it")

	err = gh.UpdateBranch(ctx, pr.Number, strings.Repeat("0", 40))
	g.Expect(err).To(MatchError(ErrHeadChanged))

	g.Expect(gh.UpdateBranch(ctx, pr.Number, pr.HeadSHA)).To(Succeed())
	updated, err := gh.GetPullRequest(ctx, pr.Number)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(updated.HeadSHA).NotTo(Equal(pr.HeadSHA))
	g.Expect(updated.MergeableState).To(Equal("clean"))
	behind, err = gh.Behind(ctx, githubemu.DefaultBranch, updated.HeadSHA)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(behind).To(BeFalse())
	content, err := env.API.ReadFile(owner, repo, branchA, "base.txt")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(content).To(Equal("moved\n"))
}

func TestGitHubUpdateBranchConflict(t *testing.T) {
	g := NewWithT(t)
	env := startEnv(t)
	gh := newProvider(t, env)
	pr := openPR(t, env, gh, map[string]string{"shared.txt": "branch\n"})
	push(t, env, githubemu.DefaultBranch, map[string]string{"shared.txt": "main\n"})

	err := gh.UpdateBranch(context.Background(), pr.Number, pr.HeadSHA)
	g.Expect(err).To(MatchError(ErrConflict))
	var conflict *ConflictError
	g.Expect(errors.As(err, &conflict)).To(BeTrue())
}

func TestGitHubMergeErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, env *githubemu.Env, pr *PullRequest) (headSHA string)
		target error
	}{
		{
			name: "merge queue",
			setup: func(t *testing.T, env *githubemu.Env, pr *PullRequest) string {
				env.API.RequireMergeQueue(true)
				return pr.HeadSHA
			},
			target: ErrMergeQueueRequired,
		},
		{
			name: "head moved",
			setup: func(t *testing.T, env *githubemu.Env, pr *PullRequest) string {
				push(t, env, branchA, map[string]string{"a.txt": "again\n"})
				return pr.HeadSHA
			},
			target: ErrHeadChanged,
		},
		{
			name: "conflict",
			setup: func(t *testing.T, env *githubemu.Env, pr *PullRequest) string {
				push(t, env, githubemu.DefaultBranch, map[string]string{"shared.txt": "main\n"})
				return pr.HeadSHA
			},
			target: ErrNotMergeable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			env := startEnv(t)
			gh := newProvider(t, env)
			pr := openPR(t, env, gh, map[string]string{"shared.txt": "branch\n", "a.txt": "a\n"})
			head := tt.setup(t, env, pr)

			_, err := gh.Merge(context.Background(), pr.Number, head, MergeSquash, "", "")
			g.Expect(err).To(MatchError(tt.target))
			g.Expect(err.Error()).To(HavePrefix("merge pull request #1: "))
		})
	}
}

func TestGitHubMergeIsIdempotent(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)
	pr := openPR(t, env, gh, map[string]string{"a.txt": "a\n"})

	first, err := gh.Merge(ctx, pr.Number, pr.HeadSHA, MergeSquash, "", "")
	g.Expect(err).NotTo(HaveOccurred())
	second, err := gh.Merge(ctx, pr.Number, pr.HeadSHA, MergeSquash, "", "")
	g.Expect(err).NotTo(HaveOccurred(), "a merge that happened is reported, not refused")
	g.Expect(second).To(Equal(first))
	mainSHA, err := env.API.BranchSHA(owner, repo, githubemu.DefaultBranch)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mainSHA).To(Equal(first), "no second merge commit")
}

// statusRecorder is a base transport that records the status of every
// response on the wire.
type statusRecorder struct {
	mu       sync.Mutex
	statuses []int
}

func (r *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.statuses = append(r.statuses, resp.StatusCode)
		r.mu.Unlock()
	}
	return resp, err
}

func TestGitHubConditionalRequests(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	rec := &statusRecorder{}
	gh := newProvider(t, env, func(o *GitHubOptions) { o.HTTPClient = &http.Client{Transport: rec} })
	pr := openPR(t, env, gh, map[string]string{"a.txt": "a\n"})
	env.API.ResetCalls()
	rec.statuses = nil
	callsBefore := gh.Calls()

	first, err := gh.GetPullRequest(ctx, pr.Number)
	g.Expect(err).NotTo(HaveOccurred())
	second, err := gh.GetPullRequest(ctx, pr.Number)
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(cmp.Diff(first, second)).To(BeEmpty(), "the cached body answers the 304")
	g.Expect(rec.statuses).To(Equal([]int{http.StatusOK, http.StatusNotModified}))
	g.Expect(env.API.Calls()["GET /repos/{owner}/{repo}/pulls/{number}"]).To(Equal(2))
	g.Expect(gh.Calls() - callsBefore).To(Equal(int64(2)))

	// A change on GitHub's side is seen on the next poll.
	push(t, env, branchA, map[string]string{"a.txt": "b\n"})
	third, err := gh.GetPullRequest(ctx, pr.Number)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(third.HeadSHA).NotTo(Equal(first.HeadSHA))
	g.Expect(rec.statuses).To(Equal([]int{http.StatusOK, http.StatusNotModified, http.StatusOK}))
}

func TestGitHubRetriesServerErrors(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		status    int
		wantErr   bool
		wantCalls int
	}{
		{name: "two 500s then success", failures: 2, status: http.StatusInternalServerError, wantCalls: 3},
		{name: "502s until retries run out", failures: 10, status: http.StatusBadGateway, wantErr: true, wantCalls: 4},
		{name: "501 is not retried", failures: 1, status: http.StatusNotImplemented, wantErr: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			env := startEnv(t)
			gh := newProvider(t, env)
			pr := openPR(t, env, gh, map[string]string{"a.txt": "a\n"})
			env.API.ResetCalls()
			env.API.FailNext(tt.failures, tt.status)

			got, err := gh.GetPullRequest(context.Background(), pr.Number)
			if tt.wantErr {
				g.Expect(err).To(HaveOccurred())
				g.Expect(err.Error()).To(ContainSubstring(http.StatusText(tt.status)))
				g.Expect(err.Error()).To(HavePrefix("get pull request #1: "))
			} else {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got.Number).To(Equal(pr.Number))
			}
			g.Expect(env.API.Calls()["GET /repos/{owner}/{repo}/pulls/{number}"]).To(Equal(tt.wantCalls))
		})
	}
}

func TestGitHubRateLimits(t *testing.T) {
	reset := time.Now().Add(10 * time.Minute)
	tests := []struct {
		name          string
		inject        func(*githubemu.Server)
		secondary     bool
		minWait, wait time.Duration
	}{
		{
			name:    "primary",
			inject:  func(s *githubemu.Server) { s.RateLimitNext(1, reset) },
			minWait: 9 * time.Minute, wait: 10 * time.Minute,
		},
		{
			name:      "secondary",
			inject:    func(s *githubemu.Server) { s.SecondaryRateLimitNext(1, 42*time.Second) },
			secondary: true,
			minWait:   42 * time.Second, wait: 42 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			env := startEnv(t)
			gh := newProvider(t, env)
			pr := openPR(t, env, gh, map[string]string{"a.txt": "a\n"})
			env.API.ResetCalls()
			tt.inject(env.API)

			_, err := gh.GetPullRequest(context.Background(), pr.Number)
			var rl *RateLimitedError
			g.Expect(errors.As(err, &rl)).To(BeTrue(), "got %v", err)
			g.Expect(rl.Secondary).To(Equal(tt.secondary))
			g.Expect(rl.RetryAfter).To(BeNumerically(">=", tt.minWait))
			g.Expect(rl.RetryAfter).To(BeNumerically("<=", tt.wait))
			g.Expect(env.API.Calls()["GET /repos/{owner}/{repo}/pulls/{number}"]).To(Equal(1), "rate limits are not retried")

			// Until the limit passes, the provider does not call GitHub
			// again: go-github remembers it.
			_, err = gh.GetPullRequest(context.Background(), pr.Number)
			g.Expect(errors.As(err, &rl)).To(BeTrue())
			g.Expect(env.API.Calls()["GET /repos/{owner}/{repo}/pulls/{number}"]).To(Equal(1))
		})
	}
}

func TestGitHubEnterpriseBaseURL(t *testing.T) {
	env := startEnv(t)
	for _, base := range []string{env.API.URL(), env.API.URL() + "api/v3", env.API.URL() + "api/v3/"} {
		t.Run(base, func(t *testing.T) {
			g := NewWithT(t)
			gh := newProvider(t, env, func(o *GitHubOptions) { o.BaseURL = base })
			found, err := gh.FindPullRequest(context.Background(), "nothing")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(found).To(BeNil())
		})
	}
}

func TestNewGitHubValidates(t *testing.T) {
	tests := []struct {
		name string
		opts GitHubOptions
	}{
		{"no owner", GitHubOptions{Repo: repo, Token: token}},
		{"no repo", GitHubOptions{Owner: owner, Token: token}},
		{"no token", GitHubOptions{Owner: owner, Repo: repo}},
		{"bad base URL", GitHubOptions{Owner: owner, Repo: repo, Token: token, BaseURL: "http://[::1" + token}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := NewGitHub(tt.opts)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).NotTo(ContainSubstring(token))
		})
	}
}

// TestTokenNeverInErrors provokes every kind of error the provider returns
// and checks that none of their messages holds the token.
func TestTokenNeverInErrors(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)
	pr := openPR(t, env, gh, map[string]string{"shared.txt": "branch\n"})
	closed := httpURLOfClosedServer(t)

	provoke := map[string]func() error{
		"not found": func() error { _, err := gh.GetPullRequest(ctx, 99); return err },
		"wrong token": func() error {
			other := newProvider(t, env, func(o *GitHubOptions) { o.Token = token + "-wrong" })
			_, err := other.GetPullRequest(ctx, pr.Number)
			return err
		},
		"server errors": func() error {
			env.API.FailNext(10, http.StatusInternalServerError)
			defer env.API.ClearFaults()
			_, err := gh.Reviews(ctx, pr.Number)
			return err
		},
		"rate limit": func() error {
			fresh := newProvider(t, env)
			env.API.RateLimitNext(1, time.Now().Add(time.Minute))
			_, err := fresh.Checks(ctx, pr.HeadSHA, nil)
			return err
		},
		"merge queue": func() error {
			env.API.RequireMergeQueue(true)
			defer env.API.RequireMergeQueue(false)
			_, err := gh.Merge(ctx, pr.Number, pr.HeadSHA, MergeSquash, "", "")
			return err
		},
		"validation": func() error {
			_, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "x", Head: "polecat/missing", Base: "main"})
			return err
		},
		"connection refused": func() error {
			dead := newProvider(t, env, func(o *GitHubOptions) { o.BaseURL = closed })
			return dead.Comment(ctx, 1, "hello")
		},
		"token in the base URL": func() error {
			dead := newProvider(t, env, func(o *GitHubOptions) {
				o.BaseURL = strings.Replace(closed, "http://", "http://x-access-token:"+token+"@", 1)
			})
			return dead.DeleteBranch(ctx, branchA)
		},
	}
	for name, f := range provoke {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := f()
			g.Expect(err).To(HaveOccurred())
			for e := err; e != nil; e = errors.Unwrap(e) {
				g.Expect(e.Error()).NotTo(ContainSubstring(token))
			}
		})
	}
}

// httpURLOfClosedServer is the URL of a server that is no longer listening.
func httpURLOfClosedServer(t *testing.T) string {
	t.Helper()
	env, err := githubemu.StartWithRepo("x", "y", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	u := env.API.URL()
	env.Close()
	return u
}

// TestGitHubRefusalsAreReadFromState: GitHub's refusals (422, 405) are
// told apart by what the pull request, the branch and its rules say, not
// by their messages. Each refusal here is injected with a bare status
// text ("Unprocessable Entity"), as a reworded message would come.
func TestGitHubRefusalsAreReadFromState(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)
	pr := openPR(t, env, gh, map[string]string{"shared.txt": "branch\n"})
	pulls := "/repos/" + owner + "/" + repo + "/pulls"

	// Opening again: the open pull request for the head is returned.
	env.API.FailNextMatching(http.MethodPost, pulls, 1, http.StatusUnprocessableEntity)
	again, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "x", Head: branchA, Base: githubemu.DefaultBranch})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.Number).To(Equal(pr.Number))
	g.Expect(again.Opened).To(BeFalse())
	// A refusal for a head without a pull request stays an error.
	push(t, env, "polecat/gt-b", map[string]string{"b.txt": "b\n"})
	env.API.FailNextMatching(http.MethodPost, pulls, 1, http.StatusUnprocessableEntity)
	_, err = gh.CreatePullRequest(ctx, NewPullRequest{Title: "b", Head: "polecat/gt-b", Base: githubemu.DefaultBranch})
	g.Expect(err).To(MatchError(ContainSubstring("Unprocessable Entity")))

	// Updating a branch: up to date is no error; a moved head and a
	// conflict are told.
	update := fmt.Sprintf("%s/%d/update-branch", pulls, pr.Number)
	env.API.FailNextMatching(http.MethodPut, update, 1, http.StatusUnprocessableEntity)
	g.Expect(gh.UpdateBranch(ctx, pr.Number, pr.HeadSHA)).To(Succeed())
	env.API.FailNextMatching(http.MethodPut, update, 1, http.StatusUnprocessableEntity)
	g.Expect(gh.UpdateBranch(ctx, pr.Number, strings.Repeat("0", 40))).To(MatchError(ErrHeadChanged))
	push(t, env, githubemu.DefaultBranch, map[string]string{"shared.txt": "main\n"})
	env.API.FailNextMatching(http.MethodPut, update, 1, http.StatusUnprocessableEntity)
	g.Expect(gh.UpdateBranch(ctx, pr.Number, pr.HeadSHA)).To(MatchError(ErrConflict))

	// Merging: the merge queue comes from the branch's rules.
	merge := fmt.Sprintf("%s/%d/merge", pulls, pr.Number)
	env.API.FailNextMatching(http.MethodPut, merge, 1, http.StatusMethodNotAllowed)
	_, err = gh.Merge(ctx, pr.Number, pr.HeadSHA, MergeSquash, "", "")
	g.Expect(err).To(MatchError(ErrNotMergeable))
	env.API.RequireMergeQueue(true)
	env.API.FailNextMatching(http.MethodPut, merge, 1, http.StatusMethodNotAllowed)
	_, err = gh.Merge(ctx, pr.Number, pr.HeadSHA, MergeSquash, "", "")
	g.Expect(err).To(MatchError(ErrMergeQueueRequired))

	// Deleting a branch: one that is gone is no error, one that is there
	// is.
	refs := "/repos/" + owner + "/" + repo + "/git/refs/heads/"
	env.API.FailNextMatching(http.MethodDelete, refs, 1, http.StatusUnprocessableEntity)
	g.Expect(gh.DeleteBranch(ctx, "polecat/never-pushed")).To(Succeed())
	env.API.FailNextMatching(http.MethodDelete, refs, 1, http.StatusUnprocessableEntity)
	g.Expect(gh.DeleteBranch(ctx, "polecat/gt-b")).To(MatchError(ContainSubstring("delete branch polecat/gt-b")))
	_, err = env.API.BranchSHA(owner, repo, "polecat/gt-b")
	g.Expect(err).NotTo(HaveOccurred(), "the refused delete left the branch")
}
