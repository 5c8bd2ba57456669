package githubemu

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	primaryRateLimitDocs   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-rate-limit"
	secondaryRateLimitDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	secondaryRateLimitMsg  = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)

// fault makes matching requests fail. It lasts for a number of requests or,
// when that is zero, until a time.
type fault struct {
	method     string // empty matches every method
	pathPrefix string // empty matches every path
	remaining  int
	until      time.Time
	respond    func() response
}

func (f *fault) expired(t time.Time) bool {
	return f.remaining <= 0 && !t.Before(f.until)
}

func (f *fault) matches(method, path string) bool {
	return (f.method == "" || strings.EqualFold(f.method, method)) && strings.HasPrefix(path, f.pathPrefix)
}

// takeFault returns the response of the first live fault that matches the
// request and uses up one of its requests.
func (s *Server) takeFault(method, path string) (response, bool) {
	t := time.Now()
	live := s.faults[:0]
	for _, f := range s.faults {
		if !f.expired(t) {
			live = append(live, f)
		}
	}
	s.faults = live
	for _, f := range s.faults {
		if f.matches(method, path) {
			if f.remaining > 0 {
				f.remaining--
			}
			return f.respond(), true
		}
	}
	return response{}, false
}

func (s *Server) addFault(f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// FailNext makes the next n requests fail with status (500, 502, ...).
func (s *Server) FailNext(n, status int) {
	s.FailNextMatching("", "", n, status)
}

// FailNextMatching makes the next n requests with method (any when empty)
// whose path starts with pathPrefix (e.g. "/repos/acme/app/pulls") fail with
// status. Paths are matched without GitHub Enterprise's /api/v3 prefix.
func (s *Server) FailNextMatching(method, pathPrefix string, n, status int) {
	s.addFault(&fault{method: method, pathPrefix: pathPrefix, remaining: n, respond: func() response {
		return apiError(status, http.StatusText(status))
	}})
}

// RateLimitNext answers the next n requests with GitHub's primary rate limit
// error, saying the limit resets at reset.
func (s *Server) RateLimitNext(n int, reset time.Time) {
	s.addFault(&fault{remaining: n, respond: func() response { return s.primaryRateLimited(reset) }})
}

// RateLimitUntil answers every request with GitHub's primary rate limit
// error until reset.
func (s *Server) RateLimitUntil(reset time.Time) {
	s.addFault(&fault{until: reset, respond: func() response { return s.primaryRateLimited(reset) }})
}

// SecondaryRateLimitNext answers the next n requests with GitHub's
// secondary rate limit error and a Retry-After of retryAfter (rounded up to
// whole seconds).
func (s *Server) SecondaryRateLimitNext(n int, retryAfter time.Duration) {
	seconds := strconv.Itoa(int(math.Ceil(retryAfter.Seconds())))
	s.addFault(&fault{remaining: n, respond: func() response {
		resp := reply(http.StatusForbidden, errorJSON{Message: secondaryRateLimitMsg, DocumentationURL: secondaryRateLimitDocs})
		resp.header = http.Header{"Retry-After": {seconds}}
		return resp
	}})
}

// RequireMergeQueue makes merges answer 405 as GitHub does for a branch
// whose rules require the merge queue, and lists that rule for every
// branch (GET /rules/branches/{branch}).
func (s *Server) RequireMergeQueue(required bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mergeQueue = required
}

// ClearFaults removes every injected fault (not the merge queue rule).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// primaryRateLimited is GitHub's 403 for a token out of requests. Clients
// recognise it by X-RateLimit-Remaining: 0 and wait until X-RateLimit-Reset.
func (s *Server) primaryRateLimited(reset time.Time) response {
	resp := reply(http.StatusForbidden, errorJSON{
		Message:          fmt.Sprintf("API rate limit exceeded for user ID %d.", user(s.opts.Login).ID),
		DocumentationURL: primaryRateLimitDocs,
	})
	limit := strconv.Itoa(s.rate.limit)
	resp.header = http.Header{
		"X-Ratelimit-Limit":     {limit},
		"X-Ratelimit-Remaining": {"0"},
		"X-Ratelimit-Used":      {limit},
		"X-Ratelimit-Reset":     {strconv.FormatInt(reset.Unix(), 10)},
		"X-Ratelimit-Resource":  {"core"},
	}
	return resp
}
