package githubemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fluxcd/gitkit"
	"github.com/fluxcd/pkg/gittestserver"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSH is the Env's repositories served over SSH as well, to the holder of
// one key, as a forge serves a deploy key.
type SSH struct {
	// CloneURL is the Env's repository over SSH, ssh://git@127.0.0.1:PORT/owner/repo.git.
	CloneURL string
	// KnownHosts is the server's host key as a known_hosts line.
	KnownHosts string
	srv        *gittestserver.GitServer
}

// StartSSH serves the Env's repositories over SSH on loopback to the client
// holding the key of authorizedKey (an authorized_keys line). The HTTP
// server stays anonymous: the SSH server is a second server over the same
// directory, as its authentication would otherwise apply to HTTP too. Close
// stops it.
func (e *Env) StartSSH(authorizedKey string) (*SSH, error) {
	if e.ssh != nil {
		return nil, errors.New("githubemu: SSH already started")
	}
	authorizedKey = strings.TrimSpace(authorizedKey)
	srv := gittestserver.NewGitServer(e.Git.Root())
	srv.Auth("git", "")
	keyDir, err := os.MkdirTemp("", "githubemu-ssh-")
	if err != nil {
		return nil, err
	}
	srv.KeyDir(keyDir)
	srv.PublicKeyLookupFunc(func(content string) (*gitkit.PublicKey, error) {
		if strings.TrimSpace(content) != authorizedKey {
			return nil, os.ErrPermission
		}
		return &gitkit.PublicKey{Id: "deploy-key"}, nil
	})
	if err := srv.ListenSSH(); err != nil {
		_ = os.RemoveAll(keyDir)
		return nil, fmt.Errorf("githubemu: listening for SSH: %w", err)
	}
	go func() { _ = srv.StartSSH() }()
	// gitkit writes its host key when it starts listening.
	b, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa.pub"))
	_ = os.RemoveAll(keyDir)
	if err != nil {
		_ = srv.StopSSH()
		return nil, fmt.Errorf("githubemu: reading the SSH host key: %w", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		_ = srv.StopSSH()
		return nil, fmt.Errorf("githubemu: the SSH host key: %w", err)
	}
	host := strings.TrimPrefix(srv.SSHAddress(), "ssh://git@")
	e.ssh = &SSH{
		CloneURL:   srv.SSHAddress() + "/" + e.Owner + "/" + e.Repo + ".git",
		KnownHosts: knownhosts.Line([]string{host}, pub) + "\n",
		srv:        srv,
	}
	return e.ssh, nil
}
