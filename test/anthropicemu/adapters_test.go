package anthropicemu_test

// The operator's adapters for the real CLIs: a Polecat is resolved and run
// as executionMode local runs it (polecat.Resolve, then polecat.PrepareLocal:
// BuildAgent's argv, env and files, its secretKeyRefs resolved, the runner
// configuration), by the real runner binary (cmd/polecat), which starts the
// real CLI against the emulator, reads its figures with ParseOutput, commits
// and pushes to a git server. What the runner reports must be what the
// emulator answered.

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/gitops/gitopstest"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/anthropicemu"
)

// The secrets a polecat of these tests refers to, and the git server's
// account.
const (
	gitSecret  = "git-credentials"
	keySecret  = "llm-key"
	keyKey     = "api-key"
	gitUser    = "polecat"
	gitPasswd  = "git-pw-1"
	baseBranch = "main"
)

var (
	runnerOnce sync.Once
	runnerDir  string
	runnerPath string
	runnerErr  error
)

// TestMain removes the runner binary the tests built. gittestserver logs
// every request to the standard logger: that is not the tests' output.
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	code := m.Run()
	if runnerDir != "" {
		_ = os.RemoveAll(runnerDir)
	}
	os.Exit(code)
}

// runnerBinary builds gastown-polecat once for the test binary.
func runnerBinary(t *testing.T) string {
	t.Helper()
	runnerOnce.Do(func() {
		root, err := testenv.ProjectRoot()
		if err != nil {
			runnerErr = err
			return
		}
		if runnerDir, runnerErr = os.MkdirTemp("", "gastown-polecat-"); runnerErr != nil {
			return
		}
		path := filepath.Join(runnerDir, "gastown-polecat")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/polecat")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			runnerErr = errors.New("go build ./cmd/polecat: " + err.Error() + "\n" + string(out))
			return
		}
		runnerPath = path
	})
	if runnerErr != nil {
		t.Fatal(runnerErr)
	}
	return runnerPath
}

// localRun is a polecat run to its end by the runner.
type localRun struct {
	settings polecat.Settings
	result   *gastownv1.PolecatResult
	run
}

// runPolecat resolves a local polecat of agent with cfg for bead, whose
// task is description, and runs it with the real runner against a git
// server; key is the API key in its secret. The agent command is the real
// CLI unless cfg names one.
func runPolecat(t *testing.T, agent gastownv1.AgentType, cfg gastownv1.AgentConfig, bead, description, key string) localRun {
	t.Helper()
	git := gitopstest.HTTPServer(t, gitUser, gitPasswd, baseBranch, map[string]string{"README.md": "# app\n"})
	if len(cfg.Command) == 0 {
		name, env := "claude", claudeEnv
		if agent == gastownv1.AgentOpenCode {
			name, env = "opencode", opencodeEnv
		}
		cfg.Command = []string{agentBinary(t, name, env)}
	}
	if agent == gastownv1.AgentClaudeCode && os.Geteuid() == 0 {
		// claude refuses to skip permissions as root outside a sandbox it
		// is told about; a pod runs it as a plain user.
		cfg.Env = append(cfg.Env, corev1.EnvVar{Name: "IS_SANDBOX", Value: "1"})
	}
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "emu-" + bead, Namespace: "gastown"},
		Spec: gastownv1.PolecatSpec{
			Rig:             "emu",
			BeadID:          bead,
			DesiredState:    gastownv1.DesiredWorking,
			ExecutionMode:   gastownv1.ExecutionModeLocal,
			Agent:           agent,
			AgentConfig:     &cfg,
			TaskDescription: description,
			Kubernetes: &gastownv1.PolecatKubernetes{
				GitRepository:   git.URL,
				GitBranch:       baseBranch,
				GitSecretRef:    &meta.LocalObjectReference{Name: gitSecret},
				APIKeySecretRef: &meta.SecretKeyReference{Name: keySecret, Key: keyKey},
			},
		},
	}
	s, err := polecat.Resolve(pc, nil, nil, polecat.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]map[string][]byte{
		gitSecret: {"username": []byte(gitUser), "password": []byte(gitPasswd)},
		keySecret: {keyKey: []byte(key)},
	}
	p, err := polecat.PrepareLocal(s, runnerBinary(t), t.TempDir(), func(name string) (map[string][]byte, error) {
		data, ok := secrets[name]
		if !ok {
			return nil, errors.New("secret " + name + " not found")
		}
		return data, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.Path, p.Args[1:]...)
	cmd.Env = p.Env
	r := runCLI(t, cmd)
	msg, err := os.ReadFile(p.ResultFile)
	if err != nil {
		t.Fatalf("the runner wrote no result: %v\nstderr:\n%s", err, r.stderr)
	}
	res, err := polecat.ParseResult(string(msg))
	if err != nil {
		t.Fatal(err)
	}
	if want := polecat.ExitCode(res.Outcome); r.exitCode != want {
		t.Errorf("the runner exited with %d, want %d for %s", r.exitCode, want, res.Outcome)
	}
	return localRun{settings: s, result: res, run: r}
}

