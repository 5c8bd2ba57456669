package gitops_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/boshu2/gastown-operator/internal/gitops"
	"github.com/boshu2/gastown-operator/internal/gitops/gitopstest"
)

var baseFiles = map[string]string{
	"README.md":      "# demo\n",
	"main.go":        "package main\n",
	"old.txt":        "to be removed\n",
	".gitignore":     "build/\n",
	"docs/intro.md":  "intro\n",
	"docs/unused.md": "unused\n",
}

func TestCloneCommitPushHTTP(t *testing.T) {
	ctx := context.Background()
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", baseFiles)
	auth, err := gitops.AuthFromSecret(srv.URL, map[string][]byte{"username": []byte("alice"), "password": []byte("pw-123")})
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "repo")
	repo, err := gitops.Clone(ctx, dir, gitops.CloneOptions{URL: srv.URL, Branch: "main", Auth: auth, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	base, _, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateBranch("polecat/gt-1"); err != nil {
		t.Fatal(err)
	}
	if _, branch, _ := repo.Head(); branch != "polecat/gt-1" {
		t.Fatalf("checked-out branch = %q, want polecat/gt-1", branch)
	}

	writeFile(t, dir, "main.go", "package main\n\nfunc main() {}\n")
	writeFile(t, dir, "health/health.go", "package health\n")
	writeFile(t, dir, "build/out.bin", "ignored\n")
	removeFile(t, dir, "old.txt")

	changes, err := repo.Changes()
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"health/health.go", "main.go", "old.txt"}
	if diff := cmp.Diff(wantFiles, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}

	author := gitops.Signature{Name: "Gas Town Polecat", Email: "polecat@gastown.local"}
	commit, err := repo.CommitAll("gt-1: add health", author)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantFiles, commit.Files); diff != "" {
		t.Errorf("committed files (-want +got):\n%s", diff)
	}
	if err := repo.Push(ctx, "polecat/gt-1"); err != nil {
		t.Fatal(err)
	}

	pushed := srv.Commit(t, "polecat/gt-1")
	if pushed.Hash.String() != commit.SHA {
		t.Errorf("pushed tip = %s, want %s", pushed.Hash, commit.SHA)
	}
	if pushed.Author.Name != author.Name || pushed.Author.Email != author.Email ||
		pushed.Committer.Email != author.Email {
		t.Errorf("author = %v, committer = %v", pushed.Author, pushed.Committer)
	}
	if len(pushed.ParentHashes) != 1 || pushed.ParentHashes[0].String() != base {
		t.Errorf("parents = %v, want [%s]", pushed.ParentHashes, base)
	}
	wantTree := map[string]string{
		"README.md":        "# demo\n",
		"main.go":          "package main\n\nfunc main() {}\n",
		".gitignore":       "build/\n",
		"docs/intro.md":    "intro\n",
		"docs/unused.md":   "unused\n",
		"health/health.go": "package health\n",
	}
	if diff := cmp.Diff(wantTree, srv.Tree(t, "polecat/gt-1")); diff != "" {
		t.Errorf("pushed tree (-want +got):\n%s", diff)
	}
	if got := srv.Branches(t)["main"]; got != base {
		t.Errorf("main moved to %s", got)
	}

	// Nothing left: a second commit has nothing to say.
	if _, err := repo.CommitAll("again", author); !errors.Is(err, gitops.ErrNoChanges) {
		t.Errorf("second commit: error = %v, want ErrNoChanges", err)
	}
}

func TestCommitAllNoChanges(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", baseFiles)
	dir := filepath.Join(t.TempDir(), "repo")
	repo := cloneHTTP(t, srv, dir, "main", 1)

	// Only an ignored file, an excluded one, and a rewrite with the same
	// content.
	if err := repo.Exclude(".aider*"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "build/out.bin", "ignored\n")
	writeFile(t, dir, ".aider.chat.history.md", "chat\n")
	writeFile(t, dir, "README.md", "# demo\n")

	changes, err := repo.Changes()
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Errorf("changes = %v, want none", changes)
	}
	if _, err := repo.CommitAll("nothing", gitops.Signature{Name: "a", Email: "a@b"}); !errors.Is(err, gitops.ErrNoChanges) {
		t.Fatalf("error = %v, want ErrNoChanges", err)
	}
}

