package githubemu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// errRefMoved means a branch was not where a compare-and-swap expected it.
var errRefMoved = errors.New("reference moved")

// errMergeConflict means git could not merge two commits without help.
var errMergeConflict = errors.New("merge conflict")

// signature is a git author or committer.
type signature struct {
	name, email string
	when        time.Time
}

// gitRepo is a bare repository on disk.
//
// Reads go through go-git, opened afresh for each request so that packs that
// a push added in the meantime are seen. Merges use the git CLI, since go-git
// v5 has no three-way merge, and so do ref updates: git update-ref takes the
// same lock files as the git server's receive-pack, so that a push and an API
// merge racing for one branch cannot both win.
type gitRepo struct{ dir string }

func (g gitRepo) open() (*gogit.Repository, error) {
	return gogit.PlainOpen(g.dir)
}

// branch returns the commit a branch points to, and false when the branch
// does not exist.
func (g gitRepo) branch(name string) (string, bool, error) {
	repo, err := g.open()
	if err != nil {
		return "", false, err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(name), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return ref.Hash().String(), true, nil
}

// defaultBranch is the branch HEAD names.
func (g gitRepo) defaultBranch() (string, error) {
	repo, err := g.open()
	if err != nil {
		return "", err
	}
	head, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", err
	}
	if head.Type() != plumbing.SymbolicReference {
		return "", fmt.Errorf("HEAD of %s is detached", g.dir)
	}
	return head.Target().Short(), nil
}

// resolve turns a commit SHA, a branch or a tag into a commit SHA; false
// when it names no commit.
func (g gitRepo) resolve(ref string) (string, bool, error) {
	repo, err := g.open()
	if err != nil {
		return "", false, err
	}
	if plumbing.IsHash(ref) {
		if _, err := repo.CommitObject(plumbing.NewHash(ref)); err == nil {
			return ref, true, nil
		}
		return "", false, nil
	}
	for _, name := range []plumbing.ReferenceName{
		plumbing.NewBranchReferenceName(ref),
		plumbing.NewTagReferenceName(ref),
	} {
		r, err := repo.Reference(name, true)
		if err == nil {
			return r.Hash().String(), true, nil
		}
	}
	return "", false, nil
}

// isAncestor reports whether ancestor is reachable from descendant (or is
// it).
func (g gitRepo) isAncestor(ancestor, descendant string) (bool, error) {
	repo, err := g.open()
	if err != nil {
		return false, err
	}
	a, err := repo.CommitObject(plumbing.NewHash(ancestor))
	if err != nil {
		return false, err
	}
	d, err := repo.CommitObject(plumbing.NewHash(descendant))
	if err != nil {
		return false, err
	}
	return a.IsAncestor(d)
}

// mergeTree merges two commits without a work tree and returns the tree of
// the result, or the conflicting files.
func (g gitRepo) mergeTree(ours, theirs string) (tree string, conflicts []string, err error) {
	out, code, err := g.git(nil, "merge-tree", "--write-tree", "--name-only", "--no-messages", ours, theirs)
	if err != nil && code != 1 {
		return "", nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code == 1 {
		return lines[0], lines[1:], nil
	}
	return lines[0], nil, nil
}

// commitTree writes a commit and returns its SHA.
func (g gitRepo) commitTree(tree string, parents []string, message string, author, committer signature) (string, error) {
	args := []string{"commit-tree", tree, "-m", message}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	out, _, err := g.git(identityEnv(author, committer), args...)
	return strings.TrimSpace(out), err
}

// updateRef moves a branch from old to new, failing with errRefMoved when it
// is no longer at old.
func (g gitRepo) updateRef(branch, newSHA, oldSHA string) error {
	_, _, err := g.git(nil, "update-ref", "refs/heads/"+branch, newSHA, oldSHA)
	return g.refError(branch, oldSHA, err)
}

// deleteBranch deletes a branch that is still at old.
func (g gitRepo) deleteBranch(branch, oldSHA string) error {
	_, _, err := g.git(nil, "update-ref", "-d", "refs/heads/"+branch, oldSHA)
	return g.refError(branch, oldSHA, err)
}

func (g gitRepo) refError(branch, oldSHA string, err error) error {
	if err == nil {
		return nil
	}
	if now, ok, rerr := g.branch(branch); rerr == nil && (!ok || now != oldSHA) {
		return errRefMoved
	}
	return err
}

// rebase replays the commits of head that base lacks onto base, as GitHub's
// "rebase and merge" does, and returns the new tip. git rebase needs a work
// tree, so it runs in a throwaway clone that borrows the bare repository's
// objects; the new commits are then fetched back.
func (g gitRepo) rebase(base, head string, committer signature) (string, error) {
	tmp, err := os.MkdirTemp("", "githubemu-rebase-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	if _, _, err := runGit("", nil, "clone", "--quiet", "--shared", "--no-checkout", g.dir, tmp); err != nil {
		return "", err
	}
	if _, _, err := runGit(tmp, nil, "checkout", "--quiet", "--detach", head); err != nil {
		return "", err
	}
	// The committer changes, the authors stay: GitHub's rebase merge does
	// the same.
	env := []string{
		"GIT_COMMITTER_NAME=" + committer.name,
		"GIT_COMMITTER_EMAIL=" + committer.email,
		"GIT_COMMITTER_DATE=" + committer.when.Format(time.RFC3339),
	}
	if _, _, err := runGit(tmp, env, "rebase", "--quiet", base); err != nil {
		return "", errMergeConflict
	}
	out, _, err := runGit(tmp, nil, "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	if _, _, err := g.git(nil, "fetch", "--quiet", "--no-write-fetch-head", tmp, "HEAD"); err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// git runs the git CLI on the bare repository.
func (g gitRepo) git(env []string, args ...string) (string, int, error) {
	return runGit("", env, append([]string{"--git-dir", g.dir}, args...)...)
}

// runGit runs the git CLI in dir (the process's directory when empty),
// isolated from the user's and the system's git configuration so that the
// emulator merges alike on every machine. It returns stdout and the exit
// code.
func runGit(dir string, env []string, args ...string) (string, int, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		code := -1
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		}
		return stdout.String(), code, fmt.Errorf("git %s: %w: %s", subcommand(args), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), 0, nil
}

// subcommand names the git command args run, for error messages.
func subcommand(args []string) string {
	if len(args) > 2 && args[0] == "--git-dir" {
		return args[2]
	}
	return args[0]
}

// cleanEnv is the process environment without the variables that would
// point git at another repository or identity.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return env
}

func identityEnv(author, committer signature) []string {
	return []string{
		"GIT_AUTHOR_NAME=" + author.name,
		"GIT_AUTHOR_EMAIL=" + author.email,
		"GIT_AUTHOR_DATE=" + author.when.Format(time.RFC3339),
		"GIT_COMMITTER_NAME=" + committer.name,
		"GIT_COMMITTER_EMAIL=" + committer.email,
		"GIT_COMMITTER_DATE=" + committer.when.Format(time.RFC3339),
	}
}
