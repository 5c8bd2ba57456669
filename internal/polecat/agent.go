package polecat

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Placeholders the runner replaces in an agent's arguments, in the syntax
// Kubernetes uses for container args.
const (
	// TaskArg becomes the prompt's text.
	TaskArg = "$(GASTOWN_TASK)"
	// TaskFileArg becomes the prompt file's path.
	TaskFileArg = "$(GASTOWN_TASK_FILE)"
)

// Environment variables the runner gives the agent (besides the agent
// container's own env, minus ConfigEnv).
const (
	// EnvTask is the prompt's text (a pointer to EnvTaskFile when the prompt
	// is too long for the environment).
	EnvTask = "GASTOWN_TASK"
	// EnvTaskFile is the path of the prompt file.
	EnvTaskFile = "GASTOWN_TASK_FILE"
	// EnvBeadID is the bead being worked on.
	EnvBeadID = "GASTOWN_BEAD_ID"
	// EnvRepoDir is the clone the agent works in (also its working directory).
	EnvRepoDir = "GASTOWN_REPO_DIR"
)

// Environment variables the custom agent gets from its configuration.
const (
	EnvModel          = "GASTOWN_MODEL"
	EnvModelProvider  = "GASTOWN_MODEL_PROVIDER"
	EnvModelEndpoint  = "GASTOWN_MODEL_ENDPOINT"
	EnvModelAPIKey    = "GASTOWN_MODEL_API_KEY"
	EnvAgentConfigDir = "GASTOWN_AGENT_CONFIG_DIR"
)

// Agent is how one agent runs in a polecat pod: its container, what the
// runner starts in it, and the secrets only that container sees.
type Agent struct {
	// Container is the agent container's name, after the agent: claude for
	// claude-code, as the seed README's kubectl logs -c claude expects.
	Container string
	// Command is what the runner starts, as a child process.
	Command AgentCommand
	// Env of the agent container: the agent's settings, and its keys as
	// secretKeyRefs.
	Env []corev1.EnvVar
	// Volumes and Mounts of secrets and configuration for the agent
	// container alone.
	Volumes []corev1.Volume
	Mounts  []corev1.VolumeMount
}

// AgentCommand is what the runner starts, in the repository's directory.
type AgentCommand struct {
	Type gastownv1.AgentType `json:"type"`
	// Args are the agent's argv; Args[0] is looked up in PATH. TaskArg and
	// TaskFileArg are replaced.
	Args []string `json:"args"`
	// StdinTask feeds the prompt to the agent's standard input.
	StdinTask bool `json:"stdinTask,omitempty"`
	// Files are copied before the agent starts: credentials and
	// configuration the agent must find in (and may write to) its home,
	// from read-only mounts.
	Files []FileCopy `json:"files,omitempty"`
	// Credentials, when set, must be present before the agent starts.
	Credentials *CredentialCheck `json:"credentials,omitempty"`
	// Exclude are gitignore patterns for the agent's own files in the
	// repository, written to .git/info/exclude so they are never committed.
	Exclude []string `json:"exclude,omitempty"`
}

// FileCopy copies a file, or the files of a directory, when it exists.
type FileCopy struct {
	From string `json:"from"`
	// To is relative to $HOME unless absolute.
	To string `json:"to"`
}

// CredentialCheck fails a run early and clearly when an agent has no way to
// authenticate: one of Env must be non-empty, or File must exist.
type CredentialCheck struct {
	Env  []string `json:"env,omitempty"`
	File string   `json:"file,omitempty"`
	// Hint tells the user what to set. It names secrets and keys, never
	// values.
	Hint string `json:"hint"`
}

// Volume names and mount paths of agent configuration.
const (
	claudeCredsVolume  = "claude-credentials"
	agentConfigVolume  = "agent-config"
	claudeCredsFile    = ".credentials.json"
	anthropicKeyEnv    = "ANTHROPIC_API_KEY"
	openAIKeyEnv       = "OPENAI_API_KEY"
	secretDefaultMode  = int32(0o440)
	configMapReadModes = int32(0o444)
)

