package anthropicemu_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/boshu2/gastown-operator/test/anthropicemu"
)

const (
	testModel = "claude-sonnet-5-5"
	workDir   = "/work/repo"
	beadTask  = "# Add a health endpoint (bead gt-1)\n\nServe /healthz.\n\n## Rules\n\n- Be brief.\n"
)

// The tools as claude offers them (the parts the emulator reads).
var (
	writeTool = map[string]any{"name": "Write", "description": "Write a file", "input_schema": map[string]any{
		"type":       "object",
		"properties": map[string]any{"file_path": map[string]any{"type": "string"}, "content": map[string]any{"type": "string"}},
		"required":   []string{"file_path", "content"},
	}}
	bashTool = map[string]any{"name": "Bash", "description": "Run a command", "input_schema": map[string]any{
		"type":       "object",
		"properties": map[string]any{"command": map[string]any{"type": "string"}, "description": map[string]any{"type": "string"}},
		"required":   []string{"command"},
	}}
)

func userText(text string) map[string]any {
	return map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": text}}}
}

// codingRequest is a main conversation request with claude's shape: the
// working directory in the system prompt, the Write and Bash tools.
func codingRequest(stream bool, messages ...map[string]any) map[string]any {
	return map[string]any{
		"model":      testModel,
		"max_tokens": 32000,
		"stream":     stream,
		"system":     []any{map[string]any{"type": "text", "text": "You are a coding agent.\n - Primary working directory: " + workDir + "\n"}},
		"tools":      []any{writeTool, bashTool},
		"messages":   messages,
	}
}

// post sends a request with the test key (or the given headers) and reads
// the whole answer.
func post(t *testing.T, emu *anthropicemu.Server, path string, body any, header ...string) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, http.MethodPost, emu.URL()+path, bytes.NewReader(b), header...)
}

