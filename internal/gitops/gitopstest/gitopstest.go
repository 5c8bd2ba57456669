// Package gitopstest runs real git servers (fluxcd/pkg/gittestserver) on
// loopback for tests of git work: HTTP with basic auth and SSH with a
// generated client key and known_hosts.
package gitopstest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/gitkit"
	"github.com/fluxcd/pkg/gittestserver"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// RepoPath is where the servers keep the test repository.
const RepoPath = "org/repo.git"

// Server is a git server holding one repository, RepoPath.
type Server struct {
	srv *gittestserver.GitServer
	// URL of the repository.
	URL string
}

// HTTPServer serves a repository whose branch holds files, over HTTP with
// basic auth for username and password.
func HTTPServer(t *testing.T, username, password, branch string, files map[string]string) *Server {
	t.Helper()
	srv := newServer(t, branch, files)
	srv.Auth(username, password)
	if err := srv.StartHTTP(); err != nil {
		t.Fatalf("start git HTTP server: %v", err)
	}
	t.Cleanup(srv.StopHTTP)
	return &Server{srv: srv, URL: srv.HTTPAddress() + "/" + RepoPath}
}

// SSHKeys are a client key the SSH server accepts and the server's host key.
type SSHKeys struct {
	// PrivateKey is the client's key in OpenSSH PEM form, as in a git secret.
	PrivateKey []byte
	// KnownHosts is a known_hosts line for the server.
	KnownHosts []byte
}

// SSHServer serves a repository whose branch holds files over SSH,
// accepting only the returned client key. Only one SSH server may run at a
// time in a test binary: gittestserver keeps the key check in a global.
func SSHServer(t *testing.T, branch string, files map[string]string) (*Server, SSHKeys) {
	t.Helper()
	clientKey, authorized := NewClientKey(t)
	srv := newServer(t, branch, files)
	srv.Auth("git", "")
	keyDir := t.TempDir()
	srv.KeyDir(keyDir)
	srv.PublicKeyLookupFunc(func(content string) (*gitkit.PublicKey, error) {
		if strings.TrimSpace(content) != authorized {
			return nil, os.ErrPermission
		}
		return &gitkit.PublicKey{Id: "polecat"}, nil
	})
	if err := srv.ListenSSH(); err != nil {
		t.Fatalf("listen git SSH server: %v", err)
	}
	go func() { _ = srv.StartSSH() }()
	t.Cleanup(func() { _ = srv.StopSSH() })

	addr := strings.TrimPrefix(srv.SSHAddress(), "ssh://git@")
	return &Server{srv: srv, URL: srv.SSHAddress() + "/" + RepoPath},
		SSHKeys{PrivateKey: clientKey, KnownHosts: knownHostsLine(t, keyDir, addr)}
}

func newServer(t *testing.T, branch string, files map[string]string) *gittestserver.GitServer {
	t.Helper()
	srv := gittestserver.NewGitServer(t.TempDir())
	fixture := t.TempDir()
	for name, content := range files {
		path := filepath.Join(fixture, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.InitRepo(fixture, branch, RepoPath); err != nil {
		t.Fatalf("init the test repository: %v", err)
	}
	return srv
}

// NewClientKey generates an ed25519 SSH key: the private key in OpenSSH PEM
// form and the public key in authorized_keys form.
func NewClientKey(t *testing.T) (privatePEM []byte, authorized string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "polecat test key")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}

// knownHostsLine is a known_hosts line for the host key gitkit generated
// in keyDir (gitkit.rsa.pub) when the server started listening on addr.
func knownHostsLine(t *testing.T, keyDir, addr string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa.pub"))
	if err != nil {
		t.Fatalf("read the SSH server's host key: %v", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(knownhosts.Line([]string{addr}, pub) + "\n")
}

// Branches returns the branches of the server's repository and their SHAs.
func (s *Server) Branches(t *testing.T) map[string]string {
	t.Helper()
	repo := s.open(t)
	iter, err := repo.Branches()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		out[ref.Name().Short()] = ref.Hash().String()
		return nil
	})
	return out
}

// Commit returns the tip commit of a branch on the server.
func (s *Server) Commit(t *testing.T, branch string) *object.Commit {
	t.Helper()
	repo := s.open(t)
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		t.Fatalf("branch %s on the server: %v", branch, err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Tree returns every file of a branch on the server with its content.
func (s *Server) Tree(t *testing.T, branch string) map[string]string {
	t.Helper()
	tree, err := s.Commit(t, branch).Tree()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = tree.Files().ForEach(func(f *object.File) error {
		content, err := f.Contents()
		out[f.Name] = content
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *Server) open(t *testing.T) *git.Repository {
	t.Helper()
	repo, err := git.PlainOpen(filepath.Join(s.srv.Root(), RepoPath))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// PushCommit commits files (path to content; an empty content deletes the
// file) on top of branch from and pushes the result as branch to, directly
// into the server's repository. It returns the new commit's SHA.
func (s *Server) PushCommit(t *testing.T, from, to string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainClone(dir, false, &git.CloneOptions{
		URL:           filepath.Join(s.srv.Root(), RepoPath),
		ReferenceName: plumbing.NewBranchReferenceName(from),
		SingleBranch:  true,
	})
	if err != nil {
		t.Fatalf("clone %s from the server's disk: %v", from, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if from != to {
		if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(to), Create: true}); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Someone", Email: "someone@example.com", When: time.Now()}
	hash, err := wt.Commit("change on "+to, &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	spec := config.RefSpec("+refs/heads/" + to + ":refs/heads/" + to)
	if err := repo.Push(&git.PushOptions{RefSpecs: []config.RefSpec{spec}}); err != nil {
		t.Fatalf("push %s to the server's disk: %v", to, err)
	}
	return hash.String()
}
