package polecat

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestEncodeResult(t *testing.T) {
	code := int32(0)
	tests := []struct {
		name        string
		in          gastownv1.PolecatResult
		wantSummary func(string) bool
		wantMessage func(string) bool
	}{
		{
			name: "short result is kept whole",
			in: gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, Branch: "polecat/gt-1", Commit: strings.Repeat("a", 40),
				FilesChanged: 3, AgentExitCode: &code, CostUSD: "0.1", InputTokens: 1, OutputTokens: 2, Summary: "Added /health."},
			wantSummary: func(s string) bool { return s == "Added /health." },
		},
		{
			name:        "long summary is cut, not the JSON",
			in:          gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, Branch: "polecat/gt-1", Summary: strings.Repeat("x", 10000)},
			wantSummary: func(s string) bool { return strings.HasSuffix(s, "…") && len(s) > 3000 },
		},
		{
			name: "escaped characters count as what they encode to",
			in: gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed,
				Summary: strings.Repeat("\"<>\n", 3000)},
			wantSummary: func(s string) bool { return strings.HasSuffix(s, "…") },
		},
		{
			name:        "multibyte characters are not split",
			in:          gastownv1.PolecatResult{Outcome: gastownv1.OutcomeAgentFailed, Summary: strings.Repeat("é🙂", 2000)},
			wantSummary: func(s string) bool { return utf8.ValidString(s) && strings.HasSuffix(s, "…") },
		},
		{
			name:        "a long message is cut after the summary",
			in:          gastownv1.PolecatResult{Outcome: gastownv1.OutcomeGitFailed, Summary: "short", Message: strings.Repeat("m", 8000)},
			wantSummary: func(s string) bool { return s == "" },
			wantMessage: func(m string) bool { return strings.HasSuffix(m, "…") && len(m) > 3000 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := EncodeResult(tt.in)
			if len(msg) > MaxResultBytes {
				t.Fatalf("message is %d bytes", len(msg))
			}
			got, err := ParseResult(string(msg))
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.in.Outcome || got.Branch != tt.in.Branch || got.Commit != tt.in.Commit ||
				got.CostUSD != tt.in.CostUSD || got.FilesChanged != tt.in.FilesChanged {
				t.Errorf("fields other than the summary changed: %+v", got)
			}
			if !tt.wantSummary(got.Summary) {
				t.Errorf("summary = %.80q… (%d bytes)", got.Summary, len(got.Summary))
			}
			if tt.wantMessage != nil && !tt.wantMessage(got.Message) {
				t.Errorf("message = %.80q… (%d bytes)", got.Message, len(got.Message))
			}
		})
	}
}

func TestParseResult(t *testing.T) {
	code := int32(11)
	tests := []struct {
		name    string
		message string
		want    *gastownv1.PolecatResult
		wantErr string
	}{
		{
			name:    "agent failure",
			message: `{"outcome":"AgentFailed","branch":"polecat/gt-1","agentExitCode":11,"message":"the agent exited with code 11"}` + "\n",
			want: &gastownv1.PolecatResult{Outcome: gastownv1.OutcomeAgentFailed, Branch: "polecat/gt-1", AgentExitCode: &code,
				Message: "the agent exited with code 11"},
		},
		{
			name:    "fields from a newer runner are ignored",
			message: `{"outcome":"Pushed","commit":"abc","retries":7}`,
			want:    &gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, Commit: "abc"},
		},
		{name: "empty", message: "  \n", wantErr: "empty polecat result"},
		{name: "not JSON", message: "panic: runtime error", wantErr: "parse polecat result"},
		{name: "unknown outcome", message: `{"outcome":"Maybe"}`, wantErr: `unknown outcome "Maybe"`},
		{name: "no outcome", message: `{"branch":"x"}`, wantErr: `unknown outcome ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResult(tt.message)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		outcome gastownv1.PolecatOutcome
		code    int
	}{
		{gastownv1.OutcomePushed, 0},
		{gastownv1.OutcomeError, 1},
		{gastownv1.OutcomeNoChanges, 10},
		{gastownv1.OutcomeAgentFailed, 11},
		{gastownv1.OutcomeGitFailed, 12},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.outcome); got != tt.code {
			t.Errorf("ExitCode(%s) = %d, want %d", tt.outcome, got, tt.code)
		}
		if got, ok := OutcomeForExitCode(int32(tt.code)); !ok || got != tt.outcome {
			t.Errorf("OutcomeForExitCode(%d) = %s, %v; want %s", tt.code, got, ok, tt.outcome)
		}
	}
	if _, ok := OutcomeForExitCode(137); ok {
		t.Error("OutcomeForExitCode(137) is known: a SIGKILL is not a runner outcome")
	}
}

func TestRunnerConfigRoundTrip(t *testing.T) {
	pc := seedPolecat()
	s, err := Resolve(pc, nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := BuildAgent(s, PodPaths.TaskFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewRunnerConfig(s, a, PodPaths)
	encoded, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := DecodeRunnerConfig(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cfg, decoded); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// No secret value can be in the config: it holds names and paths.
	var raw map[string]any
	if err := json.Unmarshal([]byte(encoded), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["git"].(map[string]any)["secretDir"]; !ok {
		t.Error("the config does not say where the git secret is")
	}
}

func TestDecodeRunnerConfigErrors(t *testing.T) {
	valid := RunnerConfig{
		Purpose:       gastownv1.PurposeWork,
		Git:           GitConfig{URL: "u", BaseBranch: "main", WorkBranch: "w"},
		Agent:         AgentCommand{Args: []string{"a"}},
		RepoDir:       "/r",
		TaskFile:      "/t",
		CommitMessage: "m",
	}
	tests := []struct {
		name    string
		edit    func(*RunnerConfig)
		wantErr string
	}{
		{name: "no URL", edit: func(c *RunnerConfig) { c.Git.URL = "" }, wantErr: "git.url is empty"},
		{name: "no work branch", edit: func(c *RunnerConfig) { c.Git.WorkBranch = "" }, wantErr: "git.workBranch is empty"},
		{name: "no agent", edit: func(c *RunnerConfig) { c.Agent.Args = nil }, wantErr: "agent.args is empty"},
		{name: "bad purpose", edit: func(c *RunnerConfig) { c.Purpose = "Fun" }, wantErr: `unknown purpose "Fun"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			encoded, _ := c.Encode()
			if _, err := DecodeRunnerConfig(encoded); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := DecodeRunnerConfig(""); err == nil || !strings.Contains(err.Error(), "GASTOWN_POLECAT_CONFIG is not set") {
		t.Errorf("empty config: error = %v", err)
	}
	if _, err := DecodeRunnerConfig("{"); err == nil || !strings.Contains(err.Error(), "parse GASTOWN_POLECAT_CONFIG") {
		t.Errorf("bad JSON: error = %v", err)
	}
}
