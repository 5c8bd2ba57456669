package polecat

import (
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
			want: Figures{CostUSD: "0.0835216", InputTokens: 21, OutputTokens: 1710, Turns: 7,
				Summary: `Added GET /health returning {"status":"ok"} and a test.`},
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
			name:  "opencode",
			agent: gastownv1.AgentOpenCode,
			out:   claudeStream,
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
	for _, seed := range []string{claudeStream, claudeJSON, claudeMaxTurns, aiderOutput, "", "{", "Tokens: k sent, M received."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, out string) {
		for _, agent := range []gastownv1.AgentType{gastownv1.AgentClaudeCode, gastownv1.AgentAider, gastownv1.AgentCustom} {
			f := ParseOutput(agent, []byte(out))
			if f.InputTokens < 0 || f.OutputTokens < 0 {
				t.Errorf("%s: negative tokens %+v", agent, f)
			}
		}
	})
}