// BuildAgent returns how the resolved agent runs, reading its prompt from
// taskFile.
func BuildAgent(s Settings, taskFile string) (Agent, error) {
	var (
		a   Agent
		err error
	)
	switch s.Agent {
	case gastownv1.AgentClaudeCode:
		a = claudeCode(s, taskFile)
	case gastownv1.AgentOpenCode:
		a = openCode(s)
	case gastownv1.AgentAider:
		a = aider(s, taskFile)
	case gastownv1.AgentCustom:
		a, err = custom(s)
	default:
		err = fmt.Errorf("unknown agent %q", s.Agent)
	}
	if err != nil {
		return Agent{}, err
	}
	a.Command.Type = s.Agent
	addAgentConfigMap(&a, s)
	a.Env = mergeEnv(a.Env, s.AgentConfig.Env)
	return a, nil
}

// claudeCode runs `claude -p` headless. Output is stream-json (one JSON
// event per line, ending with the result and its cost): it shows progress
// in the container log while the agent works, which the Witness's
// no-output check relies on, and ends with the same result object as
// --output-format json. Permissions are skipped: the pod is the sandbox
// (no service account token, no privileges, nothing but the clone).
func claudeCode(s Settings, taskFile string) Agent {
	cfg := s.AgentConfig
	args := commandOr(cfg.Command, "claude")
	args = append(args, "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions")
	if cfg.Model != "" {
		args = append(args, "--model", cfg.Model)
	}
	if cfg.MaxTurns != nil {
		args = append(args, "--max-turns", strconv.Itoa(int(*cfg.MaxTurns)))
	}
	args = append(args, cfg.Args...)

	a := Agent{
		Container: "claude",
		Command:   AgentCommand{Args: args, StdinTask: true},
		Env: []corev1.EnvVar{
			// The image is read-only: no self-update.
			{Name: "DISABLE_AUTOUPDATER", Value: "1"},
			// The agent needs its model endpoint only: no telemetry, error
			// reports or update checks leave the pod.
			{Name: "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", Value: "1"},
		},
	}
	keySecret := s.APIKeySecret
	if mp := cfg.ModelProvider; mp != nil {
		if mp.Endpoint != "" {
			a.Env = append(a.Env, corev1.EnvVar{Name: "ANTHROPIC_BASE_URL", Value: mp.Endpoint})
		}
		if mp.APIKeySecretRef != nil {
			keySecret = apiKeySecret(mp.APIKeySecretRef)
		}
	}
	if keySecret != nil {
		// Optional: the seed's claude-credentials secret holds either
		// api-key or .credentials.json; the runner's credential check
		// explains a secret that has neither.
		a.Env = append(a.Env, secretEnv(anthropicKeyEnv, keySecret, true))
	}

	// OAuth credentials: the claude-credentials secret's .credentials.json,
	// which is the API key's secret in the seed README's option B.
	credsSecret := s.ClaudeCredentialsSecret
	if credsSecret == "" && keySecret != nil {
		credsSecret = keySecret.Name
	}
	credsFile := path.Join(ClaudeCredsDir, claudeCredsFile)
	if credsSecret != "" {
		optional := true
		a.Volumes = append(a.Volumes, corev1.Volume{
			Name: claudeCredsVolume,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName:  credsSecret,
				Items:       []corev1.KeyToPath{{Key: claudeCredsFile, Path: claudeCredsFile}},
				DefaultMode: ptrTo(secretDefaultMode),
				Optional:    &optional,
			}},
		})
		a.Mounts = append(a.Mounts, corev1.VolumeMount{Name: claudeCredsVolume, MountPath: ClaudeCredsDir, ReadOnly: true})
		// claude refreshes its OAuth token in place: it needs a writable copy.
		a.Command.Files = append(a.Command.Files, FileCopy{From: credsFile, To: ".claude/" + claudeCredsFile})
	}
	a.Command.Credentials = &CredentialCheck{
		Env:  []string{anthropicKeyEnv, "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"},
		File: credsFile,
		Hint: claudeCredentialsHint(keySecret, credsSecret),
	}
	return a
}

func claudeCredentialsHint(key *meta.SecretKeyReference, creds string) string {
	switch {
	case key == nil && creds == "":
		return "no Anthropic credentials: set spec.kubernetes.apiKeySecretRef (an API key) or " +
			"spec.kubernetes.claudeCredsSecretRef (OAuth credentials), on the polecat or its rig"
	case key != nil && key.Name == creds:
		return fmt.Sprintf("no Anthropic credentials: secret %s has neither key %s (an API key) nor key %s "+
			"(OAuth credentials from claude /login)", creds, key.Key, claudeCredsFile)
	case key != nil && creds != "":
		return fmt.Sprintf("no Anthropic credentials: neither key %s of secret %s nor key %s of secret %s is set",
			key.Key, key.Name, claudeCredsFile, creds)
	case key != nil:
		return fmt.Sprintf("no Anthropic credentials: secret %s has no key %s", key.Name, key.Key)
	default:
		return fmt.Sprintf("no Anthropic credentials: secret %s has no key %s", creds, claudeCredsFile)
	}
}

