package anthropicemu_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/test/anthropicemu"
)

// opencodeProvider is the provider opencode.json defines for the
// emulator. @ai-sdk/anthropic appends /messages to its baseURL, so the
// base carries the /v1.
const (
	opencodeProvider = "emu"
	opencodeKeyEnv   = "EMU_ANTHROPIC_KEY"
)

// opencodeConfig is an opencode.json with a provider for the emulator.
func opencodeConfig(t *testing.T, emu *anthropicemu.Server, model string) []byte {
	t.Helper()
	cfg := map[string]any{
		"$schema": "https://opencode.ai/config.json",
		"provider": map[string]any{opencodeProvider: map[string]any{
			"npm":  "@ai-sdk/anthropic",
			"name": "Anthropic API emulator",
			"options": map[string]any{
				"baseURL": emu.URL() + "/v1",
				"apiKey":  "{env:" + opencodeKeyEnv + "}",
			},
			"models": map[string]any{model: map[string]any{"name": model}},
		}},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runOpencode runs `opencode run --format json` on a prompt in dir, with
// the emulator as its provider and XDG directories of its own (opencode
// needs them writable).
func runOpencode(t *testing.T, emu *anthropicemu.Server, dir, model, prompt string) run {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "opencode.json"), opencodeConfig(t, emu, model), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBinary(t, "opencode", opencodeEnv),
		"run", "--format", "json", "--model", opencodeProvider+"/"+model, prompt)
	cmd.Dir = dir
	xdg := t.TempDir()
	cmd.Env = append(baseEnv(filepath.Join(xdg, "home")),
		"XDG_DATA_HOME="+filepath.Join(xdg, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(xdg, "config"),
		"XDG_CACHE_HOME="+filepath.Join(xdg, "cache"),
		"XDG_STATE_HOME="+filepath.Join(xdg, "state"),
		opencodeKeyEnv+"="+testKey,
	)
	return runCLI(t, cmd)
}

// opencode on a bead: a title request beside the conversation, whose every
// step reports the tokens the emulator answered with.
func TestOpencodeDoesABead(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{APIKey: testKey, PromptCaching: true})
	dir := t.TempDir()
	const model = "claude-sonnet-5-5"
	// Quotes and a space: opencode run quotes such an argument in the
	// prompt it sends, escaping the quotes inside.
	prompt := polecat.BuildPrompt(workTask("oc-7", "Add a \"ready\" probe",
		"Serve \"/readyz\" with 200.\n\nanthropic-emu: bash echo probe is $((40+2))"))

	r := runOpencode(t, emu, dir, model, prompt)
	g.Expect(r.exitCode).To(Equal(0), "stderr: %s", r.stderr)

	g.Expect(readFile(t, filepath.Join(dir, "changes", "oc-7.md"))).To(Equal(
		"# oc-7: Add a \"ready\" probe\n\nDone through the Anthropic API emulator.\n\n## Task\n\n> Serve \"/readyz\" with 200.\n"))

	// opencode sends the title request without waiting for it, so the
	// first turn may reach the emulator before it does.
	var titles []anthropicemu.Request
	for _, req := range emu.Requests() {
		if req.Kind == anthropicemu.KindSide {
			titles = append(titles, req)
		}
	}
	g.Expect(titles).To(HaveLen(1), "one title request")
	g.Expect(titles[0].Tools).To(BeEmpty())
	g.Expect(titles[0].Text).To(Equal(`Add a "ready" probe`))
	main := mainRequests(emu)
	g.Expect(main).To(HaveLen(3), "write, bash, the end")
	for _, req := range main {
		g.Expect(req.Path).To(Equal("/v1/messages"))
		g.Expect(req.Model).To(Equal(model))
		g.Expect(req.Stream).To(BeTrue())
		g.Expect(req.Tools).To(ContainElements("write", "bash"))
	}
	g.Expect([][]string{main[0].ToolUses, main[1].ToolUses, main[2].ToolUses}).To(Equal([][]string{{"write"}, {"bash"}, nil}))

	type tokens struct {
		Input, Output int
		Cache         struct{ Read, Write int }
	}
	var steps []tokens
	var tools []string
	var text string
	for _, ev := range jsonLines(t, r.stdout) {
		part, _ := ev["part"].(map[string]any)
		switch ev["type"] {
		case "step_finish":
			b, _ := json.Marshal(part["tokens"])
			var tk tokens
			g.Expect(json.Unmarshal(b, &tk)).To(Succeed())
			steps = append(steps, tk)
		case "tool_use":
			tools = append(tools, part["tool"].(string))
			g.Expect(part["state"]).To(HaveKeyWithValue("status", "completed"))
		case "text":
			text = part["text"].(string)
		}
	}
	g.Expect(tools).To(Equal([]string{"write", "bash"}))
	g.Expect(text).To(ContainSubstring("probe is 42"))
	g.Expect(steps).To(HaveLen(len(main)), "a step for each turn; the title request is none")
	for i, req := range main {
		// opencode reports each turn's usage as the API gave it: input is
		// the uncached input, the cache's reads and writes apart.
		g.Expect(steps[i].Input).To(Equal(req.Usage.InputTokens), "step %d input", i)
		g.Expect(steps[i].Output).To(Equal(req.Usage.OutputTokens), "step %d output", i)
		g.Expect(steps[i].Cache.Write).To(Equal(req.Usage.CacheCreationInputTokens), "step %d cache write", i)
		g.Expect(steps[i].Cache.Read).To(Equal(req.Usage.CacheReadInputTokens), "step %d cache read", i)
	}
	g.Expect(steps[1].Cache.Read).To(BeNumerically(">", 0), "the second turn reads the cache")

	want := emu.Usage(anthropicemu.KindMain)
	g.Expect(polecat.ParseOutput(gastownv1.AgentOpenCode, r.stdout)).To(Equal(polecat.Figures{
		// No cost: the emulator's provider has no prices.
		InputTokens:  allInput(want),
		OutputTokens: int64(want.OutputTokens),
		Turns:        int32(len(main)),
		Summary:      strings.TrimSpace(text),
	}))
}

// An API error the conversation cannot get past ends opencode with exit
// code 1 and an error event naming the API's status and message.
func TestOpencodeReportsAPIError(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{})
	dir := t.TempDir()

	r := runOpencode(t, emu, dir, "claude-haiku-5-5", polecat.BuildPrompt(workTask("oc-8", "Fail", "anthropic-emu: fail")))
	g.Expect(r.exitCode).To(Equal(1))
	g.Expect(filepath.Join(dir, "changes")).NotTo(BeADirectory())
	g.Expect(statuses(mainRequests(emu))).To(Equal([]int{400}), "a 400 is not retried")

	var errs []map[string]any
	for _, ev := range jsonLines(t, r.stdout) {
		if ev["type"] == "error" {
			errs = append(errs, ev["error"].(map[string]any))
		}
	}
	g.Expect(errs).To(HaveLen(1))
	g.Expect(errs[0]["data"]).To(And(
		HaveKeyWithValue("statusCode", BeNumerically("==", 400)),
		HaveKeyWithValue("message", ContainSubstring("the task asks the emulator to fail"))))

	f := polecat.ParseOutput(gastownv1.AgentOpenCode, r.stdout)
	g.Expect(f.IsError).To(BeTrue())
	g.Expect(f.ErrorKind).To(Equal("APIError 400"))
	g.Expect(f.Summary).To(Equal(errs[0]["data"].(map[string]any)["message"]))
}