func send(t *testing.T, method, url string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	if len(header) == 0 {
		header = []string{"x-api-key", testKey}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

type event struct {
	name string
	data map[string]any
}

// parseSSE reads a server-sent event stream. Every event must have a name
// and JSON data whose type is the name, as the API's do.
func parseSSE(t *testing.T, body []byte) []event {
	t.Helper()
	var events []event
	var cur event
	s := bufio.NewScanner(bytes.NewReader(body))
	for s.Scan() {
		line := s.Text()
		switch {
		case line == "":
			if cur.name != "" {
				events = append(events, cur)
			}
			cur = event{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				t.Fatalf("event %s: %v", cur.name, err)
			}
		default:
			t.Fatalf("unexpected line in the stream: %q", line)
		}
	}
	for _, e := range events {
		if e.data["type"] != e.name {
			t.Fatalf("event %s has data of type %v", e.name, e.data["type"])
		}
	}
	return events
}

// names are the events' names, with runs of one name (the deltas) as one.
func names(events []event) []string {
	var out []string
	for _, e := range events {
		if len(out) == 0 || out[len(out)-1] != e.name {
			out = append(out, e.name)
		}
	}
	return out
}

// assemble joins a stream's deltas into the message's content blocks.
func assemble(events []event) []map[string]any {
	var blocks []map[string]any
	var partial []string
	for _, e := range events {
		switch e.name {
		case "content_block_start":
			blocks = append(blocks, e.data["content_block"].(map[string]any))
			partial = append(partial, "")
		case "content_block_delta":
			i := int(e.data["index"].(float64))
			d := e.data["delta"].(map[string]any)
			switch d["type"] {
			case "text_delta":
				blocks[i]["text"] = blocks[i]["text"].(string) + d["text"].(string)
			case "input_json_delta":
				partial[i] += d["partial_json"].(string)
			}
		case "content_block_stop":
			i := int(e.data["index"].(float64))
			if blocks[i]["type"] == "tool_use" {
				var input map[string]any
				if err := json.Unmarshal([]byte(partial[i]), &input); err != nil {
					panic("tool input does not assemble: " + err.Error())
				}
				blocks[i]["input"] = input
			}
		}
	}
	return blocks
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

var wantBeadFile = "# gt-1: Add a health endpoint\n\nDone through the Anthropic API emulator.\n\n## Task\n\n> Serve /healthz.\n"

func TestStreamedToolTurn(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{APIKey: testKey})
	resp, body := post(t, emu, "/v1/messages?beta=true", codingRequest(true, userText(beadTask)))

	g.Expect(resp.StatusCode).To(Equal(200))
	g.Expect(resp.Header.Get("Content-Type")).To(HavePrefix("text/event-stream"))
	g.Expect(resp.Header.Get("request-id")).To(MatchRegexp(`^req_011C[0-9A-Za-z]{22}$`))
	g.Expect(resp.Header.Get("anthropic-ratelimit-requests-limit")).To(Equal("4000"))
	g.Expect(resp.Header.Get("anthropic-ratelimit-requests-remaining")).To(Equal("3999"))
	g.Expect(resp.Header.Get("anthropic-ratelimit-input-tokens-reset")).NotTo(BeEmpty())

	events := parseSSE(t, body)
	g.Expect(names(events)).To(Equal([]string{
		"message_start",
		"content_block_start", "ping", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop",
	}))

	start := events[0].data["message"].(map[string]any)
	g.Expect(start["id"]).To(MatchRegexp(`^msg_01[0-9A-Za-z]{22}$`))
	g.Expect(start).To(And(HaveKeyWithValue("type", "message"), HaveKeyWithValue("role", "assistant"),
		HaveKeyWithValue("model", testModel), HaveKeyWithValue("content", BeEmpty()),
		HaveKeyWithValue("stop_reason", BeNil()), HaveKeyWithValue("stop_sequence", BeNil())))
	startUsage := start["usage"].(map[string]any)
	g.Expect(startUsage).To(And(HaveKeyWithValue("input_tokens", BeNumerically(">", 100)),
		HaveKeyWithValue("output_tokens", BeNumerically("==", 1)),
		HaveKeyWithValue("cache_creation_input_tokens", BeNumerically("==", 0)),
		HaveKeyWithValue("cache_read_input_tokens", BeNumerically("==", 0))))

	g.Expect(events[1].data["content_block"]).To(Equal(map[string]any{"type": "text", "text": ""}))
	var toolStart, firstJSON map[string]any
	for _, e := range events {
		if e.name == "content_block_start" && e.data["index"].(float64) == 1 {
			toolStart = e.data["content_block"].(map[string]any)
		}
		if d, ok := e.data["delta"].(map[string]any); ok && d["type"] == "input_json_delta" && firstJSON == nil {
			firstJSON = d
		}
	}
	g.Expect(toolStart).To(And(HaveKeyWithValue("type", "tool_use"), HaveKeyWithValue("name", "Write"),
		HaveKeyWithValue("id", MatchRegexp(`^toolu_01[0-9A-Za-z]{22}$`)), HaveKeyWithValue("input", BeEmpty())))
	g.Expect(firstJSON).To(HaveKeyWithValue("partial_json", ""), "the API's first input delta is empty")

	blocks := assemble(events)
	g.Expect(blocks[0]["text"]).To(Equal("I'll write changes/gt-1.md."))
	g.Expect(blocks[1]["input"]).To(Equal(map[string]any{
		"file_path": workDir + "/changes/gt-1.md",
		"content":   wantBeadFile,
	}))

	md := events[len(events)-2].data
	g.Expect(md["delta"]).To(Equal(map[string]any{"stop_reason": "tool_use", "stop_sequence": nil}))
	usage := md["usage"].(map[string]any)
	g.Expect(usage["input_tokens"]).To(Equal(startUsage["input_tokens"]))
	g.Expect(usage["output_tokens"]).To(BeNumerically(">", 10))

	reqs := emu.Requests()
	g.Expect(reqs).To(HaveLen(1))
	g.Expect(reqs[0].Usage.OutputTokens).To(BeNumerically("==", usage["output_tokens"]))
}

// The same request answered as JSON: the same content and usage, in the
// API's message shape; and the same again, since a conversation is
// stateless.
func TestJSONTurnMatchesStream(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	_, streamed := post(t, emu, "/v1/messages", codingRequest(true, userText(beadTask)))
	resp, body := post(t, emu, "/v1/messages", codingRequest(false, userText(beadTask)))
	_, again := post(t, emu, "/v1/messages", codingRequest(false, userText(beadTask)))

	g.Expect(resp.StatusCode).To(Equal(200))
	g.Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
	msg := decode(t, body)
	g.Expect(msg).To(HaveKeyWithValue("id", MatchRegexp(`^msg_01`)))
	g.Expect(msg).To(And(HaveKeyWithValue("type", "message"), HaveKeyWithValue("role", "assistant"),
		HaveKeyWithValue("model", testModel), HaveKeyWithValue("stop_reason", "tool_use"),
		HaveKeyWithValue("stop_sequence", BeNil())))
	g.Expect(msg["usage"]).To(HaveKeyWithValue("service_tier", "standard"))

	events := parseSSE(t, streamed)
	content := msg["content"].([]any)
	blocks := assemble(events)
	g.Expect(content).To(HaveLen(len(blocks)))
	for i := range blocks {
		got := content[i].(map[string]any)
		if got["type"] == "tool_use" {
			delete(got, "id")
			delete(blocks[i], "id")
		}
		g.Expect(got).To(Equal(blocks[i]))
	}
	g.Expect(msg["usage"]).To(Equal(events[len(events)-2].data["usage"]), "the stream's final usage")

	other := decode(t, again)
	g.Expect(other["usage"]).To(Equal(msg["usage"]), "the same request, the same figures")
	g.Expect(other["id"]).NotTo(Equal(msg["id"]))
}

// toolTurn is the assistant turn the emulator answered, as a client sends
// it back.
func toolTurn(t *testing.T, emu *anthropicemu.Server, messages ...map[string]any) (map[string]any, string) {
	t.Helper()
	_, body := post(t, emu, "/v1/messages", codingRequest(false, messages...))
	msg := decode(t, body)
	var id string
	for _, b := range msg["content"].([]any) {
		if b := b.(map[string]any); b["type"] == "tool_use" {
			id = b["id"].(string)
		}
	}
	if id == "" {
		t.Fatalf("no tool call in %s", body)
	}
	return map[string]any{"role": "assistant", "content": msg["content"]}, id
}

func toolResult(id string, content any, isError bool) map[string]any {
	return map[string]any{"role": "user", "content": []any{map[string]any{
		"type": "tool_result", "tool_use_id": id, "content": content, "is_error": isError,
	}}}
}

// After the tool results the script ends with a summary, naming what the
// commands printed and what failed.
func TestConversationEndsWithSummary(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	task := userText(strings.Replace(beadTask, "Serve /healthz.", "Serve /healthz.\nanthropic-emu: bash ls /", 1))

	write, writeID := toolTurn(t, emu, task)
	history := []map[string]any{task, write, toolResult(writeID, "File created successfully", false)}
	bash, bashID := toolTurn(t, emu, history...)
	g.Expect(bash["content"]).To(ContainElement(HaveKeyWithValue("input",
		map[string]any{"command": "ls /", "description": "Run the command the task gives"})))
	history = append(history, bash, toolResult(bashID, []any{map[string]any{"type": "text", "text": "bin\netc\n"}}, false))

	_, body := post(t, emu, "/v1/messages", codingRequest(false, history...))
	msg := decode(t, body)
	g.Expect(msg["stop_reason"]).To(Equal("end_turn"))
	g.Expect(msg["content"]).To(Equal([]any{map[string]any{"type": "text", "text": "Did bead gt-1 (Add a health endpoint): " +
		"wrote changes/gt-1.md, ran `ls /`.\n\n`ls /` printed:\n```\nbin\netc\n```"}}))

	// A failed call is reported.
	history[2] = toolResult(writeID, "Permission denied", true)
	_, body = post(t, emu, "/v1/messages", codingRequest(false, history...))
	g.Expect(decode(t, body)["content"]).To(ContainElement(HaveKeyWithValue("text",
		ContainSubstring("The call that wrote changes/gt-1.md failed: Permission denied"))))
}

// A request without tools is a side request: a short answer, a title when
// asked for one, cut at max_tokens like any answer.
func TestSideRequests(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	title := map[string]any{
		"model": testModel, "max_tokens": 32000, "stream": false,
		"system":   "You are a title generator. You output ONLY a thread title.",
		"messages": []any{map[string]any{"role": "user", "content": "Generate a title for this conversation:\n\"" + beadTask + "\""}},
	}
	_, body := post(t, emu, "/v1/messages", title)
	g.Expect(decode(t, body)["content"]).To(Equal([]any{map[string]any{"type": "text", "text": "Add a health endpoint"}}))

	title["max_tokens"] = 1
	_, body = post(t, emu, "/v1/messages", title)
	msg := decode(t, body)
	g.Expect(msg["stop_reason"]).To(Equal("max_tokens"))
	g.Expect(msg["content"]).To(Equal([]any{map[string]any{"type": "text", "text": "Add "}}))
	g.Expect(msg["usage"]).To(HaveKeyWithValue("output_tokens", BeNumerically("==", 1)))

	quota := map[string]any{"model": "claude-haiku-5-5", "max_tokens": 1, "messages": []any{map[string]any{"role": "user", "content": "quota"}}}
	_, body = post(t, emu, "/v1/messages", quota)
	g.Expect(decode(t, body)["model"]).To(Equal("claude-haiku-5-5"))

	g.Expect(emu.Counts()).To(Equal(map[anthropicemu.Kind]int{anthropicemu.KindSide: 3}))
}

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name    string
		key     string // the emulator's
		header  []string
		status  int
		message string
	}{
		{"no key", testKey, []string{"anthropic-version", "2023-06-01"}, 401, "x-api-key header is required"},
		{"wrong x-api-key", testKey, []string{"x-api-key", "sk-wrong"}, 401, "invalid x-api-key"},
		{"wrong bearer", testKey, []string{"Authorization", "Bearer sk-wrong"}, 401, "invalid bearer token"},
		{"x-api-key", testKey, []string{"x-api-key", testKey}, 200, ""},
		{"bearer", testKey, []string{"Authorization", "Bearer " + testKey}, 200, ""},
		{"any key", "", []string{"x-api-key", "anything"}, 200, ""},
		{"any key, but one", "", []string{"Authorization", "Basic eDp5"}, 401, "x-api-key header is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			emu := startEmulator(t, anthropicemu.Options{APIKey: tt.key})
			resp, body := post(t, emu, "/v1/messages", codingRequest(false, userText(beadTask)), tt.header...)
			g.Expect(resp.StatusCode).To(Equal(tt.status))
			if tt.status != 401 {
				return
			}
			g.Expect(decode(t, body)).To(Equal(map[string]any{
				"type":       "error",
				"error":      map[string]any{"type": "authentication_error", "message": tt.message},
				"request_id": resp.Header.Get("request-id"),
			}))
			g.Expect(string(body)).NotTo(ContainSubstring(testKey))
			g.Expect(emu.Requests()[0].Kind).To(Equal(anthropicemu.KindMain), "recorded for what it was")
		})
	}
}

