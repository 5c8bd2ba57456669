package polecat

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestBuildAgent(t *testing.T) {
	const task = "/workspace/task.md"
	apiKey := &meta.SecretKeyReference{Name: "keys", Key: "api-key"}
	providerKey := &meta.SecretKeyReference{Name: "litellm", Key: "master-key"}

	tests := []struct {
		name      string
		settings  Settings
		container string
		args      []string
		stdinTask bool
		env       []corev1.EnvVar
		exclude   []string
	}{
		{
			name:      "claude-code with model and max turns",
			settings:  Settings{Agent: gastownv1.AgentClaudeCode, APIKeySecret: apiKey, AgentConfig: gastownv1.AgentConfig{Model: "claude-sonnet-4-5", MaxTurns: ptrTo(int32(40)), Args: []string{"--append-system-prompt", "Be brief."}}},
			container: "claude",
			args: []string{"claude", "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions",
				"--model", "claude-sonnet-4-5", "--max-turns", "40", "--append-system-prompt", "Be brief."},
			stdinTask: true,
			env: []corev1.EnvVar{
				{Name: "DISABLE_AUTOUPDATER", Value: "1"},
				{Name: "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", Value: "1"},
				secretEnv("ANTHROPIC_API_KEY", apiKey, true),
			},
		},
		{
			name:      "claude-code through an Anthropic-compatible endpoint",
			settings:  Settings{Agent: gastownv1.AgentClaudeCode, APIKeySecret: apiKey, AgentConfig: gastownv1.AgentConfig{ModelProvider: &gastownv1.ModelProvider{Endpoint: "https://llm.example.com", APIKeySecretRef: &meta.SecretKeyReference{Name: "proxy"}}}},
			container: "claude",
			args:      []string{"claude", "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"},
			stdinTask: true,
			env: []corev1.EnvVar{
				{Name: "DISABLE_AUTOUPDATER", Value: "1"},
				{Name: "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", Value: "1"},
				{Name: "ANTHROPIC_BASE_URL", Value: "https://llm.example.com"},
				secretEnv("ANTHROPIC_API_KEY", &meta.SecretKeyReference{Name: "proxy", Key: "api-key"}, true),
			},
		},
		{
			name:      "claude-code with a command override and user env",
			settings:  Settings{Agent: gastownv1.AgentClaudeCode, AgentConfig: gastownv1.AgentConfig{Command: []string{"npx", "@anthropic-ai/claude-code"}, Env: []corev1.EnvVar{{Name: "DISABLE_AUTOUPDATER", Value: "0"}, {Name: "DEBUG", Value: "1"}}}},
			container: "claude",
			args:      []string{"npx", "@anthropic-ai/claude-code", "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"},
			stdinTask: true,
			env:       []corev1.EnvVar{{Name: "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", Value: "1"}, {Name: "DISABLE_AUTOUPDATER", Value: "0"}, {Name: "DEBUG", Value: "1"}},
		},
		{
			name:      "opencode with provider and model",
			settings:  Settings{Agent: gastownv1.AgentOpenCode, APIKeySecret: apiKey, AgentConfig: gastownv1.AgentConfig{Provider: "anthropic", Model: "claude-sonnet-4-5", Args: []string{"--agent", "build"}}},
			container: "opencode",
			args:      []string{"opencode", "run", "--format", "json", "--model", "anthropic/claude-sonnet-4-5", "--agent", "build"},
			stdinTask: true,
			env:       []corev1.EnvVar{secretEnv("ANTHROPIC_API_KEY", apiKey, false)},
		},
		{
			// claude's endpoint, the API's root: opencode's provider wants
			// the /v1 in it.
			name:      "opencode through an Anthropic-compatible endpoint",
			settings:  Settings{Agent: gastownv1.AgentOpenCode, AgentConfig: gastownv1.AgentConfig{Provider: "anthropic", Model: "claude-sonnet-4-5", ModelProvider: &gastownv1.ModelProvider{Endpoint: "https://llm.example.com/anthropic/", APIKeySecretRef: providerKey}}},
			container: "opencode",
			args:      []string{"opencode", "run", "--format", "json", "--model", "anthropic/claude-sonnet-4-5"},
			stdinTask: true,
			env: []corev1.EnvVar{
				{Name: "ANTHROPIC_BASE_URL", Value: "https://llm.example.com/anthropic/v1"},
				secretEnv("ANTHROPIC_API_KEY", providerKey, false),
			},
		},
		{
			name:      "opencode through an Anthropic endpoint given with its /v1",
			settings:  Settings{Agent: gastownv1.AgentOpenCode, AgentConfig: gastownv1.AgentConfig{Provider: "anthropic", ModelProvider: &gastownv1.ModelProvider{Endpoint: "http://emu:8080/v1/"}}},
			container: "opencode",
			args:      []string{"opencode", "run", "--format", "json"},
			stdinTask: true,
			env:       []corev1.EnvVar{{Name: "ANTHROPIC_BASE_URL", Value: "http://emu:8080/v1"}},
		},
		{
			name:      "opencode with a qualified model and an OpenAI-compatible endpoint",
			settings:  Settings{Agent: gastownv1.AgentOpenCode, AgentConfig: gastownv1.AgentConfig{Provider: "openai", Model: "local/qwen", ModelProvider: &gastownv1.ModelProvider{Endpoint: "http://llm:4000/v1", APIKeySecretRef: providerKey}}},
			container: "opencode",
			args:      []string{"opencode", "run", "--format", "json", "--model", "local/qwen"},
			stdinTask: true,
			env: []corev1.EnvVar{
				{Name: "OPENAI_BASE_URL", Value: "http://llm:4000/v1"},
				secretEnv("OPENAI_API_KEY", providerKey, false),
			},
		},
		{
			name:      "aider through a LiteLLM proxy",
			settings:  Settings{Agent: gastownv1.AgentAider, AgentConfig: gastownv1.AgentConfig{Provider: "litellm", Model: "claude-sonnet-4-5", ModelProvider: &gastownv1.ModelProvider{Endpoint: "http://litellm:4000", APIKeySecretRef: providerKey}}},
			container: "aider",
			args: []string{"aider", "--yes-always", "--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
				"--no-check-update", "--no-show-model-warnings", "--message-file", task, "--model", "openai/claude-sonnet-4-5"},
			env: []corev1.EnvVar{
				{Name: "OPENAI_API_BASE", Value: "http://litellm:4000"},
				secretEnv("OPENAI_API_KEY", providerKey, false),
			},
			exclude: []string{".aider*"},
		},
		{
			name:      "aider with ollama",
			settings:  Settings{Agent: gastownv1.AgentAider, AgentConfig: gastownv1.AgentConfig{Provider: "ollama", Model: "qwen2.5-coder", ModelProvider: &gastownv1.ModelProvider{Endpoint: "http://ollama:11434"}}},
			container: "aider",
			args: []string{"aider", "--yes-always", "--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
				"--no-check-update", "--no-show-model-warnings", "--message-file", task, "--model", "ollama/qwen2.5-coder"},
			env:     []corev1.EnvVar{{Name: "OLLAMA_API_BASE", Value: "http://ollama:11434"}},
			exclude: []string{".aider*"},
		},
		{
			name:      "custom",
			settings:  Settings{Agent: gastownv1.AgentCustom, APIKeySecret: apiKey, AgentConfig: gastownv1.AgentConfig{Image: "example/agent", Command: []string{"/agent", "--task-file", TaskFileArg}, Args: []string{"--fast"}, Model: "m1", Provider: "openai", ModelProvider: &gastownv1.ModelProvider{Endpoint: "http://llm"}}},
			container: "agent",
			args:      []string{"/agent", "--task-file", TaskFileArg, "--fast"},
			env: []corev1.EnvVar{
				{Name: EnvModel, Value: "m1"},
				{Name: EnvModelProvider, Value: "openai"},
				{Name: EnvModelEndpoint, Value: "http://llm"},
				secretEnv(EnvModelAPIKey, apiKey, false),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := BuildAgent(tt.settings, task)
			if err != nil {
				t.Fatal(err)
			}
			if a.Container != tt.container {
				t.Errorf("container = %s, want %s", a.Container, tt.container)
			}
			if a.Command.Type != tt.settings.Agent {
				t.Errorf("type = %s", a.Command.Type)
			}
			if diff := cmp.Diff(tt.args, a.Command.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if a.Command.StdinTask != tt.stdinTask {
				t.Errorf("stdin task = %v, want %v", a.Command.StdinTask, tt.stdinTask)
			}
			if diff := cmp.Diff(tt.env, a.Env); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.exclude, a.Command.Exclude); diff != "" {
				t.Errorf("exclude (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClaudeCredentials: both of the seed README's claude-credentials
// secrets work with apiKeySecretRef {claude-credentials, api-key}: the key
// is an optional env var and .credentials.json an optional mount, and the
// runner's check explains a secret with neither.
func TestClaudeCredentials(t *testing.T) {
	tests := []struct {
		name        string
		apiKey      *meta.SecretKeyReference
		creds       string
		wantSecret  string
		wantKeyEnv  bool
		wantHint    string
		wantNoFiles bool
	}{
		{
			name:       "seed secret: API key reference, OAuth from the same secret",
			apiKey:     &meta.SecretKeyReference{Name: "claude-credentials", Key: "api-key"},
			wantSecret: "claude-credentials",
			wantKeyEnv: true,
			wantHint:   "secret claude-credentials has neither key api-key (an API key) nor key .credentials.json",
		},
		{
			name:       "separate OAuth secret",
			apiKey:     &meta.SecretKeyReference{Name: "keys", Key: "api-key"},
			creds:      "oauth",
			wantSecret: "oauth",
			wantKeyEnv: true,
			wantHint:   "neither key api-key of secret keys nor key .credentials.json of secret oauth is set",
		},
		{
			name:       "OAuth only",
			creds:      "oauth",
			wantSecret: "oauth",
			wantHint:   "secret oauth has no key .credentials.json",
		},
		{
			name:        "nothing set",
			wantHint:    "set spec.kubernetes.apiKeySecretRef (an API key) or spec.kubernetes.claudeCredsSecretRef",
			wantNoFiles: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := BuildAgent(Settings{Agent: gastownv1.AgentClaudeCode, APIKeySecret: tt.apiKey, ClaudeCredentialsSecret: tt.creds}, "/workspace/task.md")
			if err != nil {
				t.Fatal(err)
			}
			hasKeyEnv := false
			for _, e := range a.Env {
				if e.Name == "ANTHROPIC_API_KEY" {
					hasKeyEnv = true
					if opt := e.ValueFrom.SecretKeyRef.Optional; opt == nil || !*opt {
						t.Error("the API key env is not optional: an OAuth-only secret would stop the pod")
					}
				}
			}
			if hasKeyEnv != tt.wantKeyEnv {
				t.Errorf("API key env = %v, want %v", hasKeyEnv, tt.wantKeyEnv)
			}
			if tt.wantSecret == "" {
				if len(a.Volumes) != 0 || len(a.Mounts) != 0 {
					t.Errorf("volumes %v mounts %v, want none", a.Volumes, a.Mounts)
				}
			} else {
				wantVolume := corev1.Volume{Name: "claude-credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName:  tt.wantSecret,
					Items:       []corev1.KeyToPath{{Key: ".credentials.json", Path: ".credentials.json"}},
					DefaultMode: ptrTo(int32(0o440)),
					Optional:    ptrTo(true),
				}}}
				if diff := cmp.Diff([]corev1.Volume{wantVolume}, a.Volumes); diff != "" {
					t.Errorf("volumes (-want +got):\n%s", diff)
				}
			}
			if tt.wantNoFiles != (len(a.Command.Files) == 0) {
				t.Errorf("files = %v", a.Command.Files)
			}
			c := a.Command.Credentials
			if c == nil || c.File != "/var/run/gastown/claude/.credentials.json" || !strings.Contains(c.Hint, tt.wantHint) {
				t.Errorf("credential check = %+v, want hint %q", c, tt.wantHint)
			}
		})
	}
}

func TestBuildAgentErrors(t *testing.T) {
	if _, err := BuildAgent(Settings{Agent: gastownv1.AgentCustom}, "/t"); err == nil {
		t.Error("custom agent without a command built")
	}
	if _, err := BuildAgent(Settings{Agent: "vim"}, "/t"); err == nil {
		t.Error("unknown agent built")
	}
}
