package polecat

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// claudeStream is the shape of `claude -p --output-format stream-json
// --verbose` output: an init event, messages, and the result last.
const claudeStream = `{"type":"system","subtype":"init","cwd":"/workspace/repo","session_id":"9b1c6f0e-2b7e-4c55-a1d2-0c3a5e7f9d11","tools":["Task","Bash","Glob","Grep","Read","Edit","Write"],"mcp_servers":[],"model":"claude-sonnet-4-5-20250929","permissionMode":"bypassPermissions","apiKeySource":"ANTHROPIC_API_KEY"}
{"type":"assistant","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"I'll add the endpoint. The log says {\"type\":\"result\"} here."}],"stop_reason":null,"usage":{"input_tokens":4,"output_tokens":12}},"parent_tool_use_id":null,"session_id":"9b1c6f0e-2b7e-4c55-a1d2-0c3a5e7f9d11"}
{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_01","type":"tool_result","content":"ok"}]},"parent_tool_use_id":null,"session_id":"9b1c6f0e-2b7e-4c55-a1d2-0c3a5e7f9d11"}
{"type":"result","subtype":"success","is_error":false,"duration_ms":45213,"duration_api_ms":40123,"num_turns":7,"result":"Added GET /health returning {\"status\":\"ok\"} and a test.","session_id":"9b1c6f0e-2b7e-4c55-a1d2-0c3a5e7f9d11","total_cost_usd":0.0835216,"usage":{"input_tokens":21,"cache_creation_input_tokens":11012,"cache_read_input_tokens":95530,"output_tokens":1710,"server_tool_use":{"web_search_requests":0},"service_tier":"standard"},"permission_denials":[],"uuid":"5f0c3c1e-8d0a-4e4b-9f51-1f2e3d4c5b6a"}
`

// claudeJSON is `claude -p --output-format json` output, indented.
const claudeJSON = `{
  "type": "result",
  "subtype": "success",
  "is_error": false,
  "duration_ms": 12000,
  "num_turns": 3,
  "result": "Done.",
  "session_id": "s",
  "total_cost_usd": 0.01,
  "usage": {"input_tokens": 9, "output_tokens": 99}
}`

const claudeMaxTurns = `{"type":"system","subtype":"init"}
{"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":300000,"num_turns":51,"session_id":"s","total_cost_usd":2.4,"usage":{"input_tokens":300,"output_tokens":9000}}
`

// claudeAPIError is what claude 2.1.328 printed (trimmed) when the API
// answered 401: an API error is subtype "success" with is_error set.
const claudeAPIError = `{"type":"system","subtype":"init"}
{"duration_api_ms":0,"stop_reason":"stop_sequence","session_id":"s","total_cost_usd":0,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0},"modelUsage":{},"permission_denials":[],"terminal_reason":"api_error","is_error":true,"num_turns":1,"subtype":"success","api_error_status":401,"api_error_type":"authentication_error","result":"Invalid API key · Fix external API key","type":"result","duration_ms":169}
`

// claudeVerboseJSON is the shape of `claude -p --output-format json
// --verbose` output: one line, an array of every event, the result last
// (with its type member near its end, as claude writes it).
const claudeVerboseJSON = `[{"type":"system","subtype":"init","cwd":"/w"},{"type":"assistant","message":{"content":[{"type":"text","text":"Say {\"type\":\"result\"}."}],"usage":{"input_tokens":1}}},{"type":"user","message":{"content":[{"type":"tool_result","content":"ok"}]}},{"duration_api_ms":468,"total_cost_usd":0.06519660000000001,"usage":{"input_tokens":2,"cache_creation_input_tokens":12318,"cache_read_input_tokens":12193,"output_tokens":58},"modelUsage":{"claude-opus-5-5":{"inputTokens":2,"costUSD":0.06519660000000001}},"terminal_reason":"completed","is_error":false,"num_turns":2,"subtype":"success","result":"Did bead oc-1.","type":"result","duration_ms":800}]
`