// allInput is all the input the model read: what Figures.InputTokens
// counts.
func allInput(u anthropicemu.Usage) int64 {
	return int64(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens)
}

// firstUserTexts are the text blocks of the first user turn of a request.
func firstUserTexts(req anthropicemu.Request) []string {
	var texts []string
	for _, m := range req.Body.Messages {
		if m.Role != "user" {
			continue
		}
		for _, b := range m.Content {
			if b.Type == "text" {
				texts = append(texts, b.Text)
			}
		}
		break
	}
	return texts
}

// expectResultFigures checks that the runner's result carries the figures
// ParseOutput reads from the agent's output, the agent's own stdout being
// the runner's.
func expectResultFigures(g Gomega, lr localRun) polecat.Figures {
	f := polecat.ParseOutput(lr.settings.Agent, lr.stdout)
	g.Expect(lr.result.CostUSD).To(Equal(f.CostUSD))
	g.Expect(lr.result.InputTokens).To(Equal(f.InputTokens))
	g.Expect(lr.result.OutputTokens).To(Equal(f.OutputTokens))
	g.Expect(lr.result.Turns).To(Equal(f.Turns))
	g.Expect(lr.result.Summary).To(Equal(f.Summary))
	return f
}

// claude-code as the operator runs it, through an Anthropic endpoint:
// the prompt on stdin, stream-json out; the result's tokens are all the
// emulator counted, the prompt cache's included.
func TestOperatorRunsClaudeCode(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{APIKey: testKey, PromptCaching: true})

	lr := runPolecat(t, gastownv1.AgentClaudeCode, gastownv1.AgentConfig{
		Model:         "claude-sonnet-4-5",
		ModelProvider: &gastownv1.ModelProvider{Endpoint: emu.URL()},
	}, "gt-op1", `Serve "/healthz" with 200.`, testKey)
	g.Expect(lr.result.Outcome).To(Equal(gastownv1.OutcomePushed), "message: %s\nstderr: %s", lr.result.Message, lr.stderr)
	g.Expect(lr.result.FilesChanged).To(Equal(int32(1)), "changes/gt-op1.md")

	main := mainRequests(emu)
	g.Expect(main).To(HaveLen(2), "the bead file, the end")
	texts := firstUserTexts(main[0])
	g.Expect(texts).NotTo(BeEmpty())
	g.Expect(texts[len(texts)-1]).To(Equal(lr.settings.Prompt), "the prompt as the runner wrote it, after claude's reminders")
	want := emu.Usage(anthropicemu.KindMain)
	g.Expect(want.CacheReadInputTokens).To(BeNumerically(">", 0), "the second turn reads the cache")

	f := expectResultFigures(g, lr)
	g.Expect(f.InputTokens).To(Equal(allInput(want)))
	g.Expect(f.OutputTokens).To(Equal(int64(want.OutputTokens)))
	g.Expect(f.Turns).To(Equal(int32(2)))
	res := lastResult(t, lr.stdout)
	cost, err := strconv.ParseFloat(f.CostUSD, 64)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cost).To(BeNumerically("~", res.TotalCostUSD, 1e-9))
	g.Expect(cost).To(BeNumerically("~", listPrice(sonnet45, want), 1e-9), "the emulator's usage at the model's list prices")
	g.Expect(f.Summary).To(Equal("Did bead gt-op1 (Task for bead gt-op1): wrote changes/gt-op1.md."))
	g.Expect(f.IsError).To(BeFalse())
}

// API errors claude gives up on end its run as "success" with is_error;
// the operator's figures name the error and its status.
func TestOperatorClaudeCodeAPIErrors(t *testing.T) {
	tests := []struct {
		name        string
		description string
		key         string
		env         []corev1.EnvVar
		faults      []anthropicemu.Fault
		wantKind    string
		wantSummary string
	}{
		{name: "wrong key", key: "sk-ant-wrong", wantKind: "api_error 401", wantSummary: "Invalid API key"},
		{name: "invalid request", description: "anthropic-emu: fail", wantKind: "api_error 400",
			wantSummary: "the task asks the emulator to fail"},
		{
			name:     "persistent server error",
			faults:   []anthropicemu.Fault{{Kind: anthropicemu.ServerError, Times: anthropicemu.Always}},
			env:      []corev1.EnvVar{{Name: "CLAUDE_CODE_MAX_RETRIES", Value: "1"}}, // the default 10 take minutes
			wantKind: "api_error 500", wantSummary: "500",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			emu := startEmulator(t, anthropicemu.Options{APIKey: testKey})
			for _, f := range tt.faults {
				emu.Inject(f)
			}
			key := testKey
			if tt.key != "" {
				key = tt.key
			}
			lr := runPolecat(t, gastownv1.AgentClaudeCode, gastownv1.AgentConfig{
				ModelProvider: &gastownv1.ModelProvider{Endpoint: emu.URL()},
				Env:           tt.env,
			}, "gt-op2", "Fail.\n\n"+tt.description, key)
			g.Expect(lr.result.Outcome).To(Equal(gastownv1.OutcomeAgentFailed))
			g.Expect(lr.result.AgentExitCode).To(HaveValue(Equal(int32(1))))

			f := expectResultFigures(g, lr)
			g.Expect(f.IsError).To(BeTrue())
			g.Expect(f.ErrorKind).To(Equal(tt.wantKind))
			g.Expect(f.Summary).To(ContainSubstring(tt.wantSummary))
			g.Expect(f.Summary).To(Equal(lastResult(t, lr.stdout).Result))
		})
	}
}

