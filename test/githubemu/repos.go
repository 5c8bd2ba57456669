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

// getBranchRef reads a branch's reference; a branch that does not exist is
// 404, as on GitHub.
func (s *Server) getBranchRef(c *call) response {
	branch := c.params["branch"]
	sha, ok, err := c.repo.git.branch(branch)
	if err != nil {
		return internalError(err)
	}
	if !ok {
		return notFound()
	}
	api := s.http.URL + urlPath("repos", c.repo.owner, c.repo.name, "git")
	return reply(http.StatusOK, gitRefJSON{
		Ref:    "refs/heads/" + branch,
		URL:    api + "/refs/heads/" + branch,
		Object: gitObjectJSON{Type: "commit", SHA: sha, URL: api + urlPath("commits", sha)},
	})
}

// branchRules lists the rules that apply to a branch: GitHub's merge queue
// rule when RequireMergeQueue is on (for every branch), else none. GitHub
// answers a list for any branch name, existing or not.
func (s *Server) branchRules(c *call) response {
	rules := []ruleJSON{}
	if s.mergeQueue {
		rules = append(rules, ruleJSON{
			Type: "merge_queue",
			Parameters: map[string]any{
				"check_response_timeout_minutes": 60, "grouping_strategy": "ALLGREEN", "max_entries_to_build": 5,
				"max_entries_to_merge": 5, "merge_method": "MERGE", "min_entries_to_merge": 1, "min_entries_to_merge_wait_minutes": 5,
			},
			RulesetSourceType: "Repository",
			RulesetSource:     c.repo.owner + "/" + c.repo.name,
			RulesetID:         1,
		})
	}
	return reply(http.StatusOK, rules)
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
