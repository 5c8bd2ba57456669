package anthropicemu

import (
	"context"
	"net/http"
	"time"
)

// Kind is what a request was for.
type Kind string

const (
	// KindMain is a turn of the coding conversation: a messages request
	// that offers tools.
	KindMain Kind = "main"
	// KindSide is a messages request without tools: opencode's title
	// request, claude's small side requests.
	KindSide Kind = "side"
	// KindCountTokens is POST /v1/messages/count_tokens.
	KindCountTokens Kind = "count_tokens"
	// KindHello is claude's connectivity check, HEAD /api/hello.
	KindHello Kind = "hello"
	// KindUnknown is a request for a path the emulator does not serve, or
	// a messages request whose body did not parse.
	KindUnknown Kind = "unknown"
)

// redacted replaces secrets in recorded headers.
const redacted = "REDACTED"

// secretHeaders are the headers that carry credentials.
var secretHeaders = []string{"X-Api-Key", "Authorization", "Proxy-Authorization", "Cookie"}

// Request is one request the emulator received, and how it answered.
type Request struct {
	Seq      int // 1 for the first request
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	// Header is the request's headers with credentials replaced by
	// "REDACTED".
	Header http.Header
	Kind   Kind

	// The messages request's parameters; zero for other requests.
	Model     string
	Stream    bool
	MaxTokens int
	Tools     []string
	Messages  int
	// Body is the parsed request; nil when it was not a messages request
	// or did not parse. It is shared: do not modify it.
	Body *MessagesRequest

	// The answer. Status is 0 while the request is being answered.
	Status int
	// ErrorType is the API error type of an error response.
	ErrorType string
	// Aborted is set when the answer was cut off: the client went away
	// (or the emulator closed) during a stall or a stream.
	Aborted bool
	// Fault is the injected fault that answered, if any.
	Fault      FaultKind
	StopReason string
	Usage      Usage
	// Text is the assistant's text in the reply, and ToolUses the names
	// of the tools it called.
	Text     string
	ToolUses []string
}

// Requests returns what the emulator has received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// Counts returns the number of requests of each kind.
func (s *Server) Counts() map[Kind]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Kind]int{}
	for _, r := range s.requests {
		out[r.Kind]++
	}
	return out
}

// Usage is the sum of the usage the emulator reported to clients in the
// answers of a kind, including the message_start of a stream that broke
// off: what claude reports as its run's usage.
func (s *Server) Usage(kind Kind) Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u Usage
	for _, r := range s.requests {
		if r.Kind == kind && r.Status == http.StatusOK && !r.Aborted {
			u = u.Add(r.Usage)
		}
	}
	return u
}

// WaitFor blocks until cond holds for the requests received so far (it is
// checked at once and after every change to the record), or ctx ends. It
// lets a test wait for a client to reach a point, such as a stalled
// request, without polling.
func (s *Server) WaitFor(ctx context.Context, cond func([]Request) bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond(s.Requests()) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// record adds a request and returns its index.
func (s *Server) record(r Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Seq = len(s.requests) + 1
	s.requests = append(s.requests, r)
	s.notifyLocked()
	return len(s.requests) - 1
}

// update changes a recorded request.
func (s *Server) update(i int, f func(*Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.requests[i])
	s.notifyLocked()
}

// notifyLocked wakes WaitFor callers.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Tools = append([]string(nil), r.Tools...)
	r.ToolUses = append([]string(nil), r.ToolUses...)
	return r
}

func redactHeaders(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range secretHeaders {
		if _, ok := out[k]; ok {
			out[k] = []string{redacted}
		}
	}
	return out
}
