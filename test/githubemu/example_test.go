package githubemu_test

import (
	"context"
	"fmt"
	"net/url"

	"github.com/google/go-github/v60/github"

	"github.com/boshu2/gastown-operator/test/githubemu"
)

// A git server with one repository, the emulator over it, and a pull request
// opened and merged with go-github, as a test or a demo would.
func ExampleStartWithRepo() {
	env, err := githubemu.StartWithRepo("acme", "app", "demo-token", map[string]string{"README.md": "hello\n"})
	if err != nil {
		panic(err)
	}
	defer env.Close()

	// A polecat pushes its branch.
	if _, err := env.CommitFiles("polecat/gt-a", "Add health endpoint", map[string]string{"health.go": "package app\n"}); err != nil {
		panic(err)
	}

	client := github.NewClient(nil).WithAuthToken(env.Token)
	client.BaseURL, _ = url.Parse(env.API.URL())
	ctx := context.Background()
	pr, _, err := client.PullRequests.Create(ctx, "acme", "app", &github.NewPullRequest{
		Title: github.String("gt-a"), Head: github.String("polecat/gt-a"), Base: github.String("main"),
	})
	if err != nil {
		panic(err)
	}
	if err := env.API.Approve("acme", "app", pr.GetNumber(), "alice"); err != nil {
		panic(err)
	}
	res, _, err := client.PullRequests.Merge(ctx, "acme", "app", pr.GetNumber(), "", &github.PullRequestOptions{MergeMethod: "squash"})
	if err != nil {
		panic(err)
	}
	content, err := env.API.ReadFile("acme", "app", "main", "health.go")
	if err != nil {
		panic(err)
	}
	fmt.Println("merged:", res.GetMerged())
	fmt.Printf("main has health.go: %q\n", content)
	// Output:
	// merged: true
	// main has health.go: "package app\n"
}
