package anthropicemu_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/test/anthropicemu"
)

// claudeArgs are the operator's arguments for claude (internal/polecat's
// claudeCode), which reads the prompt from its standard input.
var claudeArgs = []string{"-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"}

// claudeCmd is claude in dir, talking to the emulator, with a home of its
// own. args replace claudeArgs when given.
func claudeCmd(t *testing.T, ctx context.Context, emu *anthropicemu.Server, dir, prompt string, args []string, env ...string) *exec.Cmd {
	t.Helper()
	if args == nil {
		args = claudeArgs
	}
	cmd := exec.CommandContext(ctx, agentBinary(t, "claude", claudeEnv), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(prompt)
	cmd.Env = append(baseEnv(t.TempDir()),
		"ANTHROPIC_BASE_URL="+emu.URL(),
		"ANTHROPIC_API_KEY="+testKey,
		// No telemetry, no update checks: only the conversation.
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
	)
	if os.Geteuid() == 0 {
		// claude refuses --dangerously-skip-permissions as root unless
		// told it runs in a sandbox.
		cmd.Env = append(cmd.Env, "IS_SANDBOX=1")
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func runClaude(t *testing.T, emu *anthropicemu.Server, dir, prompt string, args []string, env ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	return runCLI(t, claudeCmd(t, ctx, emu, dir, prompt, args, env...))
}

// claudeResult is claude's final result object.
type claudeResult struct {
	Type           string             `json:"type"`
	Subtype        string             `json:"subtype"`
	IsError        bool               `json:"is_error"`
	NumTurns       int                `json:"num_turns"`
	Result         string             `json:"result"`
	TotalCostUSD   float64            `json:"total_cost_usd"`
	APIErrorStatus *int               `json:"api_error_status"`
	TerminalReason string             `json:"terminal_reason"`
	Usage          anthropicemu.Usage `json:"usage"`
	ModelUsage     map[string]struct {
		InputTokens              int     `json:"inputTokens"`
		OutputTokens             int     `json:"outputTokens"`
		CacheReadInputTokens     int     `json:"cacheReadInputTokens"`
		CacheCreationInputTokens int     `json:"cacheCreationInputTokens"`
		CostUSD                  float64 `json:"costUSD"`
	} `json:"modelUsage"`
}

// lastResult is the result line of stream-json output, the document of
// json output, or the last element of the array of json --verbose output.
func lastResult(t *testing.T, out []byte) claudeResult {
	t.Helper()
	var r claudeResult
	if err := json.Unmarshal(out, &r); err == nil && r.Type == "result" {
		return r
	}
	var events []map[string]any
	if err := json.Unmarshal(out, &events); err != nil {
		events = jsonLines(t, out)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i]["type"] == "result" {
			b, _ := json.Marshal(events[i])
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("result: %v", err)
			}
			return r
		}
	}
	t.Fatalf("no result in claude's output:\n%s", out)
	return r
}

// workTask is a bead as the operator gives it to an agent.
func workTask(beadID, title, description string) polecat.Task {
	return polecat.Task{
		Purpose:     gastownv1.PurposeWork,
		BeadID:      beadID,
		Title:       title,
		Description: description,
		RepoURL:     "https://github.com/acme/app.git",
		BaseBranch:  "main",
		WorkBranch:  "polecat/" + beadID,
	}
}

// expectFiguresMatch checks claude's result and the operator's reading of
// it against what the emulator reported: claude sums the usage of its
// turns, field by field, and prices it by the model the API echoed. Its
// usage also counts the message_start of a stream that broke off, but its
// modelUsage, which the cost comes from, counts whole answers only.
func expectFiguresMatch(g Gomega, emu *anthropicemu.Server, stdout []byte, res claudeResult) {
	want := emu.Usage(anthropicemu.KindMain)
	var whole anthropicemu.Usage
	for _, r := range mainRequests(emu) {
		if r.Status == 200 && r.ErrorType == "" {
			whole = whole.Add(r.Usage)
		}
	}
	g.Expect(res.Usage.InputTokens).To(Equal(want.InputTokens), "input_tokens")
	g.Expect(res.Usage.OutputTokens).To(Equal(want.OutputTokens), "output_tokens")
	g.Expect(res.Usage.CacheCreationInputTokens).To(Equal(want.CacheCreationInputTokens), "cache_creation_input_tokens")
	g.Expect(res.Usage.CacheReadInputTokens).To(Equal(want.CacheReadInputTokens), "cache_read_input_tokens")
	g.Expect(res.TotalCostUSD).To(BeNumerically(">", 0), "claude prices the model the emulator echoed")

	model := mainRequests(emu)[0].Model
	g.Expect(res.ModelUsage).To(HaveKey(model))
	g.Expect(res.ModelUsage[model].CostUSD).To(BeNumerically("~", res.TotalCostUSD, 1e-12))
	g.Expect(res.ModelUsage[model].InputTokens).To(Equal(whole.InputTokens))
	g.Expect(res.ModelUsage[model].OutputTokens).To(Equal(whole.OutputTokens))
	g.Expect(res.ModelUsage[model].CacheReadInputTokens).To(Equal(whole.CacheReadInputTokens))
	g.Expect(res.ModelUsage[model].CacheCreationInputTokens).To(Equal(whole.CacheCreationInputTokens))

	f := polecat.ParseOutput(gastownv1.AgentClaudeCode, stdout)
	g.Expect(f.InputTokens).To(Equal(allInput(want)), "all the input: uncached, written to the cache and read from it")
	g.Expect(f.OutputTokens).To(Equal(int64(want.OutputTokens)))
	g.Expect(f.Turns).To(Equal(int32(res.NumTurns)))
	cost, err := strconv.ParseFloat(f.CostUSD, 64)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cost).To(BeNumerically("~", res.TotalCostUSD, 1e-9), "the cost as claude printed it, perhaps rounded")
	g.Expect(f.Summary).To(Equal(strings.TrimSpace(res.Result)))
	g.Expect(f.IsError).To(Equal(res.IsError))
}

