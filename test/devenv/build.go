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
	runnerBinary = "gastown-polecat"
	agentBinary  = "gastown-scripted-agent"
)

// binDir is where the runner and the scripted agent are built: beside
// hack/testbin.sh's cache, so that `go clean -cache` does not lose them
// and reruns find them.
func (e *Env) binDir() string {
	if e.opts.BinDir != "" {
		return e.opts.BinDir
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".cache")
		} else {
			base = os.TempDir()
		}
	}
	return filepath.Join(base, "gastown-operator", "bin")
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
	if e.opts.Agent != AgentScripted {
		return nil
	}
	e.AgentPath = filepath.Join(dir, agentBinary)
	return goBuild(ctx, root, e.AgentPath, "./test/devenv/scriptedagent")
}

// goBuild builds pkg into out. go build leaves an up-to-date out alone, and
// otherwise renames the new binary into place, so a binary that another
// env is running is never written to.
func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %w\n%s", out, pkg, root, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// checkClaude fails early when claude-code cannot run: local polecats find
// the CLI on the operator's PATH, which is this process's.
func checkClaude(opts *Options) error {
	if len(opts.ClaudeCommand) == 0 {
		opts.ClaudeCommand = []string{"claude"}
	}
	if _, err := exec.LookPath(opts.ClaudeCommand[0]); err != nil {
		return fmt.Errorf("devenv: agent %s needs the claude CLI: %w (install it, or set Options.ClaudeCommand)",
			AgentClaudeCode, err)
	}
	if opts.AnthropicAPIKey == "" {
		opts.AnthropicAPIKey = os.Getenv("ANTHROPIC_API_KEY")
	}
	if opts.AnthropicAPIKey == "" {
		return fmt.Errorf("devenv: agent %s needs an Anthropic API key: set ANTHROPIC_API_KEY or Options.AnthropicAPIKey",
			AgentClaudeCode)
	}
	return nil
}
