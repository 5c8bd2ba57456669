package githubemu

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitHub's messages for the merge endpoints, which clients match on.
const (
	msgMerged             = "Pull Request successfully merged"
	msgNotMergeable       = "Pull Request is not mergeable"
	msgDraft              = "Pull Request is still a draft"
	msgMergeQueue         = "Changes must be made through the merge queue"
	msgNotUpToDate        = "Head branch is out of date. Review and try the merge again."
	msgHeadModified       = "Head branch was modified. Review and try the merge again."
	msgBaseModified       = "Base branch was modified. Review and try the merge again."
	msgNotRebaseable      = "This branch can't be rebased"
	msgUpdatingBranch     = "Updating pull request branch."
	msgExpectedHead       = "expected head sha didn't match current head ref."
	msgNoNewBaseCommits   = "There are no new commits on the base branch."
	msgUpdateConflict     = "merge conflict between base and head"
	msgReviewerIsAuthor   = "Review cannot be requested from pull request author."
	msgPullRequestClosed  = "Pull request is closed."
	msgMergedStateChanged = "Cannot change the state of a merged pull request."
)

func (s *Server) listPulls(c *call) response {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = stateOpen
	}
	if state != stateOpen && state != stateClosed && state != "all" {
		return validationFailed(errorDetailJSON{Resource: "PullRequest", Field: "state", Code: "invalid"})
	}
	head := q.Get("head")
	if head != "" {
		head = headBranch(head, c.repo.owner)
	}
	base := q.Get("base")

	var out []pullJSON
	for _, p := range c.repo.sortedPulls() {
		if err := s.refresh(c.repo, p); err != nil {
			return internalError(err)
		}
		if (state != "all" && p.state != state) ||
			(head != "" && p.headRef != head) ||
			(base != "" && p.baseRef != base) {
			continue
		}
		out = append(out, s.renderPull(c.repo, p, false))
	}
	if q.Get("direction") == "asc" {
		slices.Reverse(out)
	}
	return listReply(c, out)
}

func (s *Server) createPull(c *call) response {
	var req createPullRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	head := headBranch(req.Head, c.repo.owner)
	var missing []errorDetailJSON
	for _, f := range []struct{ name, value string }{{"title", req.Title}, {"head", head}, {"base", req.Base}} {
		if f.value == "" {
			missing = append(missing, errorDetailJSON{Resource: "PullRequest", Field: f.name, Code: "missing_field"})
		}
	}
	if len(missing) > 0 {
		return validationFailed(missing...)
	}

	g := c.repo.git
	headSHA, headOK, err := g.branch(head)
	if err != nil {
		return internalError(err)
	}
	baseSHA, baseOK, err := g.branch(req.Base)
	if err != nil {
		return internalError(err)
	}
	switch {
	case !headOK:
		return validationFailed(errorDetailJSON{Resource: "PullRequest", Field: "head", Code: "invalid"})
	case !baseOK:
		return validationFailed(errorDetailJSON{Resource: "PullRequest", Field: "base", Code: "invalid"})
	case c.repo.openPullForHead(head) != nil:
		return customValidation("PullRequest", "A pull request already exists for %s:%s.", c.repo.owner, head)
	}
	if merged, err := g.isAncestor(headSHA, baseSHA); err != nil {
		return internalError(err)
	} else if merged {
		return customValidation("PullRequest", "No commits between %s and %s", req.Base, head)
	}

	t := now()
	c.repo.lastNumber++
	p := &pull{
		id:        s.nextID(),
		number:    c.repo.lastNumber,
		title:     req.Title,
		body:      req.Body,
		state:     stateOpen,
		draft:     req.Draft,
		user:      s.opts.Login,
		headRef:   head,
		baseRef:   req.Base,
		headSHA:   headSHA,
		baseSHA:   baseSHA,
		createdAt: t,
		updatedAt: t,
	}
	c.repo.pulls[p.number] = p
	s.deliverPull(c.repo, p, "opened")
	return reply(http.StatusCreated, s.renderPull(c.repo, p, true))
}

func (s *Server) getPull(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	return reply(http.StatusOK, s.renderPull(c.repo, p, true))
}

