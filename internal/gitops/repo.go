package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// remoteName is the only remote a polecat's clone has.
const remoteName = git.DefaultRemoteName

// Repo is a clone on disk and the credentials for its remote.
type Repo struct {
	repo *git.Repository
	dir  string
	url  string
	auth transport.AuthMethod
}

// CloneOptions say what to clone.
type CloneOptions struct {
	// URL of the repository.
	URL string
	// Branch to clone; it is checked out.
	Branch string
	// Auth for the remote; nil for anonymous or file URLs.
	Auth transport.AuthMethod
	// Depth of history to fetch; 0 fetches all of it.
	Depth int
}

// Signature is the author of a commit.
type Signature struct {
	Name  string
	Email string
}

// Commit is a commit CommitAll made.
type Commit struct {
	SHA string
	// Files the commit added, changed or removed, sorted.
	Files []string
}

// Clone clones one branch of a repository into dir, which must be empty or
// absent. Only that branch is fetched and no tags, so a Depth of 1 costs one
// commit's tree.
func Clone(ctx context.Context, dir string, o CloneOptions) (*Repo, error) {
	r, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL:           o.URL,
		Auth:          o.Auth,
		RemoteName:    remoteName,
		ReferenceName: plumbing.NewBranchReferenceName(o.Branch),
		SingleBranch:  true,
		Depth:         o.Depth,
		Tags:          git.NoTags,
	})
	if err != nil {
		return nil, &Error{Op: "clone branch " + o.Branch + " of", URL: o.URL, Err: err}
	}
	return &Repo{repo: r, dir: dir, url: o.URL, auth: o.Auth}, nil
}

// Open opens the clone in dir. auth is used to fetch and push.
func Open(dir string, auth transport.AuthMethod) (*Repo, error) {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("open the git repository in %s: %w", dir, err)
	}
	remote, err := r.Remote(remoteName)
	if err != nil {
		return nil, fmt.Errorf("open the git repository in %s: remote %s: %w", dir, remoteName, err)
	}
	return &Repo{repo: r, dir: dir, url: remote.Config().URLs[0], auth: auth}, nil
}

// OpenRemote opens the clone in dir to fetch from and push to url, whatever
// the clone's own configuration names: for a clone someone else could have
// changed (the agent's workspace), so that credentials only ever go to url.
func OpenRemote(dir, url string, auth transport.AuthMethod) (*Repo, error) {
	r, err := Open(dir, auth)
	if err != nil {
		return nil, err
	}
	r.url = url
	return r, nil
}

// SetBranch points branch at commit, which must be a commit of the clone.
func (r *Repo) SetBranch(branch, commit string) error {
	if !plumbing.IsHash(commit) {
		return fmt.Errorf("set branch %s: %q is not a commit SHA", branch, commit)
	}
	if _, err := r.repo.CommitObject(plumbing.NewHash(commit)); err != nil {
		return fmt.Errorf("set branch %s to %s: %w", branch, commit, err)
	}
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), plumbing.NewHash(commit))
	if err := r.repo.Storer.SetReference(ref); err != nil {
		return fmt.Errorf("set branch %s to %s: %w", branch, commit, err)
	}
	return nil
}

// URL is the repository's remote URL, as given.
func (r *Repo) URL() string { return r.url }

// Head returns the SHA of the checked-out commit and the checked-out branch
// ("" when HEAD is detached).
func (r *Repo) Head() (sha, branch string, err error) {
	ref, err := r.repo.Head()
	if err != nil {
		return "", "", fmt.Errorf("read HEAD: %w", err)
	}
	if ref.Name().IsBranch() {
		branch = ref.Name().Short()
	}
	return ref.Hash().String(), branch, nil
}

// CreateBranch creates branch at HEAD and checks it out.
func (r *Repo) CreateBranch(branch string) error {
	name := plumbing.NewBranchReferenceName(branch)
	if err := name.Validate(); err != nil {
		return fmt.Errorf("create branch %q: %w", branch, err)
	}
	head, err := r.repo.Head()
	if err != nil {
		return fmt.Errorf("create branch %s: read HEAD: %w", branch, err)
	}
	wt, err := r.worktree()
	if err != nil {
		return fmt.Errorf("create branch %s: %w", branch, err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: head.Hash(), Branch: name, Create: true}); err != nil {
		return fmt.Errorf("create branch %s: %w", branch, err)
	}
	return nil
}