// The operator's run of claude on a bead: the bead file is written, the
// stream-json output ends with a successful result whose figures are the
// emulator's, and ParseOutput reads the same figures.
func TestClaudeDoesABead(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{APIKey: testKey, PromptCaching: true})
	dir := t.TempDir()
	prompt := polecat.BuildPrompt(workTask("gt-a1b2", "Add a health endpoint",
		"Serve GET /healthz with 200 OK.\nKeep it <small> & simple."))

	r := runClaude(t, emu, dir, prompt, nil)
	g.Expect(r.exitCode).To(Equal(0), "stderr: %s", r.stderr)

	g.Expect(readFile(t, filepath.Join(dir, "changes", "gt-a1b2.md"))).To(Equal(
		"# gt-a1b2: Add a health endpoint\n\n" +
			"Done through the Anthropic API emulator.\n\n" +
			"## Task\n\n" +
			"> Serve GET /healthz with 200 OK.\n" +
			"> Keep it <small> & simple.\n"))

	events := jsonLines(t, r.stdout)
	g.Expect(events[0]).To(And(HaveKeyWithValue("type", "system"), HaveKeyWithValue("subtype", "init"),
		HaveKeyWithValue("cwd", dir)))
	g.Expect(r.stdout).To(ContainSubstring(`"name":"Write"`), "the tool call shows in the stream")

	main := mainRequests(emu)
	g.Expect(main).To(HaveLen(2), "a Write turn and the final turn")
	for _, req := range main {
		g.Expect(req.Path).To(Equal("/v1/messages"))
		g.Expect(req.RawQuery).To(Equal("beta=true"))
		g.Expect(req.Stream).To(BeTrue())
		g.Expect(req.Status).To(Equal(200))
		g.Expect(req.Header.Get("X-Api-Key")).To(Equal("REDACTED"))
		g.Expect(req.Tools).To(ContainElements("Write", "Bash"))
	}
	g.Expect(main[0].ToolUses).To(Equal([]string{"Write"}))
	g.Expect(main[0].StopReason).To(Equal(anthropicemu.StopToolUse))
	g.Expect(main[1].StopReason).To(Equal(anthropicemu.StopEndTurn))
	g.Expect(main[1].Usage.CacheReadInputTokens).To(BeNumerically(">", 0),
		"the second turn reads the prefix the first cached")
	g.Expect(emu.Counts()).To(Equal(map[anthropicemu.Kind]int{anthropicemu.KindMain: 2}),
		"no side requests without nonessential traffic")

	res := lastResult(t, r.stdout)
	g.Expect(res.Subtype).To(Equal("success"))
	g.Expect(res.IsError).To(BeFalse())
	g.Expect(res.NumTurns).To(Equal(2))
	g.Expect(res.Result).To(Equal("Did bead gt-a1b2 (Add a health endpoint): wrote changes/gt-a1b2.md."))
	expectFiguresMatch(g, emu, r.stdout, res)
}