func (s *Server) updatePull(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	var req updatePullRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	if req.State != nil && *req.State != p.state {
		if resp, ok := s.changeState(c.repo, p, *req.State); !ok {
			return resp
		}
	}
	if req.Title != nil {
		p.title = *req.Title
	}
	if req.Body != nil {
		p.body = *req.Body
	}
	p.updatedAt = now()
	return reply(http.StatusOK, s.renderPull(c.repo, p, true))
}

// changeState closes or reopens a pull request. Reopening needs the head
// branch and no other open pull request for it.
func (s *Server) changeState(r *repoState, p *pull, state string) (response, bool) {
	switch {
	case p.merged:
		return apiError(http.StatusUnprocessableEntity, msgMergedStateChanged), false
	case state == stateClosed:
		p.close(now())
		s.deliverPull(r, p, "closed")
		return response{}, true
	case state != stateOpen:
		return validationFailed(errorDetailJSON{Resource: "PullRequest", Field: "state", Code: "invalid"}), false
	}
	sha, ok, err := r.git.branch(p.headRef)
	if err != nil {
		return internalError(err), false
	}
	if !ok || r.openPullForHead(p.headRef) != nil {
		return customValidation("PullRequest", "state cannot be changed. The %s branch has been deleted or has another open pull request.", p.headRef), false
	}
	p.state, p.headSHA, p.closedAt = stateOpen, sha, time.Time{}
	s.deliverPull(r, p, "reopened")
	return response{}, true
}

func (s *Server) mergePull(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	var req mergeRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	method := req.MergeMethod
	if method == "" {
		method = "merge"
	}
	switch {
	case p.state != stateOpen:
		return apiError(http.StatusMethodNotAllowed, msgNotMergeable)
	case s.mergeQueue:
		return apiError(http.StatusMethodNotAllowed, msgMergeQueue)
	case req.SHA != "" && req.SHA != p.headSHA:
		return apiError(http.StatusConflict, msgHeadModified)
	case method != "merge" && method != "squash" && method != "rebase":
		return validationFailed(errorDetailJSON{Resource: "PullRequest", Field: "merge_method", Code: "invalid"})
	case p.draft:
		return apiError(http.StatusMethodNotAllowed, msgDraft)
	}

	tree, conflicts, err := c.repo.git.mergeTree(p.baseSHA, p.headSHA)
	if err != nil {
		return internalError(err)
	}
	if len(conflicts) > 0 {
		return apiError(http.StatusMethodNotAllowed, msgNotMergeable)
	}
	upToDate, err := c.repo.git.isAncestor(p.baseSHA, p.headSHA)
	if err != nil {
		return internalError(err)
	}
	if !upToDate && s.requiresUpToDate(c.repo, p.baseRef) {
		return apiError(http.StatusMethodNotAllowed, msgNotUpToDate)
	}
	sha, err := s.land(c.repo, p, method, tree, req)
	switch {
	case errors.Is(err, errRefMoved):
		return apiError(http.StatusConflict, msgBaseModified)
	case errors.Is(err, errMergeConflict):
		return apiError(http.StatusMethodNotAllowed, msgNotRebaseable)
	case err != nil:
		return internalError(err)
	}

	t := now()
	p.merged, p.mergeCommitSHA, p.mergedBy, p.mergedAt = true, sha, s.opts.Login, t
	p.mergedBehind = !upToDate
	p.close(t)
	s.deliverPull(c.repo, p, "closed")
	s.deliver(c.repo, "push", map[string]any{"ref": "refs/heads/" + p.baseRef, "after": sha})
	return reply(http.StatusOK, mergeResultJSON{SHA: sha, Merged: true, Message: msgMerged})
}

// land writes the result of a merge on the base branch: one commit with the
// merged tree for squash, a two-parent commit for merge, the head's commits
// replayed for rebase.
func (s *Server) land(r *repoState, p *pull, method, tree string, req mergeRequest) (string, error) {
	t := now()
	author := signature{name: s.opts.Login, email: s.opts.Login + "@users.noreply.github.com", when: t}
	committer := signature{name: "GitHub", email: "noreply@github.com", when: t}

	var sha string
	var err error
	switch method {
	case "squash":
		msg := commitMessage(req, fmt.Sprintf("%s (#%d)", p.title, p.number), p.body)
		sha, err = r.git.commitTree(tree, []string{p.baseSHA}, msg, author, committer)
	case "merge":
		title := fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, r.owner, p.headRef)
		sha, err = r.git.commitTree(tree, []string{p.baseSHA, p.headSHA}, commitMessage(req, title, p.title), author, committer)
	case "rebase":
		sha, err = r.git.rebase(p.baseSHA, p.headSHA, committer)
	}
	if err != nil {
		return "", err
	}
	return sha, r.git.updateRef(p.baseRef, sha, p.baseSHA)
}

