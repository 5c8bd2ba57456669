package refinery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// mergeRef is the local branch a merge result is pushed from.
const mergeRef = plumbing.ReferenceName("refs/heads/refinery-merge")

// GitMerger merges branches straight into a target branch with go-git, for
// the git provider: forges without the GitHub API, so without pull requests.
//
// Each merge clones the two branches into memory, writes the result and
// pushes the target without force, so a target that moved meanwhile makes
// the push fail with ErrTargetMoved instead of losing a commit.
//
// go-git has no content merge, so when the target has moved on since the
// branch left it, the merge works per file: a file changed only on the
// branch takes the branch's version, a file changed only on the target keeps
// the target's, a file changed identically on both is fine, and a file
// changed differently on both sides is a conflict (a *ConflictError naming
// the files), even where git would merge the lines. Such conflicts go to a
// conflict-resolution polecat.
type GitMerger struct {
	url  string
	auth transport.AuthMethod
}

// NewGitMerger returns a merger for the repository at url; auth may be nil
// for a server that needs none.
func NewGitMerger(url string, auth transport.AuthMethod) *GitMerger {
	return &GitMerger{url: url, auth: auth}
}

// Merge merges branch into target and returns the target's new commit.
//
// When branch contains target, merge and rebase fast-forward target to the
// branch and squash writes one commit with the branch's tree. When target
// has moved on, every method writes one squash commit with the file-level
// merge described on GitMerger. A branch merged already returns the target's
// commit and changes nothing, so a repeated Merge is harmless.
func (m *GitMerger) Merge(ctx context.Context, branch, target, method, message string, author object.Signature) (string, error) {
	if method == "" {
		method = MergeSquash
	}
	if method != MergeSquash && method != MergeCommit && method != MergeRebase {
		return "", fmt.Errorf("merge %s into %s: unknown merge method %q", branch, target, method)
	}
	if author.When.IsZero() {
		author.When = time.Now()
	}
	op := fmt.Sprintf("merge %s into %s", branch, target)

	repo, err := m.fetch(ctx, branch, target)
	if err != nil {
		return "", m.wrap(op, err)
	}
	head, err := remoteCommit(repo, branch)
	if err != nil {
		return "", m.wrap(op, err)
	}
	base, err := remoteCommit(repo, target)
	if err != nil {
		return "", m.wrap(op, err)
	}
	result, err := m.result(repo, head, base, method, message, author)
	if err != nil {
		return "", m.wrap(op, err)
	}
	if result == base.Hash {
		return result.String(), nil
	}
	if err := m.push(ctx, repo, result, target); err != nil {
		return "", m.wrap(op, err)
	}
	return result.String(), nil
}

// result is the commit target should point to after the merge.
func (m *GitMerger) result(repo *gogit.Repository, head, base *object.Commit, method, message string, author object.Signature) (plumbing.Hash, error) {
	contained, err := base.IsAncestor(head)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if contained {
		if method != MergeSquash {
			return head.Hash, nil
		}
		if head.Hash == base.Hash {
			return base.Hash, nil
		}
		return writeCommit(repo.Storer, head.TreeHash, base.Hash, message, author)
	}
	merged, err := head.IsAncestor(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if merged {
		return base.Hash, nil
	}
	tree, err := mergeTrees(repo.Storer, head, base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if tree == base.TreeHash {
		// The branch's changes are on the target already, e.g. squashed
		// by an earlier Merge that was not recorded.
		return base.Hash, nil
	}
	return writeCommit(repo.Storer, tree, base.Hash, message, author)
}

// DeleteBranch deletes a branch on the remote; one that is gone already is
// no error.
func (m *GitMerger) DeleteBranch(ctx context.Context, branch string) error {
	repo, err := m.emptyRepo()
	if err != nil {
		return err
	}
	spec := config.RefSpec(":" + plumbing.NewBranchReferenceName(branch))
	err = repo.PushContext(ctx, &gogit.PushOptions{Auth: m.auth, RefSpecs: []config.RefSpec{spec}})
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return m.wrap("delete branch "+branch, err)
	}
	return nil
}

func (m *GitMerger) emptyRepo() (*gogit.Repository, error) {
	repo, err := gogit.Init(memory.NewStorage(), nil)
	if err != nil {
		return nil, err
	}
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: gogit.DefaultRemoteName, URLs: []string{m.url}})
	return repo, err
}

