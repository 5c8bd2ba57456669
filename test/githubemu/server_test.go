package githubemu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	. "github.com/onsi/gomega"
)

const pullRoute = "GET /repos/{owner}/{repo}/pulls/{number}"

// rawGet sends a GET with the given Authorization and If-None-Match headers.
func rawGet(t *testing.T, env *Env, path, auth, etag string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.API.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, readAll(t, resp.Body)
}

func remaining(t *testing.T, resp *http.Response) int {
	t.Helper()
	n, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
	if err != nil {
		t.Fatalf("X-RateLimit-Remaining %q: %v", resp.Header.Get("X-RateLimit-Remaining"), err)
	}
	return n
}

func TestAuthentication(t *testing.T) {
	env, _ := newEnv(t)
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token in basic auth", "Basic " + testToken, http.StatusUnauthorized},
		{"bearer", "Bearer " + testToken, http.StatusOK},
		{"token scheme", "token " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			resp, body := rawGet(t, env, "repos/acme/app", tt.auth, "")
			g.Expect(resp.StatusCode).To(Equal(tt.status))
			if tt.status == http.StatusUnauthorized {
				g.Expect(body).To(ContainSubstring("Bad credentials"))
				g.Expect(body).NotTo(ContainSubstring(testToken))
			}
		})
	}
}