// commitMessage is the title and message the merge request asked for, or
// GitHub's defaults.
func commitMessage(req mergeRequest, title, message string) string {
	if req.CommitTitle != "" {
		title = req.CommitTitle
	}
	if req.CommitMessage != nil {
		message = *req.CommitMessage
	}
	if message == "" {
		return title
	}
	return title + "\n\n" + message
}

// updateBranch merges the base branch into the head branch with a merge
// commit, as GitHub's "Update branch" button does.
func (s *Server) updateBranch(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	var req updateBranchRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	g := c.repo.git
	switch {
	case p.state != stateOpen:
		return apiError(http.StatusUnprocessableEntity, msgPullRequestClosed)
	case req.ExpectedHeadSHA != "" && req.ExpectedHeadSHA != p.headSHA:
		return apiError(http.StatusUnprocessableEntity, msgExpectedHead)
	}
	if upToDate, err := g.isAncestor(p.baseSHA, p.headSHA); err != nil {
		return internalError(err)
	} else if upToDate {
		return apiError(http.StatusUnprocessableEntity, msgNoNewBaseCommits)
	}
	tree, conflicts, err := g.mergeTree(p.headSHA, p.baseSHA)
	if err != nil {
		return internalError(err)
	}
	if len(conflicts) > 0 {
		return apiError(http.StatusUnprocessableEntity, msgUpdateConflict)
	}

	t := now()
	author := signature{name: s.opts.Login, email: s.opts.Login + "@users.noreply.github.com", when: t}
	committer := signature{name: "GitHub", email: "noreply@github.com", when: t}
	msg := fmt.Sprintf("Merge branch '%s' into %s", p.baseRef, p.headRef)
	sha, err := g.commitTree(tree, []string{p.headSHA, p.baseSHA}, msg, author, committer)
	if err != nil {
		return internalError(err)
	}
	if err := g.updateRef(p.headRef, sha, p.headSHA); errors.Is(err, errRefMoved) {
		return apiError(http.StatusUnprocessableEntity, msgExpectedHead)
	} else if err != nil {
		return internalError(err)
	}
	p.headSHA, p.updatedAt = sha, t
	s.deliverPull(c.repo, p, "synchronize")
	return reply(http.StatusAccepted, messageJSON{Message: msgUpdatingBranch, URL: s.htmlURL(c.repo, p)})
}

func (s *Server) requestReviewers(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	var req reviewersRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	if slices.Contains(req.Reviewers, p.user) {
		return apiError(http.StatusUnprocessableEntity, msgReviewerIsAuthor)
	}
	for _, r := range req.Reviewers {
		if !slices.Contains(p.requestedReviewers, r) {
			p.requestedReviewers = append(p.requestedReviewers, r)
			s.deliver(c.repo, "pull_request", map[string]any{"action": "review_requested", "number": p.number,
				"pull_request": pullPayload(p), "requested_reviewer": map[string]any{"login": r}})
		}
	}
	p.updatedAt = now()
	return reply(http.StatusCreated, s.renderPull(c.repo, p, false))
}

// pullFor finds the request's pull request and brings it up to date with
// its branches.
func (s *Server) pullFor(c *call) (*pull, response, bool) {
	n, ok := c.number()
	if !ok {
		return nil, notFound(), false
	}
	p, ok := c.repo.pulls[n]
	if !ok {
		return nil, notFound(), false
	}
	if err := s.refresh(c.repo, p); err != nil {
		return nil, internalError(err), false
	}
	return p, response{}, true
}