// opencodeRun is `opencode run --format json` output (opencode 1.18.33
// against the emulator with prompt caching; ids left out): three steps,
// a text before each tool call, the summary last.
const opencodeRun = `{"type":"step_start","timestamp":1796116702498,"part":{"type":"step-start"}}
{"type":"text","timestamp":1796116702498,"part":{"type":"text","text":"I'll write changes/oc-7.md.","time":{"start":1796116702417,"end":1796116702432}}}
{"type":"tool_use","timestamp":1796116702587,"part":{"type":"tool","tool":"write","state":{"status":"completed","input":{"filePath":"/w/changes/oc-7.md","content":"# oc-7\n"},"output":"Wrote file successfully."}}}
{"type":"step_finish","timestamp":1796116702587,"part":{"reason":"tool-calls","type":"step-finish","tokens":{"total":7634,"input":1,"output":49,"reasoning":0,"cache":{"write":7584,"read":0}},"cost":0.029178}}
{"type":"step_start","timestamp":1796116702701,"part":{"type":"step-start"}}
{"type":"text","timestamp":1796116702702,"part":{"type":"text","text":"I'll run ` + "`echo probe is $((40+2))`" + `.","time":{"start":1796116702663,"end":1796116702666}}}
{"type":"tool_use","timestamp":1796116702900,"part":{"type":"tool","tool":"bash","state":{"status":"completed","input":{"command":"echo probe is $((40+2))"},"output":"probe is 42\n"}}}
{"type":"step_finish","timestamp":1796116702901,"part":{"reason":"tool-calls","type":"step-finish","tokens":{"total":7705,"input":1,"output":19,"reasoning":0,"cache":{"write":101,"read":7584}},"cost":0.00294195}}
{"type":"step_start","timestamp":1796116703018,"part":{"type":"step-start"}}
{"type":"text","timestamp":1796116703020,"part":{"type":"text","text":"Did bead oc-7 (Add a probe).\n\nprobe is 42\n","time":{"start":1796116702958,"end":1796116702974}}}
{"type":"step_finish","timestamp":1796116703020,"part":{"reason":"stop","type":"step-finish","tokens":{"total":7788,"input":1,"output":35,"reasoning":0,"cache":{"write":68,"read":7684}},"cost":0.0030882}}
`

// opencodeAPIError is opencode's output when the API answered 404 (its
// anthropic provider's base URL without /v1): one error event, exit code 1.
const opencodeAPIError = `{"type":"error","timestamp":1796116225063,"sessionID":"ses_1","error":{"name":"APIError","data":{"message":"Not Found: {\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"Not Found\"}}","statusCode":404,"isRetryable":false,"metadata":{"url":"http://127.0.0.1:46733/messages"}}}}
`

const aiderOutput = `Aider v0.86.1
Main model: anthropic/claude-sonnet-4-5 with diff edit format
Git repo: .git with 12 files
Repo-map: using 4096 tokens, auto refresh

I'll add the endpoint.
main.go
Tokens: 2.3k sent, 120 received. Cost: $0.0083 message, $0.0083 session.
Applied edit to main.go
Tokens: 12k sent, 3.2k cache write, 1.1k received. Cost: $0.05 message, $0.06 session.
`