func TestLogfSeesRequestsNotTokens(t *testing.T) {
	g := NewWithT(t)
	env, _ := newEnv(t)
	var lines []string
	api := New(Options{RepoRoot: env.Git.Root(), Token: testToken, Logf: func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	t.Cleanup(api.Close)
	env.API = api

	rawGet(t, env, "repos/acme/app", "Bearer "+testToken, "")
	rawGet(t, env, "repos/acme/app?token="+testToken, "token "+testToken, "")
	g.Expect(lines).To(HaveLen(2))
	g.Expect(lines[0]).To(Equal("githubemu: GET /repos/acme/app -> 200"))
	for _, l := range lines {
		g.Expect(l).NotTo(ContainSubstring(testToken))
	}
}

func TestRateLimitHeadersOnEveryResponse(t *testing.T) {
	g := NewWithT(t)
	env, client := newEnv(t)
	openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	auth := "Bearer " + testToken

	first, _ := rawGet(t, env, "repos/acme/app/pulls/1", auth, "")
	for _, path := range []string{"repos/acme/app/pulls/1", "repos/acme/app/pulls/9", "nope"} {
		resp, _ := rawGet(t, env, path, auth, "")
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource"} {
			g.Expect(resp.Header.Get(h)).NotTo(BeEmpty(), "%s on %s", h, path)
		}
	}
	last, _ := rawGet(t, env, "repos/acme/app", auth, "")
	g.Expect(remaining(t, first) - remaining(t, last)).To(Equal(4))
	g.Expect(last.Header.Get("X-RateLimit-Limit")).To(Equal("5000"))

	// GET /rate_limit does not count.
	rl, _, err := client.RateLimit.Get(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rl.GetCore().Remaining).To(Equal(remaining(t, last)))
}

func TestRateLimitRunsOut(t *testing.T) {
	g := NewWithT(t)
	env, _ := newEnv(t)
	api := New(Options{RepoRoot: env.Git.Root(), Token: testToken, RateLimit: 2})
	t.Cleanup(api.Close)
	env.API = api
	client := newClient(t, env)
	ctx := context.Background()

	var resp *github.Response
	for range 2 {
		var err error
		_, resp, err = client.Repositories.Get(ctx, testOwner, testRepo)
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(resp.Rate.Remaining).To(Equal(0))

	// go-github has seen Remaining: 0 and refuses without calling.
	_, _, err := client.Repositories.Get(ctx, testOwner, testRepo)
	var rle *github.RateLimitError
	g.Expect(errors.As(err, &rle)).To(BeTrue(), "got %v", err)
	g.Expect(rle.Rate.Reset.Time).To(BeTemporally(">", time.Now()))
	g.Expect(api.Calls()["GET /repos/{owner}/{repo}"]).To(Equal(2))

	// The server refuses too.
	raw, body := rawGet(t, env, "repos/acme/app", "Bearer "+testToken, "")
	g.Expect(raw.StatusCode).To(Equal(http.StatusForbidden))
	g.Expect(raw.Header.Get("X-RateLimit-Remaining")).To(Equal("0"))
	g.Expect(body).To(ContainSubstring("API rate limit exceeded"))
	g.Expect(api.Calls()["GET /repos/{owner}/{repo}"]).To(Equal(3))
}

func TestConditionalRequests(t *testing.T) {
	g := NewWithT(t)
	env, client := newEnv(t)
	openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	auth := "Bearer " + testToken
	env.API.ResetCalls()

	first, body := rawGet(t, env, "repos/acme/app/pulls/1", auth, "")
	g.Expect(first.StatusCode).To(Equal(http.StatusOK))
	etag := first.Header.Get("ETag")
	g.Expect(etag).NotTo(BeEmpty())
	g.Expect(body).NotTo(BeEmpty())

	tests := []struct {
		name   string
		header string
	}{
		{"same tag", etag},
		{"weak tag", "W/" + etag},
		{"one of a list", `"other", ` + etag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			resp, body := rawGet(t, env, "repos/acme/app/pulls/1", auth, tt.header)
			g.Expect(resp.StatusCode).To(Equal(http.StatusNotModified))
			g.Expect(body).To(BeEmpty())
			g.Expect(resp.Header.Get("ETag")).To(Equal(etag))
			g.Expect(remaining(t, resp)).To(Equal(remaining(t, first)), "a 304 is free")
		})
	}

	_, _, err := client.PullRequests.Edit(context.Background(), testOwner, testRepo, 1, &github.PullRequest{Title: github.String("Changed")})
	g.Expect(err).NotTo(HaveOccurred())
	changed, body := rawGet(t, env, "repos/acme/app/pulls/1", auth, etag)
	g.Expect(changed.StatusCode).To(Equal(http.StatusOK))
	g.Expect(changed.Header.Get("ETag")).NotTo(Equal(etag))
	g.Expect(body).To(ContainSubstring("Changed"))

	g.Expect(env.API.Calls()[pullRoute]).To(Equal(5), "304s count as calls")
}

func TestFaults(t *testing.T) {
	reset := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name   string
		inject func(s *Server)
		// check inspects the errors of three GETs of pull request 1 in a row.
		check func(g Gomega, errs []error)
	}{
		{
			name:   "next two fail with 502",
			inject: func(s *Server) { s.FailNext(2, http.StatusBadGateway) },
			check: func(g Gomega, errs []error) {
				g.Expect(statusOf(errs[0])).To(Equal(http.StatusBadGateway))
				g.Expect(statusOf(errs[1])).To(Equal(http.StatusBadGateway))
				g.Expect(errs[2]).NotTo(HaveOccurred())
			},
		},
		{
			name: "only matching requests fail",
			inject: func(s *Server) {
				s.FailNextMatching(http.MethodPost, "/repos/acme/app/pulls", 5, http.StatusInternalServerError)
			},
			check: func(g Gomega, errs []error) {
				for _, err := range errs {
					g.Expect(err).NotTo(HaveOccurred())
				}
			},
		},
		{
			name:   "primary rate limit for one request",
			inject: func(s *Server) { s.RateLimitNext(1, reset) },
			check: func(g Gomega, errs []error) {
				var rle *github.RateLimitError
				g.Expect(errors.As(errs[0], &rle)).To(BeTrue(), "got %v", errs[0])
				g.Expect(rle.Rate.Reset.Time.Equal(reset)).To(BeTrue())
				g.Expect(rle.Message).To(HavePrefix("API rate limit exceeded"))
				// go-github remembers the limit and does not call again
				// before the reset; the emulator's count shows it.
				g.Expect(errors.As(errs[1], &rle)).To(BeTrue())
			},
		},
		{
			name:   "secondary rate limit",
			inject: func(s *Server) { s.SecondaryRateLimitNext(1, 90*time.Second) },
			check: func(g Gomega, errs []error) {
				var arle *github.AbuseRateLimitError
				g.Expect(errors.As(errs[0], &arle)).To(BeTrue(), "got %v", errs[0])
				g.Expect(*arle.RetryAfter).To(Equal(90 * time.Second))
				g.Expect(arle.Message).To(ContainSubstring("secondary rate limit"))
			},
		},
		{
			name:   "rate limit until a time in the past",
			inject: func(s *Server) { s.RateLimitUntil(time.Now().Add(-time.Minute)) },
			check: func(g Gomega, errs []error) {
				g.Expect(errs[0]).NotTo(HaveOccurred())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			env, client := newEnv(t)
			openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
			env.API.ResetCalls()
			tt.inject(env.API)
			var errs []error
			for range 3 {
				_, _, err := client.PullRequests.Get(context.Background(), testOwner, testRepo, 1)
				errs = append(errs, err)
			}
			tt.check(g, errs)
		})
	}
}

