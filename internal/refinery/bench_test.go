package refinery

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"
)

// BenchmarkPollPullRequest measures what the Refinery's poll of a waiting
// pull request costs: the pull request, its reviews and its checks, read
// again and again while nothing changes. With the ETag cache every read
// after the first is a 304, which GitHub does not count against the rate
// limit: rate-limit/poll is the figure to watch, requests/poll the load.
func BenchmarkPollPullRequest(b *testing.B) {
	env := startEnv(b)
	sha := push(b, env, branchA, map[string]string{"a.txt": "a\n"})
	gh := newProvider(b, env)
	ctx := context.Background()
	pr, err := gh.CreatePullRequest(ctx, NewPullRequest{Title: "a", Head: branchA, Base: "main"})
	if err != nil {
		b.Fatal(err)
	}
	if err := env.API.SetStatus(owner, repo, sha, "test", "success"); err != nil {
		b.Fatal(err)
	}
	poll := func() {
		if _, err := gh.GetPullRequest(ctx, pr.Number); err != nil {
			b.Fatal(err)
		}
		if _, err := gh.Reviews(ctx, pr.Number); err != nil {
			b.Fatal(err)
		}
		if _, err := gh.Checks(ctx, sha, nil); err != nil {
			b.Fatal(err)
		}
	}
	poll() // fills the ETag cache
	client, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(env.API.URL(), env.API.URL())
	if err != nil {
		b.Fatal(err)
	}
	used := func() int { // GET /rate_limit itself is free, as on GitHub
		limits, _, err := client.RateLimit.Get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return limits.Core.Limit - limits.Core.Remaining
	}
	calls, usedBefore := gh.Calls(), used()
	for b.Loop() {
		poll()
	}
	b.ReportMetric(float64(gh.Calls()-calls)/float64(b.N), "requests/poll")
	b.ReportMetric(float64(used()-usedBefore)/float64(b.N), "rate-limit/poll")
}