// refresh reads an open pull request's branches: a push moves its head, and
// like GitHub the emulator closes a pull request whose head branch was
// deleted. Closed pull requests keep the SHAs they had.
func (s *Server) refresh(r *repoState, p *pull) error {
	if p.state != stateOpen {
		return nil
	}
	head, ok, err := r.git.branch(p.headRef)
	if err != nil {
		return err
	}
	if !ok {
		p.close(now())
		return nil
	}
	if head != p.headSHA {
		p.headSHA, p.updatedAt = head, now()
	}
	base, ok, err := r.git.branch(p.baseRef)
	if err != nil {
		return err
	}
	if ok {
		p.baseSHA = base
	}
	return nil
}

// mergeability is what GitHub computes in the background, computed here on
// each read from a real merge of base and head: mergeable is false when they
// conflict, and mergeable_state says why a merge would not be clean.
func (s *Server) mergeability(r *repoState, p *pull) (*bool, string) {
	if p.state != stateOpen {
		return nil, "unknown"
	}
	_, conflicts, err := r.git.mergeTree(p.baseSHA, p.headSHA)
	if err != nil {
		s.logf("githubemu: mergeability of %s/%s#%d: %v", r.owner, r.name, p.number, err)
		return nil, "unknown"
	}
	mergeable := len(conflicts) == 0
	// GitHub says "behind" only where branch protection requires pull
	// requests to be up to date; elsewhere a pull request missing the
	// base's latest commits is "clean".
	switch upToDate, err := r.git.isAncestor(p.baseSHA, p.headSHA); {
	case !mergeable:
		return &mergeable, "dirty"
	case p.draft:
		return &mergeable, "draft"
	case err == nil && !upToDate && s.requiresUpToDate(r, p.baseRef):
		return &mergeable, "behind"
	default:
		return &mergeable, "clean"
	}
}

// renderPull is a pull request as GitHub sends it; only single pull requests
// carry mergeability, as on GitHub, where lists leave it out.
func (s *Server) renderPull(r *repoState, p *pull, detail bool) pullJSON {
	apiURL := s.http.URL + urlPath("repos", r.owner, r.name, "pulls", strconv.Itoa(p.number))
	j := pullJSON{
		ID:                 p.id,
		Number:             p.number,
		State:              p.state,
		Title:              p.title,
		Body:               p.body,
		User:               user(p.user),
		Draft:              p.draft,
		Merged:             p.merged,
		CreatedAt:          p.createdAt,
		UpdatedAt:          p.updatedAt,
		Head:               s.renderBranch(r, p.headRef, p.headSHA),
		Base:               s.renderBranch(r, p.baseRef, p.baseSHA),
		Labels:             renderLabels(p.labels),
		RequestedReviewers: []userJSON{},
		URL:                apiURL,
		HTMLURL:            s.htmlURL(r, p),
		IssueURL:           s.http.URL + urlPath("repos", r.owner, r.name, "issues", strconv.Itoa(p.number)),
	}
	for _, login := range p.requestedReviewers {
		j.RequestedReviewers = append(j.RequestedReviewers, user(login))
	}
	if p.state == stateClosed {
		closed := p.closedAt
		j.ClosedAt = &closed
	}
	if p.merged {
		mergedAt, by, sha := p.mergedAt, user(p.mergedBy), p.mergeCommitSHA
		j.MergedAt, j.MergedBy, j.MergeCommitSHA = &mergedAt, &by, &sha
	}
	if detail {
		j.Mergeable, j.MergeableState = s.mergeability(r, p)
	}
	return j
}

func (s *Server) renderBranch(r *repoState, ref, sha string) branchJSON {
	return branchJSON{Label: r.owner + ":" + ref, Ref: ref, SHA: sha, User: user(r.owner)}
}

func (s *Server) htmlURL(r *repoState, p *pull) string {
	return s.http.URL + urlPath(r.owner, r.name, "pull", strconv.Itoa(p.number))
}

func renderLabels(names []string) []labelJSON {
	out := make([]labelJSON, 0, len(names))
	for _, n := range names {
		out = append(out, labelJSON{ID: user(n).ID, Name: n, Color: "ededed"})
	}
	return out
}

// headBranch strips the "owner:" that GitHub puts before a head branch.
// Pull requests from forks are not emulated: a head from another owner names
// no branch here.
func headBranch(head, owner string) string {
	if o, branch, ok := strings.Cut(head, ":"); ok {
		if o != owner {
			return head
		}
		return branch
	}
	return head
}