// --output-format json prints one result document; the directives make
// more tool turns, and a command's output reaches the final text.
func TestClaudeJSONOutputAndDirectives(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	dir := t.TempDir()
	prompt := polecat.BuildPrompt(workTask("gt-c3", "Write the notes", "Add notes.\n\n"+
		"anthropic-emu: write docs/notes.txt\nfirst line\n  indented \"quoted\"\nanthropic-emu: end\n"+
		"anthropic-emu: bash echo made by $((6*7))\n"+
		"anthropic-emu: turns 4\n"))

	r := runClaude(t, emu, dir, prompt, []string{"-p", "--output-format", "json", "--dangerously-skip-permissions"})
	g.Expect(r.exitCode).To(Equal(0), "stderr: %s", r.stderr)

	g.Expect(readFile(t, filepath.Join(dir, "docs", "notes.txt"))).To(Equal("first line\n  indented \"quoted\"\n"))
	g.Expect(readFile(t, filepath.Join(dir, "changes", "gt-c3.md"))).To(Equal(
		"# gt-c3: Write the notes\n\nDone through the Anthropic API emulator.\n\n## Task\n\n> Add notes.\n"),
		"the bead file leaves the directives out")

	var uses [][]string
	for _, req := range mainRequests(emu) {
		uses = append(uses, req.ToolUses)
	}
	g.Expect(uses).To(Equal([][]string{{"Write"}, {"Write"}, {"Bash"}, {"Bash"}, nil}),
		"bead file, notes, the command, one padding turn, the end")

	res := lastResult(t, r.stdout)
	g.Expect(res.Subtype).To(Equal("success"))
	g.Expect(res.NumTurns).To(Equal(5))
	g.Expect(res.Result).To(ContainSubstring("made by 42"))
	g.Expect(res.Result).To(HavePrefix("Did bead gt-c3 (Write the notes): wrote changes/gt-c3.md, wrote docs/notes.txt, ran `echo made by $((6*7))`."))
	expectFiguresMatch(g, emu, r.stdout, res)
}

// --output-format json --verbose prints one array of every event, the
// result last; ParseOutput finds the result in it.
func TestClaudeVerboseJSONOutput(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{PromptCaching: true})
	dir := t.TempDir()

	r := runClaude(t, emu, dir, polecat.BuildPrompt(workTask("gt-v1", "Be verbose", "anthropic-emu: turns 2")),
		[]string{"-p", "--output-format", "json", "--verbose", "--dangerously-skip-permissions"})
	g.Expect(r.exitCode).To(Equal(0), "stderr: %s", r.stderr)
	g.Expect(strings.TrimSpace(string(r.stdout))).To(And(HavePrefix("[{"), HaveSuffix("}]")))
	g.Expect(strings.Count(strings.TrimSpace(string(r.stdout)), "\n")).To(BeZero(), "one line")

	res := lastResult(t, r.stdout)
	g.Expect(res.Subtype).To(Equal("success"))
	g.Expect(res.NumTurns).To(Equal(3))
	expectFiguresMatch(g, emu, r.stdout, res)
}

