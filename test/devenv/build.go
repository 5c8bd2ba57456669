package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/boshu2/gastown-operator/internal/testenv"
)

// Binary names in the bin directory.
const (
	runnerBinary    = "gastown-polecat"
	agentBinary     = "gastown-scripted-agent"
	kubectlGTBinary = "kubectl-gt"
)

// binDir is where the runner and the scripted agent are built: beside
// hack/testbin.sh's cache, so that `go clean -cache` does not lose them
// and reruns find them.
func (e *Env) binDir() string {
	if e.opts.BinDir != "" {
		return e.opts.BinDir
	}
	return testenv.UserCacheDir("bin")
}

// buildBinaries builds the runner and, for the scripted agent, the agent.
func (e *Env) buildBinaries(ctx context.Context) error {
	root, err := testenv.ProjectRoot()
	if err != nil {
		return err
	}
	dir := e.binDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	e.RunnerPath = filepath.Join(dir, runnerBinary)
	if err := goBuild(ctx, root, e.RunnerPath, "./cmd/polecat"); err != nil {
		return err
	}
	if e.opts.ManagerProcess && e.opts.ManagerBinary != "" {
		e.ManagerPath = e.opts.ManagerBinary
	} else if e.opts.ManagerProcess {
		e.ManagerPath = filepath.Join(dir, managerBinary)
		if err := goBuild(ctx, root, e.ManagerPath, "./cmd/manager"); err != nil {
			return err
		}
	}
	e.KubectlGTPath = filepath.Join(dir, kubectlGTBinary)
	if err := goBuild(ctx, root, e.KubectlGTPath, "./cmd/kubectl-gt"); err != nil {
		return err
	}
	// With pods the scripted agent's image is there for polecats made by
	// hand, whatever the rig's agent.
	if e.opts.Agent == AgentScripted || e.opts.Pods {
		e.AgentPath = filepath.Join(dir, agentBinary)
		if err := goBuild(ctx, root, e.AgentPath, "./test/devenv/scriptedagent"); err != nil {
			return err
		}
	}
	switch e.opts.Agent {
	case AgentClaudeCode, AgentOpenCode:
		// Local polecats find the CLI on the operator's PATH: the pinned one,
		// unless Options name another. Pods run their image's.
		if len(e.opts.AgentCommand) > 0 || e.opts.Pods {
			return nil
		}
		what, envVar := "claude", "GASTOWN_CLAUDE"
		if e.opts.Agent == AgentOpenCode {
			what, envVar = "opencode", "GASTOWN_OPENCODE"
		}
		cli, err := agentCLI(what, envVar)
		if err != nil {
			return err
		}
		e.opts.AgentCommand = []string{cli}
	}
	return nil
}

// goBuild builds pkg into out, statically linked so that it runs in an
// image FROM scratch too. go build leaves an up-to-date out alone, and
// otherwise renames the new binary into place, so a binary that another
// env is running is never written to.
func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %w\n%s", out, pkg, root, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// checkAnthropic settles the agent's key: the one given, else
// $ANTHROPIC_API_KEY for a real endpoint, else a random one for the
// emulator, which then requires it.
func checkAnthropic(opts *Options) error {
	if opts.AnthropicAPIKey == "" && opts.AnthropicURL != "" {
		opts.AnthropicAPIKey = os.Getenv("ANTHROPIC_API_KEY")
		if opts.AnthropicAPIKey == "" {
			return fmt.Errorf("devenv: agent %s against %s needs an API key: set ANTHROPIC_API_KEY or Options.AnthropicAPIKey",
				opts.Agent, opts.AnthropicURL)
		}
	}
	if opts.AnthropicAPIKey == "" {
		opts.AnthropicAPIKey = "sk-ant-devenv-" + randomHex(16)
	}
	return nil
}
