package githubemu

import (
	"errors"
	"net/http"
)

func (s *Server) getRepo(c *call) response {
	branch, err := c.repo.git.defaultBranch()
	if err != nil {
		return internalError(err)
	}
	r := c.repo
	out := repoJSON{
		ID:            r.id,
		Name:          r.name,
		FullName:      r.owner + "/" + r.name,
		Owner:         user(r.owner),
		HTMLURL:       s.http.URL + urlPath(r.owner, r.name),
		DefaultBranch: branch,
		URL:           s.http.URL + urlPath("repos", r.owner, r.name),
	}
	if s.opts.GitURL != "" {
		out.CloneURL = s.opts.GitURL + urlPath(r.owner, r.name+".git")
	}
	return reply(http.StatusOK, out)
}

// deleteBranch deletes a branch; like GitHub, that closes the open pull
// requests whose head it was.
func (s *Server) deleteBranch(c *call) response {
	branch := c.params["branch"]
	sha, ok, err := c.repo.git.branch(branch)
	if err != nil {
		return internalError(err)
	}
	if !ok {
		return apiError(http.StatusUnprocessableEntity, "Reference does not exist")
	}
	if err := c.repo.git.deleteBranch(branch, sha); errors.Is(err, errRefMoved) {
		return apiError(http.StatusConflict, "Reference update failed")
	} else if err != nil {
		return internalError(err)
	}
	for _, p := range c.repo.pulls {
		if err := s.refresh(c.repo, p); err != nil {
			return internalError(err)
		}
	}
	return response{status: http.StatusNoContent}
}

// getRateLimit reports the rate limit without counting against it.
func (s *Server) getRateLimit(*call) response {
	s.rate.roll(now())
	core := s.rate.snapshot()
	return reply(http.StatusOK, rateLimitJSON{
		Resources: map[string]rateJSON{"core": core},
		Rate:      core,
	})
}