// openCode runs `opencode run` headless. The prompt goes to its standard
// input, which opencode reads as the message when it is not a terminal: a
// message argument would reach the model quoted, with its quotes escaped.
// --format json prints an event a line (steps with their tokens and cost,
// tool calls, texts, errors), for ParseOutput and for the container log's
// progress. A model endpoint other than Anthropic's or OpenAI's needs a
// provider in an opencode.json, given through agentConfig.configMapRef.
func openCode(s Settings) Agent {
	cfg := s.AgentConfig
	args := commandOr(cfg.Command, "opencode")
	args = append(args, "run", "--format", "json")
	if model := providerModel(cfg.Provider, cfg.Model); model != "" {
		args = append(args, "--model", model)
	}
	args = append(args, cfg.Args...)
	return Agent{
		Container: "opencode",
		Command:   AgentCommand{Args: args, StdinTask: true},
		Env:       providerEnv(s),
	}
}

// aider runs aider on the prompt file, answering yes to its questions and
// leaving commits to the runner. Its history files and caches stay out of
// the commit.
func aider(s Settings, taskFile string) Agent {
	cfg := s.AgentConfig
	args := commandOr(cfg.Command, "aider")
	args = append(args,
		"--yes-always",
		"--no-auto-commits",
		"--no-dirty-commits",
		"--no-gitignore",
		"--no-check-update",
		"--no-show-model-warnings",
		"--message-file", taskFile,
	)
	if model := aiderModel(cfg.Provider, cfg.Model); model != "" {
		args = append(args, "--model", model)
	}
	args = append(args, cfg.Args...)
	return Agent{
		Container: "aider",
		Command:   AgentCommand{Args: args, Exclude: []string{".aider*"}},
		Env:       providerEnv(s),
	}
}

// custom runs the user's command in the user's image. It reads the prompt
// from GASTOWN_TASK or GASTOWN_TASK_FILE (or TaskArg in its args).
func custom(s Settings) (Agent, error) {
	cfg := s.AgentConfig
	if len(cfg.Command) == 0 {
		return Agent{}, fmt.Errorf("agent custom needs spec.agentConfig.command")
	}
	args := append(append([]string(nil), cfg.Command...), cfg.Args...)
	var env []corev1.EnvVar
	add := func(name, value string) {
		if value != "" {
			env = append(env, corev1.EnvVar{Name: name, Value: value})
		}
	}
	add(EnvModel, cfg.Model)
	add(EnvModelProvider, cfg.Provider)
	key := s.APIKeySecret
	if mp := cfg.ModelProvider; mp != nil {
		add(EnvModelEndpoint, mp.Endpoint)
		if mp.APIKeySecretRef != nil {
			key = apiKeySecret(mp.APIKeySecretRef)
		}
	}
	if key != nil {
		env = append(env, secretEnv(EnvModelAPIKey, key, false))
	}
	return Agent{Container: "agent", Command: AgentCommand{Args: args}, Env: env}, nil
}

// providerEnv gives opencode and aider their endpoint and key in the
// variables their providers read.
func providerEnv(s Settings) []corev1.EnvVar {
	cfg := s.AgentConfig
	var env []corev1.EnvVar
	key := s.APIKeySecret
	if mp := cfg.ModelProvider; mp != nil {
		if mp.APIKeySecretRef != nil {
			key = apiKeySecret(mp.APIKeySecretRef)
		}
		if mp.Endpoint != "" {
			name, value := endpointEnv(s.Agent, cfg.Provider, mp.Endpoint)
			env = append(env, corev1.EnvVar{Name: name, Value: value})
		}
	}
	if key != nil {
		env = append(env, secretEnv(keyEnv(cfg.Provider), key, false))
	}
	return env
}

