package githubemu

import (
	"net/http"
	"net/url"
	"strings"
)

// route is one endpoint. Its template uses {name} for one path segment and
// {name...} for one or more, so that branch names and refs with slashes
// ("polecat/gt-a") fit anywhere in a path, which net/http's patterns allow
// only at the end.
type route struct {
	method   string
	template string
	segments []string
	handler  func(*call) response
	// free routes do not count against the rate limit (GET /rate_limit).
	free bool
}

func newRoute(method, template string, handler func(*call) response) route {
	return route{
		method:   method,
		template: template,
		segments: strings.Split(strings.TrimPrefix(template, "/"), "/"),
		handler:  handler,
	}
}

// installationTokensPath is where a GitHub App trades its JWT for an
// installation token.
const installationTokensPath = "/app/installations/{id}/access_tokens"

// routeTable lists every endpoint the emulator serves.
func (s *Server) routeTable() []route {
	rateLimit := newRoute(http.MethodGet, "/rate_limit", s.getRateLimit)
	rateLimit.free = true
	return []route{
		rateLimit,
		newRoute(http.MethodPost, installationTokensPath, s.createInstallationToken),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}", s.getRepo),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/pulls", s.listPulls),
		newRoute(http.MethodPost, "/repos/{owner}/{repo}/pulls", s.createPull),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/pulls/{number}", s.getPull),
		newRoute(http.MethodPatch, "/repos/{owner}/{repo}/pulls/{number}", s.updatePull),
		newRoute(http.MethodPut, "/repos/{owner}/{repo}/pulls/{number}/merge", s.mergePull),
		newRoute(http.MethodPut, "/repos/{owner}/{repo}/pulls/{number}/update-branch", s.updateBranch),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/pulls/{number}/reviews", s.listReviews),
		newRoute(http.MethodPost, "/repos/{owner}/{repo}/pulls/{number}/reviews", s.createReview),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/pulls/{number}/reviews/{id}/comments", s.listReviewComments),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/pulls/{number}/comments", s.listPullComments),
		newRoute(http.MethodPost, "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers", s.requestReviewers),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/commits/{ref...}/status", s.getCombinedStatus),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/commits/{ref...}/check-runs", s.listCheckRuns),
		newRoute(http.MethodPost, "/repos/{owner}/{repo}/statuses/{sha}", s.createStatus),
		newRoute(http.MethodPost, "/repos/{owner}/{repo}/check-runs", s.createCheckRun),
		newRoute(http.MethodPost, "/repos/{owner}/{repo}/issues/{number}/labels", s.addLabels),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/issues/{number}/comments", s.listIssueComments),
		newRoute(http.MethodPost, "/repos/{owner}/{repo}/issues/{number}/comments", s.createIssueComment),
		newRoute(http.MethodPatch, "/repos/{owner}/{repo}/issues/comments/{id}", s.editIssueComment),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/git/ref/heads/{branch...}", s.getBranchRef),
		newRoute(http.MethodDelete, "/repos/{owner}/{repo}/git/refs/heads/{branch...}", s.deleteBranch),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/rules/branches/{branch...}", s.branchRules),
		newRoute(http.MethodGet, "/repos/{owner}/{repo}/compare/{basehead...}", s.compare),
	}
}

// match finds the route for a request and the values of its wildcards.
func (s *Server) match(method, escapedPath string) (*route, map[string]string) {
	segs, ok := splitPath(escapedPath)
	if !ok {
		return nil, nil
	}
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.method != method {
			continue
		}
		params := map[string]string{}
		if matchSegments(rt.segments, segs, params) {
			return rt, params
		}
	}
	return nil, nil
}

// splitPath splits an escaped path into unescaped segments, so that an
// escaped slash inside one segment stays part of it.
func splitPath(escaped string) ([]string, bool) {
	parts := strings.Split(strings.Trim(escaped, "/"), "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

func matchSegments(tmpl, segs []string, params map[string]string) bool {
	if len(tmpl) == 0 {
		return len(segs) == 0
	}
	head := tmpl[0]
	if !strings.HasPrefix(head, "{") {
		return len(segs) > 0 && segs[0] == head && matchSegments(tmpl[1:], segs[1:], params)
	}
	name := strings.Trim(head, "{}")
	if rest, ok := strings.CutSuffix(name, "..."); ok {
		// A multi-segment wildcard takes whatever the rest of the template,
		// made of single segments, leaves over.
		n := len(segs) - (len(tmpl) - 1)
		if n < 1 || hasEmpty(segs[:n]) {
			return false
		}
		params[rest] = strings.Join(segs[:n], "/")
		return matchSegments(tmpl[1:], segs[n:], params)
	}
	if len(segs) == 0 || segs[0] == "" {
		return false
	}
	params[name] = segs[0]
	return matchSegments(tmpl[1:], segs[1:], params)
}

func hasEmpty(segs []string) bool {
	for _, s := range segs {
		if s == "" {
			return true
		}
	}
	return false
}
