package refinery

import (
	"context"
	"strings"
	"testing"

	"github.com/boshu2/gastown-operator/test/githubemu"
)

// TestPullRequestTextHasNoSecrets: the pull request's title and body never
// show a token-shaped string or URL credentials, wherever the bead or the
// agent's summary put them (the provider removes its own token:
// TestGitHubNeverPostsItsToken).
func TestPullRequestTextHasNoSecrets(t *testing.T) {
	const (
		password = "url-password-value"
		ghToken  = "ghp_summaryToken0123456789abcdefghijKLMN"
		appToken = "ghs_installationToken0123456789abcdefghij"
		antKey   = "sk-ant-api03-summaryKey_0123456789"
	)
	info := BeadInfo{
		ID: "gt-a", Rig: "demo", Title: "Add auth " + appToken,
		Description: "Use https://bot:" + password + "@git.example.com/o/r.git",
		Acceptance:  "Bearer abcdefghijklmnopqrstuvwxyz012345 works",
		Polecat:     "gt-a", Agent: "claude-code",
		Summary: "Done. I used " + appToken + ", " + ghToken + " and " + antKey + ".",
	}
	title, body := PullRequestTitle(info), PullRequestBody(info)
	for _, text := range []string{title, body} {
		for _, secret := range []string{password, ghToken, appToken, antKey, "abcdefghijklmnopqrstuvwxyz012345"} {
			if strings.Contains(text, secret) {
				t.Errorf("the pull request text shows %q:\n%s", secret, text)
			}
		}
	}
	for _, want := range []string{"> Done. I used [REDACTED], [REDACTED] and [REDACTED].", Marker("gt-a", "demo"), "https://[REDACTED]@git.example.com/o/r.git"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if BeadOfBody(body) != "gt-a" {
		t.Errorf("the marker does not survive redaction:\n%s", body)
	}
}

// TestGitHubNeverPostsItsToken: the provider removes its own token from the
// pull request and comments it posts.
func TestGitHubNeverPostsItsToken(t *testing.T) {
	ctx := context.Background()
	env := startEnv(t)
	gh := newProvider(t, env)
	push(t, env, branchA, map[string]string{"a.txt": "a\n"})
	pr, err := gh.CreatePullRequest(ctx, NewPullRequest{
		Title: "gt-a: " + token, Body: "the agent saw " + token, Head: branchA, Base: githubemu.DefaultBranch,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Comment(ctx, pr.Number, "comment with "+token); err != nil {
		t.Fatal(err)
	}
	got, err := env.API.PullRequest(owner, repo, pr.Number)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range append([]string{got.Title, got.Body}, got.Comments...) {
		if strings.Contains(text, token) {
			t.Errorf("posted %q", text)
		}
	}
	if got.Body != "the agent saw [REDACTED]" || len(got.Comments) != 1 || got.Comments[0] != "comment with [REDACTED]" {
		t.Errorf("body %q, comments %q", got.Body, got.Comments)
	}
}
