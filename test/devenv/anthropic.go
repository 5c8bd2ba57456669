package devenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/anthropicemu"
)

// startAnthropic starts the Anthropic Messages API emulator that the agent
// CLIs talk to, unless Options.AnthropicURL names a real endpoint.
func (e *Env) startAnthropic(context.Context) error {
	if e.opts.AnthropicURL != "" {
		e.AnthropicURL = e.opts.AnthropicURL
		return nil
	}
	emu, err := anthropicemu.Start(anthropicemu.Options{APIKey: e.opts.AnthropicAPIKey})
	if err != nil {
		return err
	}
	e.Anthropic, e.AnthropicURL = emu, emu.URL()
	e.endpoints.AnthropicAPI = emu.URL()
	return nil
}

// agentCLI finds an agent CLI for local polecats: the one Options name, else
// the pinned version hack/agent-clis.sh installs (GASTOWN_CLAUDE or
// GASTOWN_OPENCODE when set).
func agentCLI(what, envVar string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	root, err := testenv.ProjectRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("hack/agent-clis.sh", what)
	cmd.Dir = root
	cmd.Stderr = os.Stderr // the first install shows its progress
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("installing the %s CLI with hack/agent-clis.sh %s: %w", what, what, err)
	}
	return strings.TrimSpace(string(out)), nil
}
