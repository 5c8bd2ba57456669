package anthropicemu

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// APIKey every request must carry, as x-api-key or as "Authorization:
	// Bearer". Empty accepts any non-empty key.
	APIKey string

	// PromptCaching makes the emulator account for the cache_control
	// breakpoints clients send, as the API does: a prefix cached by an
	// earlier request is reported as cache_read_input_tokens, a new one as
	// cache_creation_input_tokens. Off, all input is input_tokens and the
	// same request always gets the same figures.
	PromptCaching bool

	// RequestsPerMinute is the rate limit the anthropic-ratelimit-*
	// headers report; 4000 when zero. The emulator reports it but never
	// enforces it (inject RateLimited for that).
	RequestsPerMinute int

	// Logf, when set, receives a line per request (never its headers,
	// so never a key).
	Logf func(format string, args ...any)
}

// Token limits the rate-limit headers report, per minute: those of a
// high usage tier.
const (
	defaultRequestsPerMinute = 4000
	inputTokensPerMinute     = 2_000_000
	outputTokensPerMinute    = 400_000
)

// maxBodyBytes is the API's limit on a request body.
const maxBodyBytes = 32 << 20

// Server is a running emulator of the Anthropic Messages API.
type Server struct {
	opts Options
	http *httptest.Server
	// done is closed by Close, ending stalls and slow streams so that
	// Close does not wait on them.
	done      chan struct{}
	closeOnce sync.Once
	// orgID is sent as anthropic-organization-id, as the API does.
	orgID string

	mu       sync.Mutex
	requests []Request
	changed  chan struct{}
	faults   []*injected
	cache    promptCache
	window   rateWindow
}

// Start starts an emulator on a free port of 127.0.0.1.
func Start(opts Options) (*Server, error) {
	if opts.RequestsPerMinute <= 0 {
		opts.RequestsPerMinute = defaultRequestsPerMinute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("anthropicemu: listen: %w", err)
	}
	s := &Server{
		opts:    opts,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		orgID:   uuid(),
	}
	if opts.PromptCaching {
		s.cache = promptCache{}
	}
	s.http = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s, ReadHeaderTimeout: time.Minute}}
	s.http.Start()
	return s, nil
}

// URL is the emulator's base URL, without a trailing slash: the form
// ANTHROPIC_BASE_URL takes. SDKs that want the version in the base URL
// (opencode's @ai-sdk/anthropic) take URL()+"/v1".
func (s *Server) URL() string { return s.http.URL }

// Close ends stalled and slow answers, then shuts the server down and
// waits for its handlers to return.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.http.Close()
	})
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newID("req_011C")
	h := w.Header()
	h.Set("request-id", reqID)
	h.Set("anthropic-organization-id", s.orgID)

	rec := Request{
		Time:     time.Now(),
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   redactHeaders(r.Header),
		Kind:     KindUnknown,
	}
	x := &exchange{w: w, r: r, reqID: reqID, rec: rec}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		s.admit(x, s.messages)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages/count_tokens":
		x.rec.Kind = KindCountTokens
		s.admit(x, s.countTokens)
	case (r.Method == http.MethodHead || r.Method == http.MethodGet) && r.URL.Path == "/api/hello":
		// claude's preconnect and connectivity check (made unless
		// CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC is set); it needs no key.
		x.rec.Kind = KindHello
		s.hello(x)
	default:
		x.i = s.record(x.rec)
		s.logf("anthropicemu: %s %s: not a path the emulator serves", r.Method, r.URL.Path)
		s.fail(x, notFound())
	}
}

// admit reads the body and checks the key before the handler answers. A
// request that fails is still parsed as far as it can be, so that the
// record says what it was.
func (s *Server) admit(x *exchange, handle func(*exchange)) {
	body, e, ok := readBody(x.w, x.r)
	if !ok {
		x.i = s.record(x.rec)
		s.fail(x, e)
		return
	}
	x.body = body
	if e, ok := s.authenticate(x.r); !ok {
		x.denied = &e
	}
	handle(x)
}

