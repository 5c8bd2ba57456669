package anthropicemu

import (
	"net/http"
	"time"
)

// FaultKind is a way the API misbehaves.
type FaultKind int

const (
	// Overloaded answers 529 overloaded_error, the API's answer when it
	// has no capacity.
	Overloaded FaultKind = iota + 1
	// ServerError answers 500 api_error.
	ServerError
	// RateLimited answers 429 rate_limit_error with a retry-after header.
	RateLimited
	// SlowStream answers normally but waits Delay before each stream event
	// after the first (before the body of a non-streamed answer).
	SlowStream
	// StreamOverloaded starts a stream normally (200, message_start) and
	// then ends it with an error event of type overloaded_error, as the
	// API does when it runs out of capacity mid-answer. A request that is
	// not streamed gets 529.
	StreamOverloaded
)

func (k FaultKind) String() string {
	switch k {
	case 0:
		return ""
	case Overloaded:
		return "overloaded"
	case ServerError:
		return "server-error"
	case RateLimited:
		return "rate-limited"
	case SlowStream:
		return "slow-stream"
	case StreamOverloaded:
		return "stream-overloaded"
	default:
		return "unknown-fault"
	}
}

// Always makes a fault answer every matching request, until ClearFaults.
const Always = -1

// defaultRetryAfter is the retry-after of a rate limit that gives none:
// short, so that tests of a client's retries stay quick.
const defaultRetryAfter = time.Second

// Fault is an injected misbehaviour.
type Fault struct {
	Kind FaultKind
	// Times is how many matching requests the fault answers: 0 means
	// one, Always every one.
	Times int
	// RetryAfter is sent as the retry-after header (in whole seconds,
	// rounded up) by RateLimited, which defaults to one second, and by
	// Overloaded when set.
	RetryAfter time.Duration
	// Delay is SlowStream's wait between events.
	Delay time.Duration
	// Match selects the requests the fault answers; nil selects the main
	// conversation's requests (KindMain).
	Match func(Request) bool
}

// injected is a fault with its remaining count.
type injected struct {
	Fault
	remaining int // < 0: always
}

// Inject adds a fault. Faults are tried in the order injected; the first
// one that matches a request answers it.
func (s *Server) Inject(f Fault) {
	n := f.Times
	if n == 0 {
		n = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &injected{Fault: f, remaining: n})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the fault that answers a request, using up one of its
// requests.
func (s *Server) takeFault(r Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		match := f.Match
		if match == nil {
			match = func(r Request) bool { return r.Kind == KindMain }
		}
		if !match(r) {
			continue
		}
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// response is the error response of a fault that answers with one. A
// stream overload is a 529 for a request that is not streamed.
func (f Fault) response(streamed bool) (apiError, bool) {
	switch f.Kind {
	case StreamOverloaded:
		if streamed {
			return apiError{}, false
		}
		return errorFor(StatusOverloaded), true
	case Overloaded:
		e := errorFor(StatusOverloaded)
		e.retryAfter = f.RetryAfter
		return e, true
	case ServerError:
		return errorFor(http.StatusInternalServerError), true
	case RateLimited:
		e := errorFor(http.StatusTooManyRequests)
		e.retryAfter = f.RetryAfter
		if e.retryAfter <= 0 {
			e.retryAfter = defaultRetryAfter
		}
		return e, true
	}
	return apiError{}, false
}
