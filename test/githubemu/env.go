package githubemu

import (
	"net/http"
	"os"
	"sync/atomic"

	"github.com/fluxcd/pkg/gittestserver"
)

// Env is a git server (fluxcd/pkg/gittestserver, over HTTP) and an emulator
// over the same repositories, with one repository made ready.
type Env struct {
	// API is the emulator; API.URL() is the GitHub API base URL.
	API *Server
	// Git serves the repositories at Git.HTTPAddress()/<owner>/<repo>.git.
	Git *gittestserver.GitServer
	// Owner and Repo name the repository StartWithRepo created.
	Owner, Repo string
	// CloneURL is the repository's URL on the git server.
	CloneURL string
	// Token the emulator requires.
	Token string
	ssh   *SSH
}

// StartWithRepo starts a git server on a temporary directory and an
// emulator over it that requires token, and creates owner/repo with one
// commit of files on main. Close stops both and removes the directory.
func StartWithRepo(owner, repo, token string, files map[string]string) (*Env, error) {
	git, err := gittestserver.NewTempGitServer()
	if err != nil {
		return nil, err
	}
	// The emulator needs the git server's address, and the git server the
	// emulator to tell of pushes.
	var api atomic.Pointer[Server]
	git.AddHTTPMiddlewares(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.Load().GitMiddleware(next).ServeHTTP(w, r) })
	})
	if err := git.StartHTTP(); err != nil {
		os.RemoveAll(git.Root())
		return nil, err
	}
	api.Store(New(Options{RepoRoot: git.Root(), Token: token, GitURL: git.HTTPAddress()}))
	env := &Env{
		Git:      git,
		Owner:    owner,
		Repo:     repo,
		CloneURL: git.HTTPAddress() + "/" + owner + "/" + repo + ".git",
		Token:    token,
		API:      api.Load(),
	}
	if err := env.API.CreateRepo(owner, repo, files); err != nil {
		env.Close()
		return nil, err
	}
	return env, nil
}

// Close stops the servers and removes the repositories.
func (e *Env) Close() {
	e.API.Close()
	e.Git.StopHTTP()
	if e.ssh != nil {
		_ = e.ssh.srv.StopSSH()
	}
	_ = os.RemoveAll(e.Git.Root())
}

// CommitFiles commits files on a branch of the Env's repository; see
// Server.CommitFiles.
func (e *Env) CommitFiles(branch, message string, files map[string]string) (string, error) {
	return e.API.CommitFiles(e.Owner, e.Repo, branch, message, files)
}
