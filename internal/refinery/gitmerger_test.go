package refinery

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	. "github.com/onsi/gomega"

	"github.com/boshu2/gastown-operator/test/githubemu"
)

var mergeAuthor = object.Signature{Name: "Gas Town Refinery", Email: "refinery@gastown.io", When: time.Unix(1700000000, 0)}

// cloneMain clones main from the git server, as anyone would see it.
func cloneMain(t *testing.T, env *githubemu.Env) (*gogit.Repository, *object.Commit) {
	t.Helper()
	repo, err := gogit.Clone(memory.NewStorage(), memfs.New(), &gogit.CloneOptions{
		URL:           env.CloneURL,
		ReferenceName: plumbing.NewBranchReferenceName(githubemu.DefaultBranch),
		SingleBranch:  true,
	})
	if err != nil {
		t.Fatalf("clone: %v", err)
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

func treeFiles(t *testing.T, c *object.Commit) map[string]string {
	t.Helper()
	iter, err := c.Files()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	if err := iter.ForEach(func(f *object.File) error {
		s, err := f.Contents()
		out[f.Name] = s
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGitMergerFastForward(t *testing.T) {
	for _, method := range []string{MergeCommit, MergeRebase} {
		t.Run(method, func(t *testing.T) {
			g := NewWithT(t)
			env := startEnv(t)
			push(t, env, branchA, map[string]string{"a.txt": "a\n"})
			head := push(t, env, branchA, map[string]string{"b.txt": "b\n"})

			sha, err := NewGitMerger(env.CloneURL, nil).Merge(context.Background(), branchA, githubemu.DefaultBranch, method, "unused", mergeAuthor)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(sha).To(Equal(head), "main fast-forwards to the branch")
			_, tip := cloneMain(t, env)
			g.Expect(tip.Hash.String()).To(Equal(head))
		})
	}
}

func TestGitMergerSquashWhenContained(t *testing.T) {
	g := NewWithT(t)
	env := startEnv(t)
	oldMain, err := env.API.BranchSHA(owner, repo, githubemu.DefaultBranch)
	g.Expect(err).NotTo(HaveOccurred())
	push(t, env, branchA, map[string]string{"a.txt": "a\n"})
	push(t, env, branchA, map[string]string{"b.txt": "b\n"})

	sha, err := NewGitMerger(env.CloneURL, nil).Merge(context.Background(), branchA, githubemu.DefaultBranch, MergeSquash, "gt-a: feature", mergeAuthor)
	g.Expect(err).NotTo(HaveOccurred())

	_, tip := cloneMain(t, env)
	g.Expect(tip.Hash.String()).To(Equal(sha))
	g.Expect(tip.ParentHashes).To(HaveLen(1))
	g.Expect(tip.ParentHashes[0].String()).To(Equal(oldMain))
	g.Expect(tip.Message).To(Equal("gt-a: feature"))
	g.Expect(tip.Author.Email).To(Equal(mergeAuthor.Email))
	g.Expect(treeFiles(t, tip)).To(Equal(map[string]string{
		"README.md": "hello\n", "shared.txt": "base\n", "a.txt": "a\n", "b.txt": "b\n",
	}))
}

func TestGitMergerSquashAfterBaseMoved(t *testing.T) {
	g := NewWithT(t)
	env := startEnv(t)
	// feature.txt sorts before the directory feature/ in a git tree, which
	// fsck below checks.
	push(t, env, branchA, map[string]string{"feature/a.go": "package feature\n", "feature.txt": "f\n", "same.txt": "both\n"})
	moved := push(t, env, githubemu.DefaultBranch, map[string]string{"other.txt": "other\n", "same.txt": "both\n"})

	sha, err := NewGitMerger(env.CloneURL, nil).Merge(context.Background(), branchA, githubemu.DefaultBranch, MergeRebase, "gt-a: feature", mergeAuthor)
	g.Expect(err).NotTo(HaveOccurred())

	_, tip := cloneMain(t, env)
	g.Expect(tip.Hash.String()).To(Equal(sha))
	g.Expect(tip.ParentHashes).To(HaveLen(1), "one squash commit on the moved target")
	g.Expect(tip.ParentHashes[0].String()).To(Equal(moved))
	g.Expect(treeFiles(t, tip)).To(Equal(map[string]string{
		"README.md": "hello\n", "shared.txt": "base\n", "other.txt": "other\n",
		"same.txt": "both\n", "feature/a.go": "package feature\n", "feature.txt": "f\n",
	}))
	// git itself accepts the trees the merger wrote.
	fsck := exec.Command("git", "--git-dir", filepath.Join(env.Git.Root(), owner, repo+".git"), "fsck", "--strict", "--no-dangling")
	out, err := fsck.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))

	// Merging again changes nothing: the branch's changes are in.
	again, err := NewGitMerger(env.CloneURL, nil).Merge(context.Background(), branchA, githubemu.DefaultBranch, MergeSquash, "again", mergeAuthor)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again).To(Equal(sha))
}

func TestGitMergerConflict(t *testing.T) {
	g := NewWithT(t)
	env := startEnv(t)
	push(t, env, branchA, map[string]string{"shared.txt": "branch\n", "README.md": "hello\n"})
	moved := push(t, env, githubemu.DefaultBranch, map[string]string{"shared.txt": "main\n"})

	_, err := NewGitMerger(env.CloneURL, nil).Merge(context.Background(), branchA, githubemu.DefaultBranch, MergeSquash, "x", mergeAuthor)
	g.Expect(err).To(MatchError(ErrConflict))
	var conflict *ConflictError
	g.Expect(errors.As(err, &conflict)).To(BeTrue())
	g.Expect(conflict.Files).To(Equal([]string{"shared.txt"}))

	now, err := env.API.BranchSHA(owner, repo, githubemu.DefaultBranch)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(now).To(Equal(moved), "a conflict pushes nothing")
}

func TestGitMergerTargetMovedDuringMerge(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	push(t, env, branchA, map[string]string{"a.txt": "a\n"})
	m := NewGitMerger(env.CloneURL, nil)

	local, err := m.fetch(ctx, branchA, githubemu.DefaultBranch)
	g.Expect(err).NotTo(HaveOccurred())
	head, err := remoteCommit(local, branchA)
	g.Expect(err).NotTo(HaveOccurred())
	base, err := remoteCommit(local, githubemu.DefaultBranch)
	g.Expect(err).NotTo(HaveOccurred())
	result, err := m.result(local, head, base, MergeSquash, "x", mergeAuthor)
	g.Expect(err).NotTo(HaveOccurred())

	moved := push(t, env, githubemu.DefaultBranch, map[string]string{"late.txt": "late\n"})
	g.Expect(m.push(ctx, local, result, githubemu.DefaultBranch)).To(MatchError(ErrTargetMoved))
	now, err := env.API.BranchSHA(owner, repo, githubemu.DefaultBranch)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(now).To(Equal(moved), "the late commit is not overwritten")
}

func TestGitMergerErrors(t *testing.T) {
	env := startEnv(t)
	m := NewGitMerger(env.CloneURL, nil)
	tests := []struct {
		name   string
		branch string
		method string
	}{
		{name: "missing branch", branch: "polecat/missing", method: MergeSquash},
		{name: "unknown method", branch: githubemu.DefaultBranch, method: "octopus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := m.Merge(context.Background(), tt.branch, githubemu.DefaultBranch, tt.method, "x", mergeAuthor)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).To(ContainSubstring(tt.branch))
		})
	}
}

func TestGitMergerDeleteBranch(t *testing.T) {
	g := NewWithT(t)
	env := startEnv(t)
	push(t, env, branchA, map[string]string{"a.txt": "a\n"})
	m := NewGitMerger(env.CloneURL, nil)

	g.Expect(m.DeleteBranch(context.Background(), branchA)).To(Succeed())
	_, err := env.API.BranchSHA(owner, repo, branchA)
	g.Expect(err).To(MatchError(githubemu.ErrNotFound))
	g.Expect(m.DeleteBranch(context.Background(), branchA)).To(Succeed(), "a deleted branch is no error")
}

func TestMergeFiles(t *testing.T) {
	h := func(s string) blob {
		return blob{hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(s)), mode: filemode.Regular}
	}
	exe := func(s string) blob { b := h(s); b.mode = filemode.Executable; return b }
	ancestor := map[string]blob{"keep": h("k"), "edit": h("e"), "gone": h("g"), "both": h("b"), "mode": h("m")}

	tests := []struct {
		name      string
		ours      map[string]blob
		theirs    map[string]blob
		want      map[string]blob
		conflicts []string
	}{
		{
			name:   "branch-only changes are taken",
			ours:   ancestor,
			theirs: map[string]blob{"keep": h("k"), "edit": h("E"), "both": h("b"), "mode": exe("m"), "new": h("n")},
			want:   map[string]blob{"keep": h("k"), "edit": h("E"), "both": h("b"), "mode": exe("m"), "new": h("n")},
		},
		{
			name:   "target-only changes stay",
			ours:   map[string]blob{"keep": h("K"), "edit": h("e"), "both": h("b"), "mode": h("m"), "gone": h("g"), "t": h("t")},
			theirs: ancestor,
			want:   map[string]blob{"keep": h("K"), "edit": h("e"), "both": h("b"), "mode": h("m"), "gone": h("g"), "t": h("t")},
		},
		{
			name:   "identical changes are fine",
			ours:   map[string]blob{"keep": h("k"), "edit": h("e"), "both": h("B")},
			theirs: map[string]blob{"keep": h("k"), "edit": h("e"), "both": h("B")},
			want:   map[string]blob{"keep": h("k"), "edit": h("e"), "both": h("B")},
		},
		{
			name:      "different changes conflict",
			ours:      map[string]blob{"keep": h("k"), "edit": h("e1"), "gone": h("g"), "both": h("b"), "mode": h("m")},
			theirs:    map[string]blob{"keep": h("k"), "edit": h("e2"), "both": h("b"), "mode": h("m")},
			want:      map[string]blob{"keep": h("k"), "edit": h("e1"), "both": h("b"), "mode": h("m")},
			conflicts: []string{"edit"},
		},
		{
			name:      "edit against delete conflicts",
			ours:      map[string]blob{"keep": h("k"), "edit": h("e"), "both": h("b"), "mode": h("m")},
			theirs:    map[string]blob{"keep": h("k"), "edit": h("e"), "gone": h("G"), "both": h("b"), "mode": h("m")},
			want:      map[string]blob{"keep": h("k"), "edit": h("e"), "both": h("b"), "mode": h("m")},
			conflicts: []string{"gone"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, conflicts := mergeFiles(ancestor, tt.ours, tt.theirs)
			g.Expect(conflicts).To(Equal(tt.conflicts))
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestWriteTreeFileDirectoryClash(t *testing.T) {
	g := NewWithT(t)
	b := blob{hash: plumbing.ComputeHash(plumbing.BlobObject, []byte("x")), mode: filemode.Regular}
	_, err := writeTree(memory.NewStorage(), map[string]blob{"a": b, "a/b": b})
	g.Expect(err).To(MatchError(ErrConflict))
}