// hello answers claude's connectivity check.
func (s *Server) hello(x *exchange) {
	x.i = s.record(x.rec)
	body := encode(map[string]string{"message": "hello"})
	x.w.Header().Set("Content-Type", "application/json")
	x.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(http.StatusOK)
	if x.r.Method == http.MethodGet {
		_, _ = x.w.Write(body)
	}
	s.update(x.i, func(r *Request) { r.Status = http.StatusOK })
}

// exchange is one request on its way through a handler.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	reqID string
	body  []byte
	// denied is the authentication error, answered once the request is
	// recorded.
	denied *apiError
	// rec is the request as recorded (before record); i its index after.
	rec Request
	i   int
}

// authenticate checks the key, as x-api-key or a bearer token.
func (s *Server) authenticate(r *http.Request) (apiError, bool) {
	key, scheme := r.Header.Get("X-Api-Key"), "x-api-key"
	if key == "" {
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key, scheme = strings.TrimSpace(bearer), "bearer token"
		}
	}
	unauthorized := apiError{status: http.StatusUnauthorized, typ: "authentication_error"}
	if key == "" {
		unauthorized.message = "x-api-key header is required"
		return unauthorized, false
	}
	if s.opts.APIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) != 1 {
		unauthorized.message = "invalid " + scheme
		return unauthorized, false
	}
	return apiError{}, true
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, apiError, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			return nil, apiError{status: http.StatusRequestEntityTooLarge, typ: "request_too_large",
				message: "Request exceeds the maximum allowed number of bytes."}, false
		}
		return nil, invalidRequest("could not read the request body: " + err.Error()), false
	}
	return body, apiError{}, true
}

// fail answers with an API error and records it.
func (s *Server) fail(x *exchange, e apiError) {
	s.setRateHeaders(x.w.Header(), 0)
	e.write(x.w, x.reqID)
	s.update(x.i, func(r *Request) {
		r.Status = e.status
		r.ErrorType = e.typ
	})
	s.logf("anthropicemu: %s %s -> %d %s", x.r.Method, x.r.URL.Path, e.status, e.typ)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// rateWindow counts a minute's requests and tokens for the rate-limit
// headers.
type rateWindow struct {
	start                time.Time
	requests, in, output int
}

// setRateHeaders sends the API's rate-limit headers, counting the request
// (and the tokens it used) in the current minute.
func (s *Server) setRateHeaders(h http.Header, inTokens int) {
	s.mu.Lock()
	now := time.Now().UTC()
	if now.Sub(s.window.start) >= time.Minute {
		s.window = rateWindow{start: now.Truncate(time.Minute)}
	}
	s.window.requests++
	s.window.in += inTokens
	w := s.window
	s.mu.Unlock()

	reset := w.start.Add(time.Minute).Format(time.RFC3339)
	set := func(name string, limit, used int) {
		h.Set("anthropic-ratelimit-"+name+"-limit", strconv.Itoa(limit))
		h.Set("anthropic-ratelimit-"+name+"-remaining", strconv.Itoa(max(limit-used, 0)))
		h.Set("anthropic-ratelimit-"+name+"-reset", reset)
	}
	set("requests", s.opts.RequestsPerMinute, w.requests)
	set("input-tokens", inputTokensPerMinute, w.in)
	set("output-tokens", outputTokensPerMinute, w.output)
	set("tokens", inputTokensPerMinute+outputTokensPerMinute, w.in+w.output)
}

// countOutput adds a reply's output tokens to the minute's count.
func (s *Server) countOutput(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window.output += n
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID is a random identifier in the API's style: a prefix and 22
// base62 characters (msg_01..., toolu_01..., req_011C...).
func newID(prefix string) string {
	b := make([]byte, 22)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return prefix + string(b)
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