func TestAPIErrors(t *testing.T) {
	emu := startEmulator(t, anthropicemu.Options{})
	valid := codingRequest(false, userText(beadTask))
	without := func(key string) map[string]any {
		r := map[string]any{}
		for k, v := range valid {
			if k != key {
				r[k] = v
			}
		}
		return r
	}
	badRole := codingRequest(false, map[string]any{"role": "robot", "content": "hi"})
	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
		errType      string
		message      string
	}{
		{"unknown path", "GET", "/v1/models", nil, 404, "not_found_error", "Not Found"},
		{"wrong method", "GET", "/v1/messages", nil, 404, "not_found_error", "Not Found"},
		{"not JSON", "POST", "/v1/messages", "{", 400, "invalid_request_error", "The request body is not valid JSON"},
		{"no model", "POST", "/v1/messages", without("model"), 400, "invalid_request_error", "model: Field required"},
		{"no max_tokens", "POST", "/v1/messages", without("max_tokens"), 400, "invalid_request_error", "max_tokens: Field required"},
		{"no messages", "POST", "/v1/messages", without("messages"), 400, "invalid_request_error", "messages: at least one message is required"},
		{"bad role", "POST", "/v1/messages", badRole, 400, "invalid_request_error", "messages.0.role"},
		{"fail directive", "POST", "/v1/messages", codingRequest(true, userText(beadTask+"anthropic-emu: fail 529\n")),
			529, "overloaded_error", "the task asks the emulator to fail with 529"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			var body io.Reader
			switch b := tt.body.(type) {
			case nil:
			case string:
				body = strings.NewReader(b)
			default:
				j, _ := json.Marshal(b)
				body = bytes.NewReader(j)
			}
			resp, out := send(t, tt.method, emu.URL()+tt.path, body)
			g.Expect(resp.StatusCode).To(Equal(tt.status))
			g.Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
			e := decode(t, out)
			g.Expect(e).To(HaveKeyWithValue("type", "error"))
			g.Expect(e).To(HaveKeyWithValue("request_id", resp.Header.Get("request-id")))
			g.Expect(e["error"]).To(And(HaveKeyWithValue("type", tt.errType), HaveKeyWithValue("message", ContainSubstring(tt.message))))
		})
	}
}

