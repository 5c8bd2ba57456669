package githubemu

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
)

// GitMiddleware is a git server middleware (gittestserver's
// AddHTTPMiddlewares) that tells the emulator of each push over git, so
// that, as on GitHub, a push is delivered as a push event and a push to an
// open pull request's head as its synchronize.
func (s *Server) GitMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/")
		repoPath, ok := strings.CutSuffix(path, ".git/git-receive-pack")
		owner, repo, split := strings.Cut(repoPath, "/")
		if r.Method != http.MethodPost || !ok || !split {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		var in io.Reader = bytes.NewReader(body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			if in, err = gzip.NewReader(in); err != nil {
				return
			}
		}
		update := packp.NewReferenceUpdateRequest()
		if update.Decode(in) != nil {
			return
		}
		s.pushed(owner, repo, update.Commands)
	})
}

// pushed delivers the events of the branch updates a push made.
func (s *Server) pushed(owner, name string, commands []*packp.Command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRepo(owner, name)
	if err != nil {
		return
	}
	for _, c := range commands {
		branch, ok := strings.CutPrefix(c.Name.String(), "refs/heads/")
		if !ok {
			continue
		}
		sha, exists, err := r.git.branch(branch)
		deleted := c.New.IsZero()
		if err != nil || exists == deleted || (exists && sha != c.New.String()) {
			continue // refused, or moved again since
		}
		s.deliver(r, "push", map[string]any{"ref": c.Name.String(), "before": c.Old.String(), "after": c.New.String(), "deleted": deleted})
		for _, p := range r.sortedPulls() {
			if p.state != stateOpen || p.headRef != branch {
				continue
			}
			if s.refresh(r, p) != nil {
				continue
			}
			if p.state == stateOpen {
				s.deliverPull(r, p, "synchronize")
			} else {
				s.deliverPull(r, p, "closed") // its head branch was deleted
			}
		}
	}
}
