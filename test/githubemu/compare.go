package githubemu

import (
	"net/http"
	"strconv"
	"strings"
)

// compareJSON is the part of GitHub's comparison of two commits that
// clients read: where head stands against base.
type compareJSON struct {
	Status          string    `json:"status"`
	AheadBy         int       `json:"ahead_by"`
	BehindBy        int       `json:"behind_by"`
	TotalCommits    int       `json:"total_commits"`
	BaseCommit      commitRef `json:"base_commit"`
	MergeBaseCommit commitRef `json:"merge_base_commit"`
}

type commitRef struct {
	SHA string `json:"sha"`
}

// compare answers GET /repos/{owner}/{repo}/compare/{base}...{head}, with
// branch names or SHAs on either side, as GitHub does.
func (s *Server) compare(c *call) response {
	base, head, ok := strings.Cut(c.params["basehead"], "...")
	if !ok {
		return notFound()
	}
	baseSHA, found, err := c.repo.git.resolve(base)
	if err != nil {
		return internalError(err)
	}
	headSHA, found2, err := c.repo.git.resolve(head)
	if err != nil {
		return internalError(err)
	}
	if !found || !found2 {
		return notFound()
	}
	mergeBase, _, err := c.repo.git.git(nil, "merge-base", baseSHA, headSHA)
	if err != nil {
		return internalError(err)
	}
	ahead, err := c.repo.git.count(baseSHA + ".." + headSHA)
	if err != nil {
		return internalError(err)
	}
	behind, err := c.repo.git.count(headSHA + ".." + baseSHA)
	if err != nil {
		return internalError(err)
	}
	status := "diverged"
	switch {
	case ahead == 0 && behind == 0:
		status = "identical"
	case behind == 0:
		status = "ahead"
	case ahead == 0:
		status = "behind"
	}
	return reply(http.StatusOK, compareJSON{
		Status: status, AheadBy: ahead, BehindBy: behind, TotalCommits: ahead,
		BaseCommit: commitRef{SHA: baseSHA}, MergeBaseCommit: commitRef{SHA: strings.TrimSpace(mergeBase)},
	})
}

// count is the number of commits git rev-list lists for a range.
func (g gitRepo) count(revRange string) (int, error) {
	out, _, err := g.git(nil, "rev-list", "--count", revRange)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

// RequireUpToDate sets branch protection's "Require branches to be up to
// date before merging" (required_status_checks.strict) for a base branch:
// only then does GitHub report a pull request whose head lacks the base's
// latest commit as mergeable_state "behind", and refuse to merge it.
// Without it such a pull request is "clean" and merges as it is.
func (s *Server) RequireUpToDate(owner, repo, branch string, required bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.upToDate == nil {
		s.upToDate = map[string]bool{}
	}
	s.upToDate[owner+"/"+repo+":"+branch] = required
}

func (s *Server) requiresUpToDate(r *repoState, branch string) bool {
	return s.upToDate[r.owner+"/"+r.name+":"+branch]
}
