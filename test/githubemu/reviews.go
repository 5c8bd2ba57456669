package githubemu

import (
	"net/http"
	"strconv"
	"strings"
)

// Review states, as GitHub reports them.
const (
	ReviewApproved         = "APPROVED"
	ReviewChangesRequested = "CHANGES_REQUESTED"
	ReviewCommented        = "COMMENTED"
	reviewPending          = "PENDING"
)

// reviewStates maps the event of a review request to the review's state; no
// event leaves the review pending.
var reviewStates = map[string]string{
	"APPROVE":         ReviewApproved,
	"REQUEST_CHANGES": ReviewChangesRequested,
	"COMMENT":         ReviewCommented,
	"":                reviewPending,
}

// LineComment is a review comment on one line of a file.
type LineComment struct {
	Path string
	Line int
	Body string
}

func (s *Server) listReviews(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	out := make([]reviewJSON, 0, len(p.reviews))
	for _, r := range p.reviews {
		out = append(out, s.renderReview(c.repo, p, r))
	}
	return listReply(c, out)
}

func (s *Server) createReview(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	var req createReviewRequest
	if resp, ok := decode(c, &req); !ok {
		return resp
	}
	state, ok := reviewStates[req.Event]
	if !ok {
		return validationFailed(errorDetailJSON{Resource: "PullRequestReview", Field: "event", Code: "invalid"})
	}
	comments := make([]LineComment, 0, len(req.Comments))
	for _, rc := range req.Comments {
		comments = append(comments, LineComment{Path: rc.Path, Line: rc.Line, Body: rc.Body})
	}
	if resp, ok := s.checkReview(p, s.opts.Login, state, req.Body, comments); !ok {
		return resp
	}
	r := s.addReview(c.repo, p, s.opts.Login, state, req.Body, req.CommitID, comments)
	return reply(http.StatusOK, s.renderReview(c.repo, p, r))
}

// checkReview applies GitHub's rules: nobody approves or rejects their own
// pull request, and a review that requests changes or comments says
// something.
func (s *Server) checkReview(p *pull, login, state, body string, comments []LineComment) (response, bool) {
	switch {
	case p.state != stateOpen:
		return apiError(http.StatusUnprocessableEntity, "Can not review a closed pull request"), false
	case login == p.user && state == ReviewApproved:
		return apiError(http.StatusUnprocessableEntity, "Can not approve your own pull request"), false
	case login == p.user && state == ReviewChangesRequested:
		return apiError(http.StatusUnprocessableEntity, "Can not request changes on your own pull request"), false
	case (state == ReviewChangesRequested || state == ReviewCommented) && body == "" && len(comments) == 0:
		return apiError(http.StatusUnprocessableEntity, "Review body is required when the event is REQUEST_CHANGES or COMMENT"), false
	}
	return response{}, true
}

func (s *Server) addReview(repo *repoState, p *pull, login, state, body, commitID string, comments []LineComment) *review {
	if commitID == "" {
		commitID = p.headSHA
	}
	t := now()
	r := &review{id: s.nextID(), user: login, state: state, body: body, commitID: commitID, submittedAt: t}
	p.reviews = append(p.reviews, r)
	for _, lc := range comments {
		p.reviewComments = append(p.reviewComments, &reviewComment{
			id: s.nextID(), reviewID: r.id, user: login, path: lc.Path, line: lc.Line,
			body: lc.Body, commitID: commitID, createdAt: t,
		})
	}
	p.updatedAt = t
	s.deliver(repo, "pull_request_review", map[string]any{"action": "submitted",
		"review":       map[string]any{"id": r.id, "state": strings.ToLower(state), "user": map[string]any{"login": login}, "commit_id": commitID},
		"pull_request": pullPayload(p)})
	return r
}

func (s *Server) listReviewComments(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	id, err := strconv.ParseInt(c.params["id"], 10, 64)
	if err != nil || !hasReview(p, id) {
		return notFound()
	}
	return listReply(c, s.renderReviewComments(c.repo, p, id))
}

func (s *Server) listPullComments(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	return listReply(c, s.renderReviewComments(c.repo, p, 0))
}

func hasReview(p *pull, id int64) bool {
	for _, r := range p.reviews {
		if r.id == id {
			return true
		}
	}
	return false
}

// renderReviewComments renders the comments of one review, or of all
// reviews when reviewID is 0.
func (s *Server) renderReviewComments(r *repoState, p *pull, reviewID int64) []reviewCommentJSON {
	out := []reviewCommentJSON{}
	for _, rc := range p.reviewComments {
		if reviewID != 0 && rc.reviewID != reviewID {
			continue
		}
		out = append(out, reviewCommentJSON{
			ID:                  rc.id,
			PullRequestReviewID: rc.reviewID,
			Path:                rc.path,
			Line:                rc.line,
			Side:                "RIGHT",
			Body:                rc.body,
			CommitID:            rc.commitID,
			User:                user(rc.user),
			CreatedAt:           rc.createdAt,
			UpdatedAt:           rc.createdAt,
			HTMLURL:             s.htmlURL(r, p) + "#discussion_r" + strconv.FormatInt(rc.id, 10),
			PullRequestURL:      s.http.URL + urlPath("repos", r.owner, r.name, "pulls", strconv.Itoa(p.number)),
		})
	}
	return out
}

func (s *Server) renderReview(r *repoState, p *pull, rv *review) reviewJSON {
	return reviewJSON{
		ID:             rv.id,
		User:           user(rv.user),
		Body:           rv.body,
		State:          rv.state,
		CommitID:       rv.commitID,
		SubmittedAt:    rv.submittedAt,
		HTMLURL:        s.htmlURL(r, p) + "#pullrequestreview-" + strconv.FormatInt(rv.id, 10),
		PullRequestURL: s.http.URL + urlPath("repos", r.owner, r.name, "pulls", strconv.Itoa(p.number)),
	}
}