func TestCloneErrors(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", baseFiles)
	tests := []struct {
		name    string
		url     string
		branch  string
		secret  map[string][]byte
		wantErr []string
	}{
		{
			name:    "wrong password",
			url:     srv.URL,
			branch:  "main",
			secret:  map[string][]byte{"username": []byte("alice"), "password": []byte("not-the-password")},
			wantErr: []string{"git clone branch main of " + srv.URL + ": ", "authentication"},
		},
		{
			name:    "missing branch",
			url:     srv.URL,
			branch:  "nope",
			secret:  map[string][]byte{"username": []byte("alice"), "password": []byte("pw-123")},
			wantErr: []string{"git clone branch nope of " + srv.URL + ": ", "nope"},
		},
		{
			name:    "password in the URL is not shown",
			url:     strings.Replace(srv.URL, "http://", "http://alice:pw-123@", 1),
			branch:  "nope",
			wantErr: []string{"git clone branch nope of " + srv.URL + ": "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := gitops.AuthFromSecret(tt.url, tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			_, err = gitops.Clone(context.Background(), t.TempDir(), gitops.CloneOptions{URL: tt.url, Branch: tt.branch, Auth: auth, Depth: 1})
			if err == nil {
				t.Fatal("clone succeeded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "pw-123") || strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("error shows a password: %s", err)
			}
		})
	}
}

// TestPushWithLease replaces a branch only while it is where we saw it.
func TestPushWithLease(t *testing.T) {
	ctx := context.Background()
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", baseFiles)
	old := srv.PushCommit(t, "main", "polecat/gt-1", map[string]string{"feature.txt": "first try\n"})

	dir := filepath.Join(t.TempDir(), "repo")
	repo := cloneHTTP(t, srv, dir, "main", 1)
	if err := repo.CreateBranch("polecat/gt-1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "feature.txt", "second try\n")
	if _, err := repo.CommitAll("gt-1: redo", gitops.Signature{Name: "p", Email: "p@x"}); err != nil {
		t.Fatal(err)
	}

	// A plain push cannot replace unrelated history.
	if err := repo.Push(ctx, "polecat/gt-1"); err == nil {
		t.Fatal("plain push replaced the branch")
	}
	// A lease on a SHA the branch is no longer at fails.
	if err := repo.PushWithLease(ctx, "polecat/gt-1", strings.Repeat("1", 40)); err == nil {
		t.Fatal("push with a stale lease replaced the branch")
	}
	if got := srv.Branches(t)["polecat/gt-1"]; got != old {
		t.Fatalf("branch moved to %s after rejected pushes", got)
	}
	// The right lease replaces it.
	if err := repo.PushWithLease(ctx, "polecat/gt-1", old); err != nil {
		t.Fatal(err)
	}
	if got := srv.Tree(t, "polecat/gt-1")["feature.txt"]; got != "second try\n" {
		t.Errorf("feature.txt = %q after the lease push", got)
	}

	// Someone pushes in between: our lease on what we saw must fail.
	seen := srv.Branches(t)["polecat/gt-1"]
	srv.PushCommit(t, "polecat/gt-1", "polecat/gt-1", map[string]string{"feature.txt": "someone else\n"})
	writeFile(t, dir, "feature.txt", "third try\n")
	if _, err := repo.CommitAll("gt-1: again", gitops.Signature{Name: "p", Email: "p@x"}); err != nil {
		t.Fatal(err)
	}
	if err := repo.PushWithLease(ctx, "polecat/gt-1", seen); err == nil {
		t.Fatal("push overwrote someone else's commit")
	}
	if got := srv.Tree(t, "polecat/gt-1")["feature.txt"]; got != "someone else\n" {
		t.Errorf("feature.txt = %q, want someone else's", got)
	}
}

func TestPushWithLeaseExpectingNoBranch(t *testing.T) {
	ctx := context.Background()
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", baseFiles)
	dir := filepath.Join(t.TempDir(), "repo")
	repo := cloneHTTP(t, srv, dir, "main", 1)
	if err := repo.CreateBranch("polecat/gt-2"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "new.txt", "new\n")
	commit, err := repo.CommitAll("gt-2", gitops.Signature{Name: "p", Email: "p@x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.PushWithLease(ctx, "polecat/gt-2", ""); err != nil {
		t.Fatal(err)
	}
	if got := srv.Branches(t)["polecat/gt-2"]; got != commit.SHA {
		t.Errorf("branch = %s, want %s", got, commit.SHA)
	}
}

func TestFetchBranchMergeBaseAndDiff(t *testing.T) {
	ctx := context.Background()
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", baseFiles)
	work := srv.PushCommit(t, "main", "polecat/gt-1", map[string]string{"main.go": "package main\n\n// work\n"})
	srv.PushCommit(t, "main", "main", map[string]string{"README.md": "# demo, moved on\n"})

	dir := filepath.Join(t.TempDir(), "repo")
	repo := cloneHTTP(t, srv, dir, "main", 0)
	if _, err := repo.FetchBranch(ctx, "missing", 0); !errors.Is(err, gitops.ErrBranchNotFound) {
		t.Errorf("fetch of a missing branch: error = %v, want ErrBranchNotFound", err)
	}
	sha, err := repo.FetchBranch(ctx, "polecat/gt-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sha != work {
		t.Errorf("fetched %s, want %s", sha, work)
	}
	if tracked, err := repo.TrackingSHA("polecat/gt-1"); err != nil || tracked != work {
		t.Errorf("tracking ref = %s, %v; want %s", tracked, err, work)
	}
	if _, err := repo.TrackingSHA("missing"); !errors.Is(err, gitops.ErrBranchNotFound) {
		t.Errorf("tracking ref of a missing branch: error = %v", err)
	}

	head, _, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	mergeBase, err := repo.MergeBase(head, work)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := repo.Diff(mergeBase, work)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"diff --git a/main.go b/main.go", "+// work"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff does not contain %q:\n%s", want, diff)
		}
	}
	if strings.Contains(diff, "README.md") {
		t.Errorf("diff shows the base branch's own change:\n%s", diff)
	}
}

func TestResetSoftKeepsChanges(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", baseFiles)
	dir := filepath.Join(t.TempDir(), "repo")
	repo := cloneHTTP(t, srv, dir, "main", 1)
	start, _, _ := repo.Head()
	writeFile(t, dir, "agent.txt", "committed by the agent\n")
	if _, err := repo.CommitAll("agent's own commit", gitops.Signature{Name: "a", Email: "a@x"}); err != nil {
		t.Fatal(err)
	}
	if err := repo.ResetSoft(start); err != nil {
		t.Fatal(err)
	}
	if head, _, _ := repo.Head(); head != start {
		t.Errorf("HEAD = %s, want %s", head, start)
	}
	changes, err := repo.Changes()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"agent.txt"}, changes); diff != "" {
		t.Errorf("changes after reset (-want +got):\n%s", diff)
	}
}

