package githubemu

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// Pull requests are the only issues the emulator has: the issue endpoints
// answer for a pull request's number and 404 for any other.

func (s *Server) addLabels(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	var raw json.RawMessage
	if resp, ok := decode(c, &raw); !ok {
		return resp
	}
	names, ok := labelNames(raw)
	if !ok {
		return validationFailed(errorDetailJSON{Resource: "Label", Field: "labels", Code: "invalid"})
	}
	for _, n := range names {
		if !slices.Contains(p.labels, n) {
			p.labels = append(p.labels, n)
			s.deliver(c.repo, "pull_request", map[string]any{"action": "labeled", "number": p.number,
				"pull_request": pullPayload(p), "label": map[string]any{"name": n}})
		}
	}
	p.updatedAt = now()
	return reply(http.StatusOK, renderLabels(p.labels))
}

// labelNames accepts the three bodies GitHub does: ["a"], {"labels": ["a"]}
// and {"labels": [{"name": "a"}]}.
func labelNames(raw json.RawMessage) ([]string, bool) {
	var names []string
	if json.Unmarshal(raw, &names) == nil {
		return names, true
	}
	var wrapped struct {
		Labels json.RawMessage `json:"labels"`
	}
	if json.Unmarshal(raw, &wrapped) != nil {
		return nil, false
	}
	if json.Unmarshal(wrapped.Labels, &names) == nil {
		return names, true
	}
	var objects []struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(wrapped.Labels, &objects) != nil {
		return nil, false
	}
	for _, o := range objects {
		names = append(names, o.Name)
	}
	return names, true
}

func (s *Server) listIssueComments(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	out := make([]issueCommentJSON, 0, len(p.issueComments))
	for _, ic := range p.issueComments {
		out = append(out, s.renderIssueComment(c.repo, p, ic))
	}
	return listReply(c, out)
}

func (s *Server) createIssueComment(c *call) response {
	p, resp, ok := s.pullFor(c)
	if !ok {
		return resp
	}
	body, resp, ok := commentBody(c)
	if !ok {
		return resp
	}
	t := now()
	ic := &issueComment{id: s.nextID(), user: s.opts.Login, body: body, createdAt: t, updatedAt: t}
	p.issueComments = append(p.issueComments, ic)
	p.updatedAt = ic.createdAt
	return reply(http.StatusCreated, s.renderIssueComment(c.repo, p, ic))
}

// editIssueComment answers PATCH /repos/{owner}/{repo}/issues/comments/{id}:
// only its author may edit a comment.
func (s *Server) editIssueComment(c *call) response {
	id, err := strconv.ParseInt(c.params["id"], 10, 64)
	if err != nil {
		return notFound()
	}
	body, resp, ok := commentBody(c)
	if !ok {
		return resp
	}
	for _, p := range c.repo.pulls {
		for _, ic := range p.issueComments {
			if ic.id != id {
				continue
			}
			if ic.user != s.opts.Login {
				return apiError(http.StatusForbidden, "Resource not accessible by integration")
			}
			ic.body, ic.updatedAt = body, now()
			return reply(http.StatusOK, s.renderIssueComment(c.repo, p, ic))
		}
	}
	return notFound()
}

func (s *Server) renderIssueComment(r *repoState, p *pull, ic *issueComment) issueCommentJSON {
	return issueCommentJSON{
		ID:        ic.id,
		Body:      ic.body,
		User:      user(ic.user),
		CreatedAt: ic.createdAt,
		UpdatedAt: ic.updatedAt,
		HTMLURL:   s.htmlURL(r, p) + "#issuecomment-" + strconv.FormatInt(ic.id, 10),
		IssueURL:  s.http.URL + urlPath("repos", r.owner, r.name, "issues", strconv.Itoa(p.number)),
	}
}

// commentBody reads a comment's body, which GitHub requires.
func commentBody(c *call) (string, response, bool) {
	var req struct {
		Body string `json:"body"`
	}
	if resp, ok := decode(c, &req); !ok {
		return "", resp, false
	}
	if req.Body == "" {
		return "", validationFailed(errorDetailJSON{Resource: "IssueComment", Field: "body", Code: "missing_field"}), false
	}
	return req.Body, response{}, true
}
