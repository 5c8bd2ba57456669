package githubemu

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/storage/memory"
)

// DefaultBranch is the branch CreateRepo makes and HEAD names.
const DefaultBranch = "main"

// testAuthor signs the commits the helpers make.
var testAuthor = object.Signature{Name: "githubemu", Email: "githubemu@example.com"}

// CreateRepo creates the bare repository RepoRoot/<owner>/<repo>.git with
// one commit of files on main, which HEAD names.
func (s *Server) CreateRepo(owner, repo string, files map[string]string) error {
	if !validName(owner) || !validName(repo) {
		return fmt.Errorf("githubemu: invalid repository name %q/%q", owner, repo)
	}
	dir := s.repoDir(owner, repo)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	bare, err := gogit.PlainInit(dir, true)
	if err != nil {
		return fmt.Errorf("githubemu: create %s/%s: %w", owner, repo, err)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(DefaultBranch))
	if err := bare.Storer.SetReference(head); err != nil {
		return err
	}

	work, err := gogit.Init(memory.NewStorage(), memfs.New())
	if err != nil {
		return err
	}
	if err := work.Storer.SetReference(head); err != nil {
		return err
	}
	_, err = commitAndPush(work, dir, DefaultBranch, "Initial commit", files)
	return err
}

// CommitFiles commits files (path to content) on a branch of a repository
// and pushes it, as a developer or a polecat would; a branch that does not
// exist is created from the default branch. It returns the new commit's
// SHA. Use it to create branches and to move a base branch on.
func (s *Server) CommitFiles(owner, repo, branch, message string, files map[string]string) (string, error) {
	dir := s.repoDir(owner, repo)
	g := gitRepo{dir: dir}
	from := branch
	before, ok, err := g.branch(branch)
	if err != nil {
		return "", err
	} else if !ok {
		if from, err = g.defaultBranch(); err != nil {
			return "", err
		}
	}
	work, err := gogit.Clone(memory.NewStorage(), memfs.New(), &gogit.CloneOptions{
		URL:           dir,
		ReferenceName: plumbing.NewBranchReferenceName(from),
		SingleBranch:  true,
	})
	if err != nil {
		return "", fmt.Errorf("githubemu: clone %s/%s: %w", owner, repo, err)
	}
	if from != branch {
		wt, err := work.Worktree()
		if err != nil {
			return "", err
		}
		if err := wt.Checkout(&gogit.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch), Create: true}); err != nil {
			return "", err
		}
	}
	sha, err := commitAndPush(work, dir, branch, message, files)
	if err == nil {
		s.pushed(owner, repo, []*packp.Command{{
			Name: plumbing.NewBranchReferenceName(branch), Old: plumbing.NewHash(before), New: plumbing.NewHash(sha),
		}})
	}
	return sha, err
}

// BranchSHA returns the commit a branch points to.
func (s *Server) BranchSHA(owner, repo, branch string) (string, error) {
	sha, ok, err := gitRepo{dir: s.repoDir(owner, repo)}.branch(branch)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("branch %s of %s/%s: %w", branch, owner, repo, ErrNotFound)
	}
	return sha, nil
}

// ReadFile returns the content of a file at a ref (branch, tag or SHA).
func (s *Server) ReadFile(owner, repo, ref, name string) (string, error) {
	c, err := s.commitAt(owner, repo, ref)
	if err != nil {
		return "", err
	}
	f, err := c.File(name)
	if err != nil {
		return "", fmt.Errorf("%s at %s: %w", name, ref, err)
	}
	return f.Contents()
}

// ListFiles returns the paths of every file at a ref, in tree order.
func (s *Server) ListFiles(owner, repo, ref string) ([]string, error) {
	c, err := s.commitAt(owner, repo, ref)
	if err != nil {
		return nil, err
	}
	iter, err := c.Files()
	if err != nil {
		return nil, err
	}
	var names []string
	err = iter.ForEach(func(f *object.File) error {
		names = append(names, f.Name)
		return nil
	})
	return names, err
}

// commitAt returns the commit a ref (branch, tag or SHA) points at.
func (s *Server) commitAt(owner, repo, ref string) (*object.Commit, error) {
	g := gitRepo{dir: s.repoDir(owner, repo)}
	sha, ok, err := g.resolve(ref)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("ref %s of %s/%s: %w", ref, owner, repo, ErrNotFound)
	}
	r, err := g.open()
	if err != nil {
		return nil, err
	}
	return r.CommitObject(plumbing.NewHash(sha))
}

func (s *Server) repoDir(owner, repo string) string {
	return filepath.Join(s.opts.RepoRoot, owner, repo+".git")
}

// commitAndPush writes files into the work tree of an in-memory repository,
// commits them on its current branch and pushes that branch to dir without
// force, so that a branch that moved meanwhile is not overwritten.
func commitAndPush(work *gogit.Repository, dir, branch, message string, files map[string]string) (string, error) {
	wt, err := work.Worktree()
	if err != nil {
		return "", err
	}
	for name, content := range files {
		if err := writeFile(wt.Filesystem, name, content); err != nil {
			return "", err
		}
		if _, err := wt.Add(name); err != nil {
			return "", err
		}
	}
	author := testAuthor
	author.When = time.Now()
	hash, err := wt.Commit(message, &gogit.CommitOptions{Author: &author, AllowEmptyCommits: true})
	if err != nil {
		return "", err
	}
	if _, err := work.Remote(gogit.DefaultRemoteName); err != nil {
		if _, err := work.CreateRemote(&config.RemoteConfig{Name: gogit.DefaultRemoteName, URLs: []string{dir}}); err != nil {
			return "", err
		}
	}
	ref := plumbing.NewBranchReferenceName(branch)
	spec := config.RefSpec(ref + ":" + ref)
	if err := work.Push(&gogit.PushOptions{RefSpecs: []config.RefSpec{spec}}); err != nil {
		return "", fmt.Errorf("githubemu: push %s: %w", branch, err)
	}
	return hash.String(), nil
}

func writeFile(fs billy.Filesystem, name, content string) error {
	if dir := path.Dir(name); dir != "." {
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := fs.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(content)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