// opencode as the operator runs it, given the same endpoint as claude
// (the API's root): its anthropic provider calls <endpoint>/v1/messages,
// the prompt reaches the model as the runner wrote it, and the figures are
// the sums of its steps, which are the emulator's turns.
func TestOperatorRunsOpencode(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{APIKey: testKey, PromptCaching: true})

	lr := runPolecat(t, gastownv1.AgentOpenCode, gastownv1.AgentConfig{
		Provider:      "anthropic",
		Model:         "claude-sonnet-4-5",
		ModelProvider: &gastownv1.ModelProvider{Endpoint: emu.URL()},
	}, "oc-op1", "Serve \"/readyz\" with 200.\n\nanthropic-emu: bash echo probe is $((40+2))", testKey)
	g.Expect(lr.result.Outcome).To(Equal(gastownv1.OutcomePushed), "message: %s\nstderr: %s", lr.result.Message, lr.stderr)
	g.Expect(lr.result.FilesChanged).To(Equal(int32(1)), "changes/oc-op1.md")

	for _, req := range emu.Requests() {
		g.Expect(req.Path).To(Equal("/v1/messages"))
		g.Expect(req.Status).To(Equal(200))
	}
	main := mainRequests(emu)
	g.Expect(main).To(HaveLen(3), "the bead file, the command, the end")
	g.Expect(firstUserTexts(main[0])).To(Equal([]string{lr.settings.Prompt}),
		"the prompt as the runner wrote it: not quoted, its quotes not escaped")
	want := emu.Usage(anthropicemu.KindMain)
	g.Expect(want.CacheReadInputTokens).To(BeNumerically(">", 0), "later turns read the cache")

	f := expectResultFigures(g, lr)
	g.Expect(f.InputTokens).To(Equal(allInput(want)), "the title request is no step")
	g.Expect(f.OutputTokens).To(Equal(int64(want.OutputTokens)))
	g.Expect(f.Turns).To(Equal(int32(len(main))))
	cost, err := strconv.ParseFloat(f.CostUSD, 64)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cost).To(BeNumerically("~", listPrice(sonnet45, want), 1e-9), "the emulator's usage at the model's list prices")
	g.Expect(f.Summary).To(Equal(strings.TrimSpace(main[2].Text)))
	g.Expect(f.Summary).To(ContainSubstring("probe is 42"))
	g.Expect(f.IsError).To(BeFalse())
}

// An API error ends opencode with an error event: the operator's figures
// name it, with the API's status and message.
func TestOperatorOpencodeAPIError(t *testing.T) {
	g := NewWithT(t)
	emu := startEmulator(t, anthropicemu.Options{APIKey: testKey})

	lr := runPolecat(t, gastownv1.AgentOpenCode, gastownv1.AgentConfig{
		Provider:      "anthropic",
		Model:         "claude-haiku-4-5",
		ModelProvider: &gastownv1.ModelProvider{Endpoint: emu.URL()},
	}, "oc-op2", "Fail.\n\nanthropic-emu: fail", testKey)
	g.Expect(lr.result.Outcome).To(Equal(gastownv1.OutcomeAgentFailed))
	g.Expect(lr.result.AgentExitCode).To(HaveValue(Equal(int32(1))))
	g.Expect(statuses(mainRequests(emu))).To(Equal([]int{400}))

	f := expectResultFigures(g, lr)
	g.Expect(f.IsError).To(BeTrue())
	g.Expect(f.ErrorKind).To(Equal("APIError 400"))
	g.Expect(f.Summary).To(ContainSubstring("the task asks the emulator to fail"))
	g.Expect(f.Turns).To(BeZero())
}

// prices are a model's list prices in USD per million tokens.
type prices struct{ input, output, cacheWrite, cacheRead float64 }

// sonnet45 are claude-sonnet-4-5's (5-minute cache writes), which both
// CLIs price it at.
var sonnet45 = prices{input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.30}

func listPrice(p prices, u anthropicemu.Usage) float64 {
	return (float64(u.InputTokens)*p.input + float64(u.OutputTokens)*p.output +
		float64(u.CacheCreationInputTokens)*p.cacheWrite + float64(u.CacheReadInputTokens)*p.cacheRead) / 1e6
}