func TestRateLimitUntilAndClear(t *testing.T) {
	g := NewWithT(t)
	env, _ := newEnv(t)
	auth := "Bearer " + testToken
	reset := time.Now().Add(time.Hour)
	env.API.RateLimitUntil(reset)

	for range 3 {
		resp, body := rawGet(t, env, "repos/acme/app", auth, "")
		g.Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
		g.Expect(resp.Header.Get("X-RateLimit-Remaining")).To(Equal("0"))
		g.Expect(resp.Header.Get("X-RateLimit-Reset")).To(Equal(strconv.FormatInt(reset.Unix(), 10)))
		g.Expect(body).To(ContainSubstring("API rate limit exceeded"))
	}
	env.API.ClearFaults()
	resp, _ := rawGet(t, env, "repos/acme/app", auth, "")
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	g.Expect(env.API.Calls()["GET /repos/{owner}/{repo}"]).To(Equal(4))
}

func TestEnterpriseBaseURL(t *testing.T) {
	g := NewWithT(t)
	env, client := newEnv(t)
	openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	env.API.ResetCalls()

	ghe, err := github.NewClient(nil).WithAuthToken(testToken).WithEnterpriseURLs(env.API.URL(), env.API.URL())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ghe.BaseURL.Path).To(Equal("/api/v3/"))
	pr, _, err := ghe.PullRequests.Get(context.Background(), testOwner, testRepo, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pr.GetNumber()).To(Equal(1))
	g.Expect(env.API.Calls()).To(Equal(map[string]int{pullRoute: 1}))
}

func TestMatchSegments(t *testing.T) {
	tests := []struct {
		template string
		path     string
		want     map[string]string // nil: no match
	}{
		{"/repos/{owner}/{repo}", "/repos/acme/app", map[string]string{"owner": "acme", "repo": "app"}},
		{"/repos/{owner}/{repo}", "/repos/acme/app/pulls", nil},
		{"/repos/{owner}/{repo}", "/repos/acme", nil},
		{"/repos/{owner}/{repo}/git/refs/heads/{branch...}", "/repos/a/b/git/refs/heads/polecat/gt-a",
			map[string]string{"owner": "a", "repo": "b", "branch": "polecat/gt-a"}},
		{"/repos/{owner}/{repo}/git/refs/heads/{branch...}", "/repos/a/b/git/refs/heads", nil},
		{"/repos/{owner}/{repo}/commits/{ref...}/status", "/repos/a/b/commits/feature/x/y/status",
			map[string]string{"owner": "a", "repo": "b", "ref": "feature/x/y"}},
		{"/repos/{owner}/{repo}/commits/{ref...}/status", "/repos/a/b/commits/abc/check-runs", nil},
		{"/repos/{owner}/{repo}/commits/{ref...}/status", "/repos/a/b/commits/status", nil},
		{"/repos/{owner}/{repo}/pulls/{number}", "/repos/a/b/pulls/feature%2Fx",
			map[string]string{"owner": "a", "repo": "b", "number": "feature/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.template+" "+tt.path, func(t *testing.T) {
			g := NewWithT(t)
			rt := newRoute(http.MethodGet, tt.template, nil)
			segs, ok := splitPath(tt.path)
			g.Expect(ok).To(BeTrue())
			params := map[string]string{}
			matched := matchSegments(rt.segments, segs, params)
			if tt.want == nil {
				g.Expect(matched).To(BeFalse())
				return
			}
			g.Expect(matched).To(BeTrue())
			g.Expect(params).To(Equal(tt.want))
		})
	}
}