// fetch brings the full history of two branches into memory.
func (m *GitMerger) fetch(ctx context.Context, branches ...string) (*gogit.Repository, error) {
	repo, err := m.emptyRepo()
	if err != nil {
		return nil, err
	}
	var specs []config.RefSpec
	for _, b := range branches {
		specs = append(specs, config.RefSpec(fmt.Sprintf("+%s:%s",
			plumbing.NewBranchReferenceName(b), plumbing.NewRemoteReferenceName(gogit.DefaultRemoteName, b))))
	}
	err = repo.FetchContext(ctx, &gogit.FetchOptions{Auth: m.auth, RefSpecs: specs, Tags: gogit.NoTags})
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetch %s: %w", strings.Join(branches, ", "), err)
	}
	return repo, nil
}

// push moves target to commit unless it moved since the fetch.
func (m *GitMerger) push(ctx context.Context, repo *gogit.Repository, commit plumbing.Hash, target string) error {
	if err := repo.Storer.SetReference(plumbing.NewHashReference(mergeRef, commit)); err != nil {
		return err
	}
	spec := config.RefSpec(fmt.Sprintf("%s:%s", mergeRef, plumbing.NewBranchReferenceName(target)))
	err := repo.PushContext(ctx, &gogit.PushOptions{Auth: m.auth, RefSpecs: []config.RefSpec{spec}})
	if err == nil || errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil
	}
	// go-git's refusal of a push that is not a fast-forward has no error
	// type: ask the remote whether the target moved since the fetch.
	if moved, lerr := m.targetMoved(ctx, repo, target); lerr == nil && moved {
		return fmt.Errorf("push %s: %w", target, ErrTargetMoved)
	}
	return fmt.Errorf("push %s: %w", target, err)
}

// targetMoved says whether the remote's target branch is no longer at the
// commit the fetch saw. A target that is gone has not moved.
func (m *GitMerger) targetMoved(ctx context.Context, repo *gogit.Repository, target string) (bool, error) {
	fetched, err := repo.Reference(plumbing.NewRemoteReferenceName(gogit.DefaultRemoteName, target), true)
	if err != nil {
		return false, err
	}
	remote, err := repo.Remote(gogit.DefaultRemoteName)
	if err != nil {
		return false, err
	}
	refs, err := remote.ListContext(ctx, &gogit.ListOptions{Auth: m.auth})
	if err != nil {
		return false, err
	}
	name := plumbing.NewBranchReferenceName(target)
	for _, ref := range refs {
		if ref.Name() == name {
			return ref.Hash() != fetched.Hash(), nil
		}
	}
	return false, nil
}

// wrap names the operation and keeps a password in the URL out of the
// message.
func (m *GitMerger) wrap(op string, err error) error {
	secret := ""
	if u, perr := url.Parse(m.url); perr == nil && u.User != nil {
		secret, _ = u.User.Password()
	}
	return wrapOp(op, err, secret)
}

func remoteCommit(repo *gogit.Repository, branch string) (*object.Commit, error) {
	ref, err := repo.Reference(plumbing.NewRemoteReferenceName(gogit.DefaultRemoteName, branch), true)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	return repo.CommitObject(ref.Hash())
}

