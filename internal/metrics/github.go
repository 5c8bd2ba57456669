package metrics

import (
	"net/http"
	"strconv"
)

// GitHubTransport counts every request next sends to GitHub by method and
// status, and records the rate limit left from each response's
// X-RateLimit-Remaining, under repository ("owner/repo") and the response's
// X-RateLimit-Resource ("core" when absent).
func GitHubTransport(next http.RoundTripper, repository string) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &githubTransport{next: next, repository: repository}
}

type githubTransport struct {
	next       http.RoundTripper
	repository string
}

func (t *githubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil {
		githubRequests.WithLabelValues(req.Method, "error").Inc()
		return resp, err
	}
	githubRequests.WithLabelValues(req.Method, strconv.Itoa(resp.StatusCode)).Inc()
	if v := resp.Header.Get("X-RateLimit-Remaining"); v != "" {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			resource := resp.Header.Get("X-RateLimit-Resource")
			if resource == "" {
				resource = "core"
			}
			githubRateLimitRemaining.WithLabelValues(t.repository, resource).Set(n)
		}
	}
	return resp, nil
}