// CheckoutBranch checks out an existing local branch.
func (r *Repo) CheckoutBranch(branch string) error {
	wt, err := r.worktree()
	if err != nil {
		return fmt.Errorf("check out branch %s: %w", branch, err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch)}); err != nil {
		return fmt.Errorf("check out branch %s: %w", branch, err)
	}
	return nil
}

// FetchBranch fetches a remote branch into its remote-tracking ref
// (refs/remotes/origin/<branch>) and returns its SHA, or ErrBranchNotFound.
// A Depth of 0 fetches all of its history.
func (r *Repo) FetchBranch(ctx context.Context, branch string, depth int) (string, error) {
	op := "fetch branch " + branch + " of"
	sha, err := r.RemoteBranchSHA(ctx, branch)
	if err != nil {
		return "", err
	}
	spec := config.RefSpec(fmt.Sprintf("+%s:%s",
		plumbing.NewBranchReferenceName(branch), plumbing.NewRemoteReferenceName(remoteName, branch)))
	err = r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RemoteURL:  r.url,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth,
		Depth:      depth,
		Tags:       git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", &Error{Op: op, URL: r.url, Err: err}
	}
	return sha, nil
}

// RemoteBranchSHA asks the remote for the SHA of branch, or ErrBranchNotFound.
func (r *Repo) RemoteBranchSHA(ctx context.Context, branch string) (string, error) {
	op := "list branch " + branch + " of"
	remote, err := r.repo.Remote(remoteName)
	if err != nil {
		return "", &Error{Op: op, URL: r.url, Err: err}
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return "", &Error{Op: op, URL: r.url, Err: err}
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash().String(), nil
		}
	}
	return "", &Error{Op: op, URL: r.url, Err: ErrBranchNotFound}
}

// TrackingSHA returns the SHA of the remote-tracking ref of branch as last
// fetched, or ErrBranchNotFound.
func (r *Repo) TrackingSHA(branch string) (string, error) {
	ref, err := r.repo.Reference(plumbing.NewRemoteReferenceName(remoteName, branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", ErrBranchNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read remote-tracking branch %s: %w", branch, err)
	}
	return ref.Hash().String(), nil
}

// Changes lists the files that differ from HEAD, staged or not, including
// new files and excluding ignored ones, sorted.
func (r *Repo) Changes() ([]string, error) {
	wt, err := r.worktree()
	if err != nil {
		return nil, fmt.Errorf("read the worktree status: %w", err)
	}
	status, err := wt.Status()
	if err != nil {
		return nil, fmt.Errorf("read the worktree status: %w", err)
	}
	var files []string
	for path, s := range status {
		if s.Staging != git.Unmodified || s.Worktree != git.Unmodified {
			files = append(files, path)
		}
	}
	sort.Strings(files)
	return files, nil
}

// CommitAll stages every change (additions, modifications and deletions;
// ignored files stay out) and commits it on the current branch with author
// as author and committer. It returns ErrNoChanges when there is nothing to
// commit.
func (r *Repo) CommitAll(message string, author Signature) (*Commit, error) {
	wt, err := r.worktree()
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return nil, fmt.Errorf("commit: stage changes: %w", err)
	}
	staged, err := r.stagedFiles(wt)
	if err != nil {
		return nil, err
	}
	if len(staged) == 0 {
		return nil, ErrNoChanges
	}
	sig := &object.Signature{Name: author.Name, Email: author.Email, When: time.Now()}
	hash, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig})
	if errors.Is(err, git.ErrEmptyCommit) {
		return nil, ErrNoChanges
	}
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return &Commit{SHA: hash.String(), Files: staged}, nil
}

func (r *Repo) stagedFiles(wt *git.Worktree) ([]string, error) {
	status, err := wt.Status()
	if err != nil {
		return nil, fmt.Errorf("commit: read the worktree status: %w", err)
	}
	var files []string
	for path, s := range status {
		if s.Staging != git.Unmodified && s.Staging != git.Untracked {
			files = append(files, path)
		}
	}
	sort.Strings(files)
	return files, nil
}

// ResetSoft moves the current branch to sha and keeps the worktree and
// index as they are, so that commits made after sha become uncommitted
// changes again.
func (r *Repo) ResetSoft(sha string) error {
	wt, err := r.worktree()
	if err != nil {
		return fmt.Errorf("reset to %s: %w", sha, err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: plumbing.NewHash(sha), Mode: git.SoftReset}); err != nil {
		return fmt.Errorf("reset to %s: %w", sha, err)
	}
	return nil
}

