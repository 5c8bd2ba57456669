package githubemu

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultLogin is the user the token authenticates as when Options.Login is
// empty.
const DefaultLogin = "gastown-bot"

// defaultRateLimit is GitHub's primary rate limit for a token, per hour.
const defaultRateLimit = 5000

// enterprisePrefix is the path GitHub Enterprise Server serves its API under.
// The emulator answers both there and at the root, so that clients configured
// for either github.com or an Enterprise base URL work against it.
const enterprisePrefix = "/api/v3"

// Options configure a Server.
type Options struct {
	// RepoRoot is the directory of bare repositories, laid out as
	// RepoRoot/<owner>/<repo>.git. Required.
	RepoRoot string

	// Token every request must carry as "Authorization: Bearer <token>" or
	// "Authorization: token <token>". Required.
	Token string

	// Login is the user the token authenticates as: the author of pull
	// requests, reviews and comments made through the API. DefaultLogin when
	// empty.
	Login string

	// GitURL is the base URL the repositories are cloned from (the git
	// server's address), used for a repository's clone_url. Optional.
	GitURL string

	// RateLimit is the number of requests per hour before GitHub's primary
	// rate limit applies; 5000 when zero.
	RateLimit int

	// Logf, when set, receives one line per request. It never receives
	// request headers, so it never sees the token.
	Logf func(format string, args ...any)
}

// Server is a running GitHub API emulator.
type Server struct {
	opts   Options
	http   *httptest.Server
	routes []route

	// mu serialises requests and the test-facing helpers: the emulator's
	// state is small and its git work is quick, and one lock makes each
	// request atomic, as a merge on GitHub is.
	mu         sync.Mutex
	repos      map[string]*repoState
	lastID     int64
	calls      map[string]int
	faults     []*fault
	mergeQueue bool
	// upToDate holds the base branches ("owner/repo:branch") whose
	// protection requires pull requests to be up to date (RequireUpToDate).
	upToDate map[string]bool
	sender   *hookSender
	// apps are the GitHub Apps (RegisterApp) and installTokens the
	// installation tokens they were issued.
	apps          map[int64]*app
	installTokens map[string]installationToken
	rate          rateWindow
	holds         holds
}

// New starts an emulator. It panics when RepoRoot or Token is empty, since
// neither has a sensible default.
func New(opts Options) *Server {
	if opts.RepoRoot == "" || opts.Token == "" {
		panic("githubemu: Options.RepoRoot and Options.Token are required")
	}
	if opts.Login == "" {
		opts.Login = DefaultLogin
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = defaultRateLimit
	}
	s := &Server{
		opts:  opts,
		repos: map[string]*repoState{},
		calls: map[string]int{},
		rate:  rateWindow{limit: opts.RateLimit},
	}
	s.routes = s.routeTable()
	s.http = httptest.NewServer(s)
	return s
}

// URL is the API base URL, ending in "/", as go-github's BaseURL wants it.
func (s *Server) URL() string { return s.http.URL + "/" }

// Close shuts the server down. The repositories are left on disk.
func (s *Server) Close() {
	s.http.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sender != nil {
		close(s.sender.queue)
		s.sender = nil
	}
}

// call is one request on its way through a handler.
type call struct {
	r      *http.Request
	params map[string]string
	repo   *repoState
}

// ServeHTTP answers one API request: authentication, injected faults and rate
// limits first, then the route's handler, then ETag and rate-limit headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := apiPath(r.URL.EscapedPath())
	rt, params := s.match(r.Method, path)
	key := r.Method + " " + path
	if rt != nil {
		key = rt.method + " " + rt.template
	}
	s.holds.wait(key)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[key]++

	resp := s.serve(r, path, rt, params)
	s.write(w, r, rt, resp)
	s.logf("githubemu: %s %s -> %d", r.Method, r.URL.Path, resp.status)
}