// count_tokens counts as the messages answer does; claude's connectivity
// check is answered.
func TestCountTokensAndHello(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	req := codingRequest(false, userText(beadTask))
	delete(req, "max_tokens")
	_, body := post(t, emu, "/v1/messages/count_tokens", req)
	count := decode(t, body)
	req["max_tokens"] = 100
	_, body = post(t, emu, "/v1/messages", req)
	g.Expect(count).To(Equal(map[string]any{"input_tokens": decode(t, body)["usage"].(map[string]any)["input_tokens"]}))

	resp, _ := send(t, http.MethodHead, emu.URL()+"/api/hello", nil, "User-Agent", "claude-cli")
	g.Expect(resp.StatusCode).To(Equal(200))
	g.Expect(emu.Counts()).To(Equal(map[anthropicemu.Kind]int{
		anthropicemu.KindCountTokens: 1, anthropicemu.KindMain: 1, anthropicemu.KindHello: 1,
	}))
}

func TestFaults(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.Overloaded, Times: 2, RetryAfter: 1500 * time.Millisecond})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.RateLimited})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.ServerError, Match: func(r anthropicemu.Request) bool {
		return r.Kind == anthropicemu.KindSide
	}})
	main := codingRequest(false, userText(beadTask))
	side := map[string]any{"model": testModel, "max_tokens": 10, "messages": []any{userText("hi")}}

	type answer struct {
		status                         int
		errType, retryHdr, shouldRetry string
	}
	var got []answer
	for _, body := range []any{main, side, main, main, main, side} {
		resp, out := post(t, emu, "/v1/messages", body)
		a := answer{status: resp.StatusCode, retryHdr: resp.Header.Get("retry-after"), shouldRetry: resp.Header.Get("x-should-retry")}
		if resp.StatusCode != 200 {
			a.errType = decode(t, out)["error"].(map[string]any)["type"].(string)
		}
		got = append(got, a)
	}
	g.Expect(got).To(Equal([]answer{
		{status: 529, errType: "overloaded_error", retryHdr: "2", shouldRetry: "true"},
		{status: 500, errType: "api_error", shouldRetry: "true"},
		{status: 529, errType: "overloaded_error", retryHdr: "2", shouldRetry: "true"},
		{status: 429, errType: "rate_limit_error", retryHdr: "1", shouldRetry: "true"},
		{status: 200},
		{status: 200},
	}))
	reqs := emu.Requests()
	g.Expect(reqs[0].Fault).To(Equal(anthropicemu.Overloaded))
	g.Expect(reqs[3].Fault).To(Equal(anthropicemu.RateLimited))
	g.Expect(reqs[4].Fault).To(BeZero())

	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.ServerError, Times: anthropicemu.Always})
	for range 3 {
		resp, _ := post(t, emu, "/v1/messages", main)
		g.Expect(resp.StatusCode).To(Equal(500))
	}
	emu.ClearFaults()
	resp, _ := post(t, emu, "/v1/messages", main)
	g.Expect(resp.StatusCode).To(Equal(200))
}