// Push pushes the local branch to the remote branch of the same name. The
// remote accepts only a fast-forward: a new branch, or one whose tip is an
// ancestor of ours.
func (r *Repo) Push(ctx context.Context, branch string) error {
	return r.push(ctx, branch, nil)
}

// PushWithLease replaces the remote branch with the local one, as long as
// the remote branch is still at expectedSHA (git push --force-with-lease).
// An empty expectedSHA expects the branch to be absent. Someone else's push
// since we looked is never overwritten.
func (r *Repo) PushWithLease(ctx context.Context, branch, expectedSHA string) error {
	if expectedSHA == "" {
		// A plain push creates the branch and fails if it exists with
		// commits we do not have: the same lease.
		return r.push(ctx, branch, nil)
	}
	// go-git checks a lease against the remote-tracking ref, which must
	// exist even when the expected hash is given: record it if we never
	// fetched the branch.
	tracking := plumbing.NewRemoteReferenceName(remoteName, branch)
	if _, err := r.repo.Reference(tracking, false); errors.Is(err, plumbing.ErrReferenceNotFound) {
		ref := plumbing.NewHashReference(tracking, plumbing.NewHash(expectedSHA))
		if err := r.repo.Storer.SetReference(ref); err != nil {
			return fmt.Errorf("push branch %s: record the lease: %w", branch, err)
		}
	}
	return r.push(ctx, branch, &git.ForceWithLease{
		RefName: plumbing.NewBranchReferenceName(branch),
		Hash:    plumbing.NewHash(expectedSHA),
	})
}

func (r *Repo) push(ctx context.Context, branch string, lease *git.ForceWithLease) error {
	name := plumbing.NewBranchReferenceName(branch)
	err := r.repo.PushContext(ctx, &git.PushOptions{
		RemoteName:     remoteName,
		RemoteURL:      r.url,
		RefSpecs:       []config.RefSpec{config.RefSpec(name + ":" + name)},
		Auth:           r.auth,
		ForceWithLease: lease,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return &Error{Op: "push branch " + branch + " to", URL: r.url, Err: err}
	}
	return nil
}

// MergeBase returns the best common ancestor of two commits.
func (r *Repo) MergeBase(a, b string) (string, error) {
	ca, err := r.commit(a)
	if err != nil {
		return "", err
	}
	cb, err := r.commit(b)
	if err != nil {
		return "", err
	}
	bases, err := ca.MergeBase(cb)
	if err != nil {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	if len(bases) == 0 {
		return "", fmt.Errorf("merge base of %s and %s: the commits share no history", a, b)
	}
	return bases[0].Hash.String(), nil
}

// Diff returns the patch (unified diff) that turns commit from into commit to.
func (r *Repo) Diff(from, to string) (string, error) {
	cf, err := r.commit(from)
	if err != nil {
		return "", err
	}
	ct, err := r.commit(to)
	if err != nil {
		return "", err
	}
	patch, err := cf.Patch(ct)
	if err != nil {
		return "", fmt.Errorf("diff %s..%s: %w", from, to, err)
	}
	return patch.String(), nil
}

// Message is the message of commit sha, which the clone must have.
func (r *Repo) Message(sha string) (string, error) {
	c, err := r.commit(sha)
	if err != nil {
		return "", err
	}
	return c.Message, nil
}

func (r *Repo) commit(sha string) (*object.Commit, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", sha, err)
	}
	return c, nil
}

// worktree returns the clone's worktree with its exclude file applied.
// go-git's worktree filesystem refuses to read inside .git, so go-git never
// reads .git/info/exclude itself.
func (r *Repo) worktree() (*git.Worktree, error) {
	wt, err := r.repo.Worktree()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(r.excludeFile())
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read the exclude file: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			wt.Excludes = append(wt.Excludes, gitignore.ParsePattern(line, nil))
		}
	}
	return wt, nil
}

func (r *Repo) excludeFile() string {
	return filepath.Join(r.dir, git.GitDirName, "info", "exclude")
}

// Exclude adds gitignore patterns to the clone's own exclude file
// (.git/info/exclude): files an agent leaves in the worktree for itself stay
// out of commits without touching the repository's .gitignore.
func (r *Repo) Exclude(patterns ...string) error {
	if len(patterns) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(r.excludeFile()), 0o755); err != nil {
		return fmt.Errorf("write the exclude file: %w", err)
	}
	f, err := os.OpenFile(r.excludeFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write the exclude file: %w", err)
	}
	_, err = f.Write([]byte("\n" + strings.Join(patterns, "\n") + "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the exclude file: %w", err)
	}
	return nil
}