// A revision appends the review comments to the bead file, as the scripted
// agent does.
func TestClaudeRevision(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	dir := t.TempDir()
	earlier := "# gt-r1: Fix it\n\nearlier work\n"
	g.Expect(os.MkdirAll(filepath.Join(dir, "changes"), 0o755)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(dir, "changes", "gt-r1.md"), []byte(earlier), 0o644)).To(Succeed())
	task := workTask("gt-r1", "Fix it", "Fix the bug.")
	task.Purpose = gastownv1.PurposeRevision
	task.ReviewComments = "- main.go:12: handle the error\n- add a test"

	r := runClaude(t, emu, dir, polecat.BuildPrompt(task), nil)
	g.Expect(r.exitCode).To(Equal(0), "stderr: %s", r.stderr)
	g.Expect(readFile(t, filepath.Join(dir, "changes", "gt-r1.md"))).To(Equal(earlier +
		"\n## Review\n\n- main.go:12: handle the error\n- add a test\n"))
	g.Expect(mainRequests(emu)[0].ToolUses).To(Equal([]string{"Bash"}))
	g.Expect(lastResult(t, r.stdout).Subtype).To(Equal("success"))
}

// claude retries through transient overload and rate limits (honouring
// retry-after) and succeeds; the failed attempts cost nothing.
func TestClaudeRetriesTransientFaults(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.Overloaded, Times: 2})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.RateLimited, RetryAfter: time.Second})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.StreamOverloaded})
	dir := t.TempDir()

	r := runClaude(t, emu, dir, polecat.BuildPrompt(workTask("gt-t1", "Survive", "Retry.")), nil)
	g.Expect(r.exitCode).To(Equal(0), "stderr: %s", r.stderr)
	readFile(t, filepath.Join(dir, "changes", "gt-t1.md"))

	main := mainRequests(emu)
	g.Expect(statuses(main)).To(Equal([]int{529, 529, 429, 200, 200, 200}))
	g.Expect(main[3].ErrorType).To(Equal("overloaded_error"), "the stream broken off mid-way")
	for i, f := range []anthropicemu.FaultKind{anthropicemu.Overloaded, anthropicemu.Overloaded,
		anthropicemu.RateLimited, anthropicemu.StreamOverloaded, 0, 0} {
		g.Expect(main[i].Fault).To(Equal(f), "request %d", i)
	}

	res := lastResult(t, r.stdout)
	g.Expect(res.Subtype).To(Equal("success"))
	g.Expect(res.IsError).To(BeFalse())
	g.Expect(res.NumTurns).To(Equal(2))
	expectFiguresMatch(g, emu, r.stdout, res)
}

// A persistent server error ends the run with an error result once
// claude's retries are spent. claude reports an API error with subtype
// "success" and is_error true; api_error_status and terminal_reason say
// what failed.
func TestClaudeReportsPersistentFailure(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	emu.Inject(anthropicemu.Fault{Kind: anthropicemu.ServerError, Times: anthropicemu.Always})
	dir := t.TempDir()

	r := runClaude(t, emu, dir, polecat.BuildPrompt(workTask("gt-f1", "Fail", "Fail.")), nil,
		"CLAUDE_CODE_MAX_RETRIES=1") // the default retries take minutes
	g.Expect(r.exitCode).To(Equal(1))
	g.Expect(statuses(mainRequests(emu))).To(Equal([]int{500, 500}), "one try and one retry")
	g.Expect(filepath.Join(dir, "changes")).NotTo(BeADirectory())

	res := lastResult(t, r.stdout)
	g.Expect(res.IsError).To(BeTrue())
	g.Expect(res.Subtype).To(Equal("success"))
	g.Expect(res.APIErrorStatus).To(HaveValue(Equal(500)))
	g.Expect(res.TerminalReason).To(Equal("api_error"))
	g.Expect(res.Result).To(ContainSubstring("500"))
	g.Expect(res.TotalCostUSD).To(BeZero())

	f := polecat.ParseOutput(gastownv1.AgentClaudeCode, r.stdout)
	g.Expect(f.IsError).To(BeTrue())
	g.Expect(f.ErrorKind).To(Equal("api_error 500"), "what failed, not the subtype")
	g.Expect(f.Summary).To(Equal(res.Result))
}