// A stream broken off by overload: message_start, then the API's error
// event.
func TestStreamOverloaded(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.StreamOverloaded})
	resp, body := post(t, emu, "/v1/messages", codingRequest(true, userText(beadTask)))
	g.Expect(resp.StatusCode).To(Equal(200))
	events := parseSSE(t, body)
	g.Expect(names(events)).To(Equal([]string{"message_start", "error"}))
	g.Expect(events[1].data["error"]).To(Equal(map[string]any{"type": "overloaded_error", "message": "Overloaded"}))
	start := events[0].data["message"].(map[string]any)["usage"].(map[string]any)
	u := emu.Usage(anthropicemu.KindMain)
	g.Expect(u.InputTokens).To(BeNumerically("==", start["input_tokens"]), "message_start reported the input")
	g.Expect(u.OutputTokens).To(Equal(1))
}

// A slow stream spaces its events by the delay (measured, not slept on).
func TestSlowStream(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	const delay = 20 * time.Millisecond
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.SlowStream, Delay: delay})
	start := time.Now()
	_, body := post(t, emu, "/v1/messages", codingRequest(true, userText(beadTask)))
	elapsed := time.Since(start)
	events := parseSSE(t, body)
	g.Expect(names(events)).To(HaveLen(10), "a whole answer")
	g.Expect(elapsed).To(BeNumerically(">=", time.Duration(len(events)-1)*delay))
	g.Expect(emu.Requests()[0].Fault).To(Equal(anthropicemu.SlowStream))
}

