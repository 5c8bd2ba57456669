package anthropicemu

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// messages answers POST /v1/messages: the conversation's next turn by the
// task's script, or a short reply to a side request, streamed or not.
func (s *Server) messages(x *exchange) {
	req, ok := s.parse(x)
	if !ok {
		return
	}
	if e, ok := validateParams(req, true); !ok {
		s.fail(x, e)
		return
	}
	fault, faulted := s.takeFault(x.rec)
	if faulted {
		s.update(x.i, func(r *Request) { r.Fault = fault.Kind })
		if e, ok := fault.response(req.Stream); ok {
			s.fail(x, e)
			return
		}
	}
	blocks, ok := s.turn(x, req)
	if !ok {
		return
	}
	s.answer(x, req, blocks, fault)
}

// turn decides the assistant's turn: the script's next step for the main
// conversation (failing or stalling when the task asks), a short text for
// a side request. It reports false when it answered with an error itself.
func (s *Server) turn(x *exchange, req *MessagesRequest) ([]responseBlock, bool) {
	if x.rec.Kind != KindMain {
		return []responseBlock{{Type: "text", Text: sideReply(req)}}, true
	}
	p := newPlan(req)
	h := readHistory(req)
	if p.ds.fail != 0 {
		e := errorFor(p.ds.fail)
		e.message = fmt.Sprintf("%s (the task asks the emulator to fail with %d)", e.message, p.ds.fail)
		s.fail(x, e)
		return nil, false
	}
	// A stalled model sends nothing, not even headers, until the stall is
	// over; only the conversation's first turn stalls, so a client that
	// gives up and retries stalls again.
	if p.ds.stall > 0 && len(h.uses) == 0 && !s.wait(x.r.Context(), p.ds.stall) {
		s.abort(x)
	}
	return p.next(h), true
}

// answer sends the turn as a message, with its usage, and records it.
func (s *Server) answer(x *exchange, req *MessagesRequest, blocks []responseBlock, fault Fault) {
	blocks, cut := limitOutput(blocks, req.MaxTokens)
	stop := StopEndTurn
	switch {
	case cut:
		stop = StopMaxTokens
	case blocks[len(blocks)-1].Type == "tool_use":
		stop = StopToolUse
	}
	s.mu.Lock()
	usage := inputUsage(req.Model, promptSegments(x.body), s.cache)
	s.mu.Unlock()
	usage.OutputTokens = outputTokens(blocks)
	msg := message{
		ID:         newID("msg_01"),
		Type:       "message",
		Role:       "assistant",
		Model:      req.Model, // the CLIs price a turn by this ID
		Content:    blocks,
		StopReason: &stop,
		Usage:      usage,
	}
	s.setRateHeaders(x.w.Header(), usage.InputTokens+usage.CacheCreationInputTokens+usage.CacheReadInputTokens)
	s.countOutput(usage.OutputTokens)

	var delay time.Duration
	if fault.Kind == SlowStream {
		delay = fault.Delay
	}
	if req.Stream && fault.Kind == StreamOverloaded {
		if !s.stream(x, msg, delay, true) {
			s.abort(x)
		}
		// The client got no message, but message_start told it the input
		// usage (and one output token), which claude counts.
		s.update(x.i, func(r *Request) {
			r.Status = http.StatusOK
			r.ErrorType = "overloaded_error"
			r.Usage = usage
			r.Usage.OutputTokens = startOutputTokens
		})
		s.logf("anthropicemu: %s %s (%s) -> overloaded mid-stream", x.r.Method, x.r.URL.Path, x.rec.Kind)
		return
	}
	sent := false
	if req.Stream {
		sent = s.stream(x, msg, delay, false)
	} else {
		sent = s.reply(x, msg, delay)
	}
	if !sent {
		s.abort(x)
	}
	s.update(x.i, func(r *Request) {
		r.Status = http.StatusOK
		r.StopReason = stop
		r.Usage = usage
		for _, b := range blocks {
			if b.Type == "tool_use" {
				r.ToolUses = append(r.ToolUses, b.Name)
			} else {
				r.Text += b.Text
			}
		}
	})
	s.logf("anthropicemu: %s %s (%s, %s) -> %s", x.r.Method, x.r.URL.Path, x.rec.Kind, req.Model, stop)
}