func keyEnv(provider string) string {
	if provider == "anthropic" {
		return anthropicKeyEnv
	}
	// openai, litellm (an OpenAI-compatible proxy), or unset.
	return openAIKeyEnv
}

// endpointEnv is the variable an agent's provider reads its base URL from,
// and the value it wants there. An Anthropic endpoint is the API's root,
// without /v1, as claude takes it in ANTHROPIC_BASE_URL; an OpenAI-
// compatible one is the base URL the OpenAI SDKs take (usually ending in
// /v1), given as it is.
func endpointEnv(agent gastownv1.AgentType, provider, endpoint string) (name, value string) {
	opencode := agent == gastownv1.AgentOpenCode
	switch {
	case provider == "anthropic" && opencode:
		// opencode's anthropic provider (@ai-sdk/anthropic) reads the
		// same variable but appends only /messages to it.
		return "ANTHROPIC_BASE_URL", withV1(endpoint)
	case provider == "anthropic":
		return "ANTHROPIC_BASE_URL", endpoint
	case provider == "ollama":
		return "OLLAMA_API_BASE", endpoint
	case opencode:
		// opencode's openai provider (@ai-sdk/openai) reads
		// OPENAI_BASE_URL; OPENAI_API_BASE is LiteLLM's name, for aider.
		return "OPENAI_BASE_URL", endpoint
	default:
		return "OPENAI_API_BASE", endpoint
	}
}

// withV1 is an Anthropic API root with the version path the Messages
// endpoint lives under, unless it is there already.
func withV1(endpoint string) string {
	endpoint = strings.TrimRight(endpoint, "/")
	if strings.HasSuffix(endpoint, "/v1") {
		return endpoint
	}
	return endpoint + "/v1"
}

// providerModel is opencode's provider/model form.
func providerModel(provider, model string) string {
	if model == "" || provider == "" || strings.Contains(model, "/") {
		return model
	}
	return provider + "/" + model
}

// aiderModel is aider's (LiteLLM's) model name: a LiteLLM proxy speaks the
// OpenAI API.
func aiderModel(provider, model string) string {
	if provider == "litellm" {
		provider = "openai"
	}
	return providerModel(provider, model)
}

// agentConfigDirs are where each agent reads configuration files, relative
// to $HOME.
var agentConfigDirs = map[gastownv1.AgentType]string{
	gastownv1.AgentClaudeCode: ".claude",
	gastownv1.AgentOpenCode:   ".config/opencode",
	gastownv1.AgentAider:      ".",
}

// addAgentConfigMap mounts agentConfig.configMapRef read-only and has the
// runner copy its files into the agent's configuration directory, which
// must stay writable; a custom agent finds them at EnvAgentConfigDir.
func addAgentConfigMap(a *Agent, s Settings) {
	ref := s.AgentConfig.ConfigMapRef
	if ref == nil || ref.Name == "" {
		return
	}
	a.Volumes = append(a.Volumes, corev1.Volume{
		Name: agentConfigVolume,
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
			DefaultMode:          ptrTo(configMapReadModes),
		}},
	})
	a.Mounts = append(a.Mounts, corev1.VolumeMount{Name: agentConfigVolume, MountPath: AgentConfigDir, ReadOnly: true})
	if dir, ok := agentConfigDirs[s.Agent]; ok {
		a.Command.Files = append(a.Command.Files, FileCopy{From: AgentConfigDir, To: dir})
		return
	}
	a.Env = append(a.Env, corev1.EnvVar{Name: EnvAgentConfigDir, Value: AgentConfigDir})
}

func secretEnv(name string, ref *meta.SecretKeyReference, optional bool) corev1.EnvVar {
	sel := &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
		Key:                  ref.Key,
	}
	if optional {
		sel.Optional = &optional
	}
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: sel}}
}

// mergeEnv appends the user's env to the agent's; a user variable replaces
// the agent's of the same name.
func mergeEnv(agent, user []corev1.EnvVar) []corev1.EnvVar {
	if len(user) == 0 {
		return agent
	}
	override := map[string]bool{}
	for _, e := range user {
		override[e.Name] = true
	}
	out := make([]corev1.EnvVar, 0, len(agent)+len(user))
	for _, e := range agent {
		if !override[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, user...)
}

func commandOr(command []string, def string) []string {
	if len(command) > 0 {
		return append([]string(nil), command...)
	}
	return []string{def}
}

func ptrTo[T any](v T) *T { return &v }