func (s *Server) serve(r *http.Request, path string, rt *route, params map[string]string) response {
	// An app authenticates with its JWT for its installation tokens only.
	if rt != nil && rt.template == installationTokensPath {
		return rt.handler(&call{r: r, params: params})
	}
	if !s.authorized(r) {
		return apiError(http.StatusUnauthorized, "Bad credentials")
	}
	if resp, ok := s.takeFault(r.Method, path); ok {
		return resp
	}
	if (rt == nil || !rt.free) && s.rate.exhausted(now()) {
		return s.primaryRateLimited(s.rate.reset)
	}
	if rt == nil {
		return notFound()
	}
	c := &call{r: r, params: params}
	if owner, ok := params["owner"]; ok {
		repo, found := s.repo(owner, params["repo"])
		if !found {
			return notFound()
		}
		c.repo = repo
	}
	return rt.handler(c)
}

// write encodes the response. A successful GET gets an ETag, and one whose
// ETag the client already has is answered 304 with no body; like GitHub, a
// 304 does not count against the rate limit.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rt *route, resp response) {
	var body []byte
	if resp.body != nil {
		var err error
		if body, err = json.Marshal(resp.body); err != nil {
			resp = apiError(http.StatusInternalServerError, "githubemu: "+err.Error())
			body, _ = json.Marshal(resp.body)
		}
	}
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	status := resp.status
	if r.Method == http.MethodGet && status == http.StatusOK {
		etag := etagOf(body)
		h.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			status, body = http.StatusNotModified, nil
		}
	}
	if status != http.StatusNotModified && (rt == nil || !rt.free) {
		s.rate.take(now())
	}
	s.rate.setHeaders(h)
	if body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) authorized(r *http.Request) bool {
	got := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "token "} {
		if token, ok := strings.CutPrefix(got, scheme); ok {
			return subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.Token)) == 1 || s.installationTokenValid(token)
		}
	}
	return false
}

// repo returns the state of a repository that exists on disk.
func (s *Server) repo(owner, name string) (*repoState, bool) {
	if !validName(owner) || !validName(name) {
		return nil, false
	}
	dir := filepath.Join(s.opts.RepoRoot, owner, name+".git")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, false
	}
	key := owner + "/" + name
	st, ok := s.repos[key]
	if !ok {
		st = newRepoState(owner, name, dir, s.nextID())
		s.repos[key] = st
	}
	return st, true
}

// validName keeps an owner or repository name from leaving RepoRoot.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." &&
		!strings.ContainsAny(name, `/\`)
}

func (s *Server) nextID() int64 {
	s.lastID++
	return s.lastID
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// Calls returns how many requests each route received, keyed by
// "METHOD /route/{template}" (e.g. "GET /repos/{owner}/{repo}/pulls/{number}"),
// counting 304s, failures and injected faults. Requests that matched no route
// are keyed by their path.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ResetCalls sets every count of Calls to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// apiPath is the request path without GitHub Enterprise's prefix.
func apiPath(p string) string {
	if rest, ok := strings.CutPrefix(p, enterprisePrefix); ok && (rest == "" || rest[0] == '/') {
		return rest
	}
	return p
}

// now is the emulator's clock, in GitHub's resolution of whole seconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// etagMatches implements If-None-Match's weak comparison: a list of tags, any
// of which may carry the W/ prefix, or "*".
func etagMatches(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
}

// rateWindow is GitHub's primary rate limit: limit requests per hour.
type rateWindow struct {
	limit int
	used  int
	reset time.Time
}

func (w *rateWindow) roll(t time.Time) {
	if !t.Before(w.reset) {
		w.used = 0
		w.reset = t.Add(time.Hour)
	}
}

func (w *rateWindow) take(t time.Time) {
	w.roll(t)
	if w.used < w.limit {
		w.used++
	}
}

func (w *rateWindow) exhausted(t time.Time) bool {
	w.roll(t)
	return w.used >= w.limit
}

func (w *rateWindow) snapshot() rateJSON {
	return rateJSON{Limit: w.limit, Remaining: w.limit - w.used, Reset: w.reset.Unix(), Used: w.used}
}

// setHeaders writes the X-RateLimit headers every GitHub response carries,
// unless the response (a rate-limit fault) set its own.
func (w *rateWindow) setHeaders(h http.Header) {
	if h.Get("X-RateLimit-Remaining") != "" {
		return
	}
	r := w.snapshot()
	h.Set("X-RateLimit-Limit", strconv.Itoa(r.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(r.Remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(r.Used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(r.Reset, 10))
	h.Set("X-RateLimit-Resource", "core")
}