func stalledTask() map[string]any {
	return codingRequest(true, userText(beadTask+"anthropic-emu: stall 1h\n"))
}

func pending(reqs []anthropicemu.Request) bool {
	return len(reqs) == 1 && reqs[0].Status == 0 && !reqs[0].Aborted
}

// A stall sends nothing and ends as soon as the client goes.
func TestStallEndsWhenTheClientGoes(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reqCtx, hangUp := context.WithCancel(ctx)
	b, _ := json.Marshal(stalledTask())
	req, _ := http.NewRequestWithContext(reqCtx, http.MethodPost, emu.URL()+"/v1/messages", bytes.NewReader(b))
	req.Header.Set("x-api-key", testKey)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()

	g.Expect(emu.WaitFor(ctx, pending)).To(Succeed())
	hangUp()
	g.Expect(<-done).To(MatchError(context.Canceled), "no headers came before the client gave up")
	g.Expect(emu.WaitFor(ctx, func(reqs []anthropicemu.Request) bool { return reqs[0].Aborted })).To(Succeed())
}

// Close ends a stall rather than waiting for it.
func TestCloseEndsAStall(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		b, _ := json.Marshal(stalledTask())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, emu.URL()+"/v1/messages", bytes.NewReader(b))
		req.Header.Set("x-api-key", testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	g.Expect(emu.WaitFor(ctx, pending)).To(Succeed())
	emu.Close()
	g.Expect(<-done).To(Equal(0), "the connection closed without an answer")
	g.Expect(emu.Requests()[0].Aborted).To(BeTrue())
}

