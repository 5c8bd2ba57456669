package anthropicemu

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Sizes of the pieces the emulator streams text and tool input in: small
// enough that every reply takes several deltas, as a model's does.
const (
	textChunk = 24
	jsonChunk = 64
)

// errCutOff ends a slow stream whose wait was cut short.
var errCutOff = errors.New("the stream was cut off")

// startOutputTokens is the output count message_start reports, before the
// model has said anything: the API's is a small number, never zero.
const startOutputTokens = 1

// sse writes server-sent events, waiting delay before each event after
// the first.
type sse struct {
	s     *Server
	x     *exchange
	rc    *http.ResponseController
	delay time.Duration
	sent  int
	err   error
}

// event sends one event. After a failure (the client went, the emulator
// closed) it does nothing: err says why.
func (e *sse) event(name string, data any) {
	if e.err != nil {
		return
	}
	if e.sent > 0 && e.delay > 0 && !e.s.wait(e.x.r.Context(), e.delay) {
		e.err = errCutOff
		return
	}
	e.sent++
	if _, err := fmt.Fprintf(e.x.w, "event: %s\ndata: %s\n\n", name, encode(data)); err != nil {
		e.err = err
		return
	}
	e.err = e.rc.Flush()
}

// stream sends a message as the API streams it: message_start with the
// input usage and no content; for each block content_block_start, its
// deltas and content_block_stop (with a ping after the first block
// starts); message_delta with the stop reason and the cumulative usage;
// message_stop. overloaded breaks off after message_start with the error
// event the API sends when it runs out of capacity mid-stream.
func (s *Server) stream(x *exchange, msg message, delay time.Duration, overloaded bool) bool {
	h := x.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	x.w.WriteHeader(http.StatusOK)
	e := &sse{s: s, x: x, rc: http.NewResponseController(x.w), delay: delay}

	start := msg
	start.Content = []responseBlock{}
	start.StopReason = nil
	start.Usage.OutputTokens = startOutputTokens
	e.event("message_start", messageStart{Type: "message_start", Message: start})
	if overloaded {
		var b errorBody
		b.Type = "error"
		b.Error.Type = "overloaded_error"
		b.Error.Message = "Overloaded"
		b.RequestID = x.reqID
		e.event("error", b)
		return e.err == nil
	}
	for i, b := range msg.Content {
		opening := b
		opening.Text = ""
		opening.Input = nil
		e.event("content_block_start", blockStart{Type: "content_block_start", Index: i, ContentBlock: opening})
		if i == 0 {
			e.event("ping", typeOnly{Type: "ping"})
		}
		for _, d := range deltas(b) {
			e.event("content_block_delta", blockDelta{Type: "content_block_delta", Index: i, Delta: d})
		}
		e.event("content_block_stop", blockStop{Type: "content_block_stop", Index: i})
	}
	md := messageDelta{Type: "message_delta", Usage: msg.Usage}
	md.Delta.StopReason = msg.StopReason
	e.event("message_delta", md)
	e.event("message_stop", typeOnly{Type: "message_stop"})
	return e.err == nil
}

// The stream's events, with their fields in the API's order.
type (
	typeOnly struct {
		Type string `json:"type"`
	}
	messageStart struct {
		Type    string  `json:"type"`
		Message message `json:"message"`
	}
	blockStart struct {
		Type         string        `json:"type"`
		Index        int           `json:"index"`
		ContentBlock responseBlock `json:"content_block"`
	}
	blockDelta struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
		Delta delta  `json:"delta"`
	}
	blockStop struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	messageDelta struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   *string `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		// Usage is cumulative: the whole message's.
		Usage Usage `json:"usage"`
	}
)

// delta is a content_block_delta's delta.
type delta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
}

// deltas splits a block into its stream deltas: text in pieces that end
// after a space where one is near, tool input as JSON text in pieces
// (the API's first one is empty).
func deltas(b responseBlock) []delta {
	if b.Type == "tool_use" {
		input := string(b.Input)
		if input == "" {
			input = "{}"
		}
		out := []delta{{Type: "input_json_delta", PartialJSON: ptr("")}}
		for _, p := range pieces(input, jsonChunk, false) {
			out = append(out, delta{Type: "input_json_delta", PartialJSON: ptr(p)})
		}
		return out
	}
	var out []delta
	for _, p := range pieces(b.Text, textChunk, true) {
		out = append(out, delta{Type: "text_delta", Text: ptr(p)})
	}
	if len(out) == 0 {
		out = append(out, delta{Type: "text_delta", Text: ptr("")})
	}
	return out
}

// pieces cuts s into pieces of about size bytes, never inside a
// character; atSpace prefers to cut after a space.
func pieces(s string, size int, atSpace bool) []string {
	var out []string
	for len(s) > size {
		n := size
		if atSpace {
			if i := strings.LastIndexByte(s[:size], ' '); i > 0 {
				n = i + 1
			}
		}
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if n == 0 {
			_, n = utf8.DecodeRuneInString(s)
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