// "anthropic-emu: fail" in a bead fails the conversation with a 400,
// which claude does not retry as such (it tries a few variants of the
// request without some betas first).
func TestClaudeFailDirective(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	dir := t.TempDir()

	r := runClaude(t, emu, dir, polecat.BuildPrompt(workTask("gt-f2", "Fail", "anthropic-emu: fail")), nil)
	g.Expect(r.exitCode).To(Equal(1))
	res := lastResult(t, r.stdout)
	g.Expect(res.IsError).To(BeTrue())
	g.Expect(res.APIErrorStatus).To(HaveValue(Equal(400)))
	g.Expect(res.Result).To(ContainSubstring("the task asks the emulator to fail"))
	for _, req := range mainRequests(emu) {
		g.Expect(req.Status).To(Equal(400))
		g.Expect(req.ErrorType).To(Equal("invalid_request_error"))
	}
	g.Expect(filepath.Join(dir, "changes")).NotTo(BeADirectory())
	g.Expect(polecat.ParseOutput(gastownv1.AgentClaudeCode, r.stdout).ErrorKind).To(Equal("api_error 400"))
}

// --max-turns stops a conversation that needs more turns.
func TestClaudeMaxTurns(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	args := append(append([]string(nil), claudeArgs...), "--max-turns", "2")

	r := runClaude(t, emu, t.TempDir(), polecat.BuildPrompt(workTask("gt-m1", "Long", "anthropic-emu: turns 5")), args)
	g.Expect(r.exitCode).To(Equal(1))
	g.Expect(mainRequests(emu)).To(HaveLen(2))
	res := lastResult(t, r.stdout)
	g.Expect(res.Subtype).To(Equal("error_max_turns"))
	g.Expect(res.IsError).To(BeTrue())

	f := polecat.ParseOutput(gastownv1.AgentClaudeCode, r.stdout)
	g.Expect(f.IsError).To(BeTrue())
	g.Expect(f.ErrorKind).To(Equal("error_max_turns"))
}

// A wrong key gets the API's 401, which claude reports as an error.
func TestClaudeWrongKey(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{APIKey: "sk-ant-the-right-key"})

	r := runClaude(t, emu, t.TempDir(), "# Anything (bead gt-k1)\n", nil)
	g.Expect(r.exitCode).To(Equal(1))
	main := mainRequests(emu)
	g.Expect(main).NotTo(BeEmpty())
	g.Expect(main[0].Status).To(Equal(401))
	g.Expect(main[0].ErrorType).To(Equal("authentication_error"))
	res := lastResult(t, r.stdout)
	g.Expect(res.IsError).To(BeTrue())
	g.Expect(res.APIErrorStatus).To(HaveValue(Equal(401)))
	f := polecat.ParseOutput(gastownv1.AgentClaudeCode, r.stdout)
	g.Expect(f.IsError).To(BeTrue())
	g.Expect(f.ErrorKind).To(Equal("api_error 401"))
}

// A stalled model holds claude's request open with nothing sent; when
// claude is killed (as the Witness would stop a stuck agent) the emulator
// sees the client go and ends the answer.
func TestClaudeStalledModel(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	runCtx, kill := context.WithCancel(ctx)
	defer kill()
	cmd := claudeCmd(t, runCtx, emu, t.TempDir(), polecat.BuildPrompt(workTask("gt-s1", "Stall", "anthropic-emu: stall 1h")), nil)
	var out strings.Builder // read once claude is gone
	cmd.Stdout = &out
	g.Expect(cmd.Start()).To(Succeed())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	stalled := func(reqs []anthropicemu.Request) bool {
		for _, r := range reqs {
			if r.Kind == anthropicemu.KindMain && r.Status == 0 && !r.Aborted {
				return true
			}
		}
		return false
	}
	g.Expect(emu.WaitFor(ctx, stalled)).To(Succeed(), "claude's first turn reaches the emulator")

	kill()
	g.Expect(emu.WaitFor(ctx, func(reqs []anthropicemu.Request) bool {
		for _, r := range reqs {
			if r.Kind == anthropicemu.KindMain && r.Aborted {
				return true
			}
		}
		return false
	})).To(Succeed(), "the stall ends when claude goes")
	g.Expect(<-waited).To(HaveOccurred(), "claude was killed")
	g.Expect(mainRequests(emu)[0].Status).To(Equal(0), "nothing was answered")
	g.Expect(out.String()).NotTo(ContainSubstring(`"type":"assistant"`), "nothing came back to claude")
}