// With prompt caching a conversation's next turn reads what the last one
// cached; without, every request is all input.
func TestPromptCaching(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("Context the agent needs. ", 400) // over the 1024-token minimum
	cached := func(messages ...map[string]any) map[string]any {
		r := codingRequest(false, messages...)
		r["system"] = []any{map[string]any{"type": "text", "text": long + "\n - Primary working directory: " + workDir,
			"cache_control": map[string]any{"type": "ephemeral"}}}
		return r
	}
	usage := func(emu *anthropicemu.Server, body map[string]any) map[string]any {
		_, out := post(t, emu, "/v1/messages", body)
		return decode(t, out)["usage"].(map[string]any)
	}

	emu := startEmulator(t, anthropicemu.Options{PromptCaching: true})
	first := usage(emu, cached(userText(beadTask)))
	g.Expect(first["cache_creation_input_tokens"]).To(BeNumerically(">", 1024))
	g.Expect(first["cache_read_input_tokens"]).To(BeNumerically("==", 0))
	g.Expect(first["cache_creation"]).To(HaveKeyWithValue("ephemeral_5m_input_tokens", first["cache_creation_input_tokens"]))
	second := usage(emu, cached(userText(beadTask)))
	g.Expect(second["cache_read_input_tokens"]).To(Equal(first["cache_creation_input_tokens"]))
	g.Expect(second["cache_creation_input_tokens"]).To(BeNumerically("==", 0))
	g.Expect(second["input_tokens"]).To(Equal(first["input_tokens"]))

	plain := startEmulator(t, anthropicemu.Options{})
	all := usage(plain, cached(userText(beadTask)))
	g.Expect(all["cache_creation_input_tokens"]).To(BeNumerically("==", 0))
	g.Expect(all["input_tokens"]).To(BeNumerically("==",
		first["input_tokens"].(float64)+first["cache_creation_input_tokens"].(float64)))
}

// The record keeps what a test asks about, without the credentials.
func TestRequestRecord(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	post(t, emu, "/v1/messages?beta=true", codingRequest(true, userText(beadTask)), "Authorization", "Bearer "+testKey, "anthropic-beta", "x-1")

	reqs := emu.Requests()
	g.Expect(reqs).To(HaveLen(1))
	r := reqs[0]
	g.Expect(r.Seq).To(Equal(1))
	g.Expect(r.Method).To(Equal("POST"))
	g.Expect(r.Path).To(Equal("/v1/messages"))
	g.Expect(r.RawQuery).To(Equal("beta=true"))
	g.Expect(r.Header.Get("Authorization")).To(Equal("REDACTED"))
	g.Expect(r.Header.Get("Anthropic-Beta")).To(Equal("x-1"))
	g.Expect(r.Kind).To(Equal(anthropicemu.KindMain))
	g.Expect(r.Model).To(Equal(testModel))
	g.Expect(r.Stream).To(BeTrue())
	g.Expect(r.MaxTokens).To(Equal(32000))
	g.Expect(r.Tools).To(Equal([]string{"Write", "Bash"}))
	g.Expect(r.Messages).To(Equal(1))
	g.Expect(r.Body.Messages[0].Content.Text()).To(Equal(beadTask))
	g.Expect(r.Status).To(Equal(200))
	g.Expect(r.StopReason).To(Equal("tool_use"))
	g.Expect(r.ToolUses).To(Equal([]string{"Write"}))
	g.Expect(r.Text).To(Equal("I'll write changes/gt-1.md."))
	g.Expect(emu.Usage(anthropicemu.KindMain)).To(Equal(r.Usage))
}