func TestParseOutput(t *testing.T) {
	tests := []struct {
		name  string
		agent gastownv1.AgentType
		out   string
		want  Figures
	}{
		{
			name:  "claude-code stream-json",
			agent: gastownv1.AgentClaudeCode,
			out:   claudeStream,
			// Input: 21 uncached, 11012 written to the cache, 95530 read
			// from it.
			want: Figures{CostUSD: "0.0835216", InputTokens: 106563, OutputTokens: 1710, Turns: 7,
				Summary: `Added GET /health returning {"status":"ok"} and a test.`},
		},
		{
			name:  "claude-code json --verbose: an array of events",
			agent: gastownv1.AgentClaudeCode,
			out:   claudeVerboseJSON,
			want:  Figures{CostUSD: "0.0651966", InputTokens: 24513, OutputTokens: 58, Turns: 2, Summary: "Did bead oc-1."},
		},
		{
			// The runner keeps the last MiB of output: a long conversation's
			// array loses its head.
			name:  "claude-code json --verbose cut at the front",
			agent: gastownv1.AgentClaudeCode,
			out:   claudeVerboseJSON[len(`[{"type":"system","subtype":"init","cwd":"/w"},{"type":"assis`):],
			want:  Figures{CostUSD: "0.0651966", InputTokens: 24513, OutputTokens: 58, Turns: 2, Summary: "Did bead oc-1."},
		},
		{
			name:  "claude-code json --verbose cut inside the result",
			agent: gastownv1.AgentClaudeCode,
			out:   claudeVerboseJSON[strings.Index(claudeVerboseJSON, `"duration_api_ms":468`):],
		},
		{
			name:  "claude-code API error",
			agent: gastownv1.AgentClaudeCode,
			out:   claudeAPIError,
			want: Figures{CostUSD: "0", Turns: 1, Summary: "Invalid API key · Fix external API key",
				IsError: true, ErrorKind: "api_error 401"},
		},
		{
			name:  "claude-code error without a reason",
			agent: gastownv1.AgentClaudeCode,
			out:   `{"type":"result","subtype":"success","is_error":true,"result":"failed"}`,
			want:  Figures{CostUSD: "", Summary: "failed", IsError: true, ErrorKind: "error"},
		},
		{
			name:  "claude-code json",
			agent: gastownv1.AgentClaudeCode,
			out:   claudeJSON,
			want:  Figures{CostUSD: "0.01", InputTokens: 9, OutputTokens: 99, Turns: 3, Summary: "Done."},
		},
		{
			// What the real CLI printed for two turns priced at 0.051 each.
			name:  "claude-code cost without floating-point noise",
			agent: gastownv1.AgentClaudeCode,
			out:   `{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"Done.","total_cost_usd":0.10200000000000001,"usage":{"input_tokens":25140,"output_tokens":72}}` + "\n",
			want:  Figures{CostUSD: "0.102", InputTokens: 25140, OutputTokens: 72, Turns: 2, Summary: "Done."},
		},
		{
			name:  "claude-code out of turns",
			agent: gastownv1.AgentClaudeCode,
			out:   claudeMaxTurns,
			want:  Figures{CostUSD: "2.4", InputTokens: 300, OutputTokens: 9000, Turns: 51, IsError: true, ErrorKind: "error_max_turns"},
		},
		{
			name:  "claude-code text output",
			agent: gastownv1.AgentClaudeCode,
			out:   "I added the endpoint.\n",
		},
		{
			name:  "claude-code cut off mid-line",
			agent: gastownv1.AgentClaudeCode,
			out:   `{"type":"system","subtype":"init"}` + "\n" + `{"type":"result","subtype":"succ`,
		},
		{
			name:  "custom agent reporting like claude-code",
			agent: gastownv1.AgentCustom,
			out:   "working\n" + `{"type":"result","is_error":false,"num_turns":1,"result":"ok","total_cost_usd":0.5,"usage":{"input_tokens":1,"output_tokens":2}}` + "\n",
			want:  Figures{CostUSD: "0.5", InputTokens: 1, OutputTokens: 2, Turns: 1, Summary: "ok"},
		},
		{
			// As Python's json.dumps writes it.
			name:  "custom agent reporting like claude-code, spaced",
			agent: gastownv1.AgentCustom,
			out:   `{"type": "result", "is_error": false, "num_turns": 2, "result": "ok", "total_cost_usd": 0.5, "usage": {"input_tokens": 1, "cache_read_input_tokens": 10, "output_tokens": 2}}` + "\nbye\n",
			want:  Figures{CostUSD: "0.5", InputTokens: 11, OutputTokens: 2, Turns: 2, Summary: "ok"},
		},
		{
			name:  "custom agent without figures: its last line is the summary",
			agent: gastownv1.AgentCustom,
			out:   `{"level":"info","msg":"done"}`,
			want:  Figures{Summary: `{"level":"info","msg":"done"}`},
		},
		{
			name:  "custom agent printing plain lines",
			agent: gastownv1.AgentCustom,
			out:   "cloning\nediting main.go\n\nAdded /health and its test.\n\n",
			want:  Figures{Summary: "Added /health and its test."},
		},
		{
			name:  "aider",
			agent: gastownv1.AgentAider,
			out:   aiderOutput,
			want:  Figures{CostUSD: "0.06", InputTokens: 14300, OutputTokens: 1220},
		},
		{
			name:  "aider without a cost",
			agent: gastownv1.AgentAider,
			out:   "Tokens: 1.5M sent, 950 received.\n",
			want:  Figures{InputTokens: 1500000, OutputTokens: 950},
		},
		{
			name:  "aider that said nothing",
			agent: gastownv1.AgentAider,
			out:   "Aider v0.86.1\n",
		},
		{
			// Input: each step's uncached input and cache reads and writes.
			name:  "opencode",
			agent: gastownv1.AgentOpenCode,
			out:   opencodeRun,
			want: Figures{CostUSD: "0.03520815", InputTokens: 23024, OutputTokens: 103, Turns: 3,
				Summary: "Did bead oc-7 (Add a probe).\n\nprobe is 42"},
		},
		{
			name:  "opencode reasoning counts as output",
			agent: gastownv1.AgentOpenCode,
			out:   `{"type":"step_finish","part":{"tokens":{"input":10,"output":5,"reasoning":7,"cache":{"read":0,"write":0}},"cost":0}}`,
			want:  Figures{InputTokens: 10, OutputTokens: 12, Turns: 1},
		},
		{
			name:  "opencode with absurd counts",
			agent: gastownv1.AgentOpenCode,
			out:   strings.Repeat(`{"type":"step_finish","part":{"tokens":{"input":9223372036854775807,"output":-5,"cache":{"read":1}},"cost":1e308}}`+"\n", 2),
			want:  Figures{InputTokens: math.MaxInt64, Turns: 2},
		},
		{
			name:  "opencode API error",
			agent: gastownv1.AgentOpenCode,
			out:   opencodeAPIError,
			want: Figures{IsError: true, ErrorKind: "APIError 404",
				Summary: `Not Found: {"type":"error","error":{"type":"not_found_error","message":"Not Found"}}`},
		},
		{
			name:  "opencode error after a step",
			agent: gastownv1.AgentOpenCode,
			out: opencodeRun[:strings.Index(opencodeRun, `{"type":"step_start","timestamp":1796116702701`)] +
				`{"type":"error","error":{"name":"UnknownError","data":{"message":"Unexpected server error."}}}` + "\n",
			want: Figures{CostUSD: "0.029178", InputTokens: 7585, OutputTokens: 49, Turns: 1,
				Summary: "Unexpected server error.", IsError: true, ErrorKind: "UnknownError"},
		},
		{
			// opencode printed nothing: it wrote its error to stderr.
			name:  "opencode without steps",
			agent: gastownv1.AgentOpenCode,
			want:  Figures{IsError: true, ErrorKind: "no_steps"},
		},
		{
			name:  "opencode given claude's output",
			agent: gastownv1.AgentOpenCode,
			out:   claudeStream,
			want:  Figures{IsError: true, ErrorKind: "no_steps"},
		},
		{
			name:  "no output",
			agent: gastownv1.AgentClaudeCode,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseOutput(tt.agent, []byte(tt.out))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseOutput(f *testing.F) {
	for _, seed := range []string{claudeStream, claudeJSON, claudeMaxTurns, claudeAPIError, claudeVerboseJSON, opencodeRun, opencodeAPIError,
		aiderOutput, "", "{", `"type":"result"}`, "Tokens: k sent, M received."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, out string) {
		for _, agent := range []gastownv1.AgentType{gastownv1.AgentClaudeCode, gastownv1.AgentOpenCode, gastownv1.AgentAider, gastownv1.AgentCustom} {
			f := ParseOutput(agent, []byte(out))
			if f.InputTokens < 0 || f.OutputTokens < 0 {
				t.Errorf("%s: negative tokens %+v", agent, f)
			}
		}
	})
}
