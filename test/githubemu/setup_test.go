package githubemu

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/google/go-github/v60/github"
)

const (
	testOwner = "acme"
	testRepo  = "app"
	testToken = "ghp_emulatorTestToken0123456789"
	branchA   = "polecat/gt-a"
)

var initialFiles = map[string]string{
	"README.md":   "hello\n",
	"shared.txt":  "base\n",
	"dir/keep.go": "package dir\n",
}

// newEnv starts a git server and an emulator with acme/app, and a go-github
// client for it.
func newEnv(t *testing.T) (*Env, *github.Client) {
	t.Helper()
	env, err := StartWithRepo(testOwner, testRepo, testToken, initialFiles)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(env.Close)
	return env, newClient(t, env)
}

func newClient(t *testing.T, env *Env) *github.Client {
	t.Helper()
	c := github.NewClient(nil).WithAuthToken(testToken)
	base, err := url.Parse(env.API.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = base
	return c
}

// commit pushes files to a branch and returns the commit.
func commit(t *testing.T, env *Env, branch string, files map[string]string) string {
	t.Helper()
	sha, err := env.CommitFiles(branch, "change "+branch, files)
	if err != nil {
		t.Fatalf("commit to %s: %v", branch, err)
	}
	return sha
}

// openPR pushes a branch with files and opens a pull request for it.
func openPR(t *testing.T, env *Env, client *github.Client, branch string, files map[string]string) *github.PullRequest {
	t.Helper()
	commit(t, env, branch, files)
	pr, _, err := client.PullRequests.Create(context.Background(), testOwner, testRepo, &github.NewPullRequest{
		Title: github.String("Work on " + branch),
		Head:  github.String(branch),
		Base:  github.String(DefaultBranch),
		Body:  github.String("Closes the bead."),
	})
	if err != nil {
		t.Fatalf("create pull request: %v", err)
	}
	return pr
}

// clone clones a branch from the git server, as anyone would see it.
func clone(t *testing.T, env *Env, branch string) (*gogit.Repository, *object.Commit) {
	t.Helper()
	repo, err := gogit.Clone(memory.NewStorage(), memfs.New(), &gogit.CloneOptions{
		URL:           env.CloneURL,
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
	})
	if err != nil {
		t.Fatalf("clone %s: %v", branch, err)
	}
	head, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return repo, c
}

// files returns every file of a commit's tree with its content.
func files(t *testing.T, c *object.Commit) map[string]string {
	t.Helper()
	iter, err := c.Files()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = iter.ForEach(func(f *object.File) error {
		s, err := f.Contents()
		out[f.Name] = s
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// statusOf returns the HTTP status of a go-github error.
func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// commitView is what the merge tests look at in a commit.
type commitView struct {
	sha         string
	message     string
	parents     []string
	grandparent string
}

func view(t *testing.T, repo *gogit.Repository, c *object.Commit) *commitView {
	t.Helper()
	v := &commitView{sha: c.Hash.String(), message: strings.TrimSpace(c.Message)}
	for _, p := range c.ParentHashes {
		v.parents = append(v.parents, p.String())
	}
	if len(c.ParentHashes) == 1 {
		parent, err := repo.CommitObject(c.ParentHashes[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(parent.ParentHashes) == 1 {
			v.grandparent = parent.ParentHashes[0].String()
		}
	}
	return v
}