func TestSSH(t *testing.T) {
	ctx := context.Background()
	srv, keys := gitopstest.SSHServer(t, "main", baseFiles)
	secret := map[string][]byte{"ssh-privatekey": keys.PrivateKey, "known_hosts": keys.KnownHosts}

	t.Run("clone and push", func(t *testing.T) {
		auth, err := gitops.AuthFromSecret(srv.URL, secret)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "repo")
		repo, err := gitops.Clone(ctx, dir, gitops.CloneOptions{URL: srv.URL, Branch: "main", Auth: auth, Depth: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.CreateBranch("polecat/ssh"); err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "ssh.txt", "over ssh\n")
		if _, err := repo.CommitAll("ssh", gitops.Signature{Name: "p", Email: "p@x"}); err != nil {
			t.Fatal(err)
		}
		// A reopened clone pushes with the credentials it is given.
		reopened, err := gitops.Open(dir, auth)
		if err != nil {
			t.Fatal(err)
		}
		if err := reopened.Push(ctx, "polecat/ssh"); err != nil {
			t.Fatal(err)
		}
		if got := srv.Tree(t, "polecat/ssh")["ssh.txt"]; got != "over ssh\n" {
			t.Errorf("ssh.txt = %q", got)
		}
	})

	tests := []struct {
		name    string
		secret  map[string][]byte
		wantErr string
	}{
		{
			name:    "secret without known_hosts knows only github.com",
			secret:  map[string][]byte{"ssh-privatekey": keys.PrivateKey},
			wantErr: "add the host's key to known_hosts in the git secret",
		},
		{
			name: "another client key",
			secret: map[string][]byte{
				"ssh-privatekey": newClientKey(t),
				"known_hosts":    keys.KnownHosts,
			},
			wantErr: "unable to authenticate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := gitops.AuthFromSecret(srv.URL, tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			_, err = gitops.Clone(ctx, t.TempDir(), gitops.CloneOptions{URL: srv.URL, Branch: "main", Auth: auth, Depth: 1})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

func TestReadSecretDir(t *testing.T) {
	// The layout the kubelet writes for a secret volume.
	dir := t.TempDir()
	stamp := filepath.Join(dir, "..2026_01_01_00_00_00.000000000")
	if err := os.Mkdir(stamp, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, stamp, "ssh-privatekey", "KEY")
	writeFile(t, stamp, "known_hosts", "HOSTS")
	if err := os.Symlink(filepath.Base(stamp), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ssh-privatekey", "known_hosts"} {
		if err := os.Symlink(filepath.Join("..data", key), filepath.Join(dir, key)); err != nil {
			t.Fatal(err)
		}
	}

	got, err := gitops.ReadSecretDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"ssh-privatekey": []byte("KEY"), "known_hosts": []byte("HOSTS")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}

	missing, err := gitops.ReadSecretDir(filepath.Join(dir, "absent"))
	if err != nil || len(missing) != 0 {
		t.Errorf("missing dir: %v, %v", missing, err)
	}
}

func cloneHTTP(t *testing.T, srv *gitopstest.Server, dir, branch string, depth int) *gitops.Repo {
	t.Helper()
	auth, err := gitops.AuthFromSecret(srv.URL, map[string][]byte{"username": []byte("alice"), "password": []byte("pw-123")})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := gitops.Clone(context.Background(), dir, gitops.CloneOptions{URL: srv.URL, Branch: branch, Auth: auth, Depth: depth})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
		t.Fatal(err)
	}
}

func newClientKey(t *testing.T) []byte {
	t.Helper()
	key, _ := gitopstest.NewClientKey(t)
	return key
}