func writeCommit(s storer.EncodedObjectStorer, tree, parent plumbing.Hash, message string, author object.Signature) (plumbing.Hash, error) {
	c := &object.Commit{
		Author:       author,
		Committer:    author,
		Message:      message,
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{parent},
	}
	obj := s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// blob is a file in a tree: its content and mode.
type blob struct {
	hash plumbing.Hash
	mode filemode.FileMode
}

// mergeTrees merges head into base file by file from their merge base and
// writes the merged tree.
func mergeTrees(s storer.EncodedObjectStorer, head, base *object.Commit) (plumbing.Hash, error) {
	bases, err := head.MergeBase(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if len(bases) == 0 {
		return plumbing.ZeroHash, errors.New("the branches share no history")
	}
	// With several merge bases (criss-cross merges) any one will do at
	// file level: a file that differs between them shows as changed.
	ancestor, err := flatten(bases[0])
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ours, err := flatten(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	theirs, err := flatten(head)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	merged, conflicts := mergeFiles(ancestor, ours, theirs)
	if len(conflicts) > 0 {
		return plumbing.ZeroHash, &ConflictError{Files: conflicts}
	}
	return writeTree(s, merged)
}

// mergeFiles applies the branch's changes (ancestor → theirs) to the
// target's files (ours) and returns the result and the files both sides
// changed differently, sorted. A missing file is a deleted one.
func mergeFiles(ancestor, ours, theirs map[string]blob) (map[string]blob, []string) {
	merged := make(map[string]blob, len(ours))
	for p, b := range ours {
		merged[p] = b
	}
	var conflicts []string
	for _, p := range changedPaths(ancestor, theirs) {
		a, inAncestor := ancestor[p]
		t, inTheirs := theirs[p]
		o, inOurs := ours[p]
		switch {
		case inOurs == inAncestor && o == a: // only the branch changed it
			if inTheirs {
				merged[p] = t
			} else {
				delete(merged, p)
			}
		case inOurs == inTheirs && o == t: // both changed it alike
		default:
			conflicts = append(conflicts, p)
		}
	}
	return merged, conflicts
}

// changedPaths lists, sorted, the files that differ between two trees.
func changedPaths(from, to map[string]blob) []string {
	var out []string
	for p, b := range to {
		if old, ok := from[p]; !ok || old != b {
			out = append(out, p)
		}
	}
	for p := range from {
		if _, ok := to[p]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// flatten lists every file of a commit by path, including symlinks and
// submodule entries, which a merge must carry along too.
func flatten(c *object.Commit) (map[string]blob, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	files := map[string]blob{}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if entry.Mode != filemode.Dir {
			files[name] = blob{hash: entry.Hash, mode: entry.Mode}
		}
	}
}

// dirNode is a directory of the tree writeTree builds.
type dirNode struct {
	files map[string]blob
	dirs  map[string]*dirNode
}

func newDirNode() *dirNode {
	return &dirNode{files: map[string]blob{}, dirs: map[string]*dirNode{}}
}

// writeTree writes the nested trees for a set of files and returns the root.
// A path that is a file on one side and a directory on the other is a
// conflict.
func writeTree(s storer.EncodedObjectStorer, files map[string]blob) (plumbing.Hash, error) {
	root := newDirNode()
	var conflicts []string
	for p, b := range files {
		if !root.insert(strings.Split(p, "/"), b) {
			conflicts = append(conflicts, p)
		}
	}
	if len(conflicts) > 0 {
		slices.Sort(conflicts)
		return plumbing.ZeroHash, &ConflictError{Files: conflicts}
	}
	return root.write(s)
}

func (d *dirNode) insert(parts []string, b blob) bool {
	name := parts[0]
	if len(parts) == 1 {
		if _, isDir := d.dirs[name]; isDir {
			return false
		}
		d.files[name] = b
		return true
	}
	if _, isFile := d.files[name]; isFile {
		return false
	}
	sub, ok := d.dirs[name]
	if !ok {
		sub = newDirNode()
		d.dirs[name] = sub
	}
	return sub.insert(parts[1:], b)
}

func (d *dirNode) write(s storer.EncodedObjectStorer) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	for name, b := range d.files {
		entries = append(entries, object.TreeEntry{Name: name, Mode: b.mode, Hash: b.hash})
	}
	for name, sub := range d.dirs {
		h, err := sub.write(s)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	// git orders entries by name, comparing a directory as if its name
	// ended in "/".
	sort.Slice(entries, func(i, j int) bool { return sortKey(entries[i]) < sortKey(entries[j]) })
	tree := &object.Tree{Entries: entries}
	obj := s.NewEncodedObject()
	if err := tree.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

func sortKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}