// reply sends a whole message as JSON.
func (s *Server) reply(x *exchange, msg message, delay time.Duration) bool {
	if delay > 0 && !s.wait(x.r.Context(), delay) {
		return false
	}
	body := encode(msg)
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(http.StatusOK)
	_, err := x.w.Write(body)
	return err == nil
}

// countTokens answers POST /v1/messages/count_tokens with the input
// tokens a messages request with this body would report.
func (s *Server) countTokens(x *exchange) {
	req, ok := s.parse(x)
	if !ok {
		return
	}
	if e, ok := validateParams(req, false); !ok {
		s.fail(x, e)
		return
	}
	usage := inputUsage(req.Model, promptSegments(x.body), nil)
	s.setRateHeaders(x.w.Header(), 0)
	body := encode(map[string]int{"input_tokens": usage.InputTokens})
	x.w.Header().Set("Content-Type", "application/json")
	x.w.WriteHeader(http.StatusOK)
	_, _ = x.w.Write(body)
	s.update(x.i, func(r *Request) {
		r.Status = http.StatusOK
		r.Usage = usage
	})
}

// abort records a request whose answer was cut off (the client went away,
// or the emulator closed) and drops the connection. It does not return:
// returning would let net/http finish the response cleanly, as an empty
// 200 or a stream that ends as if complete.
func (s *Server) abort(x *exchange) {
	s.update(x.i, func(r *Request) { r.Aborted = true })
	s.logf("anthropicemu: %s %s: answer cut off", x.r.Method, x.r.URL.Path)
	panic(http.ErrAbortHandler)
}

// wait waits for d, and reports false when the client went away or the
// emulator closed first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// parse reads a messages or count_tokens body into the record, records
// the request, and answers it with the authentication or parse error if it
// has one.
func (s *Server) parse(x *exchange) (*MessagesRequest, bool) {
	req := &MessagesRequest{}
	err := json.Unmarshal(x.body, req)
	if err == nil {
		x.rec.Model, x.rec.Stream, x.rec.MaxTokens = req.Model, req.Stream, req.MaxTokens
		x.rec.Messages, x.rec.Body = len(req.Messages), req
		for _, t := range req.Tools {
			x.rec.Tools = append(x.rec.Tools, t.Name)
		}
		// A coding conversation offers tools; the CLIs' side requests
		// (titles, quota and topic checks) never do, whatever their
		// max_tokens.
		if x.rec.Kind == KindUnknown {
			x.rec.Kind = KindSide
			if len(offered(req.Tools)) > 0 {
				x.rec.Kind = KindMain
			}
		}
	}
	x.i = s.record(x.rec)
	x.rec.Seq = x.i + 1
	switch {
	case x.denied != nil:
		s.fail(x, *x.denied)
		return nil, false
	case err != nil:
		s.fail(x, invalidRequest("The request body is not valid JSON: "+err.Error()))
		return nil, false
	}
	return req, true
}

// validateParams checks what the API rejects with invalid_request_error,
// in its words, as far as the CLIs could get it wrong.
func validateParams(req *MessagesRequest, needMaxTokens bool) (apiError, bool) {
	switch {
	case req.Model == "":
		return invalidRequest("model: Field required"), false
	case needMaxTokens && req.MaxTokens == 0:
		return invalidRequest("max_tokens: Field required"), false
	case needMaxTokens && req.MaxTokens < 0:
		return invalidRequest("max_tokens: Input should be greater than or equal to 1"), false
	case len(req.Messages) == 0:
		return invalidRequest("messages: at least one message is required"), false
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "user", "assistant", "system":
		default:
			return invalidRequest(fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)), false
		}
	}
	for i, t := range req.Tools {
		if strings.TrimSpace(t.Name) == "" {
			return invalidRequest(fmt.Sprintf("tools.%d.name: Field required", i)), false
		}
	}
	return apiError{}, true
}
