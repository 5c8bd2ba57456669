package polecat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// SecretReader returns the data of a secret in the polecat's namespace.
type SecretReader func(name string) (map[string][]byte, error)

// LocalProcess is the runner as a child process of the operator, for
// executionMode local. Start it with exec.Command(Path, Args[1:]...) and Env;
// when it ends, read ResultFile with ParseResult.
type LocalProcess struct {
	Path string
	Args []string
	// Env is the whole environment of the process: PATH and the proxy and
	// locale settings of the operator's, a HOME and TMPDIR of its own, the
	// runner's configuration and the agent's env with its secrets resolved.
	// Nothing else of the operator's environment reaches the agent.
	Env        []string
	ResultFile string
}

// inheritedEnv are the operator's variables a local agent needs to find
// its CLI and reach the network.
var inheritedEnv = []string{"PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}

// PrepareLocal lays out workDir for a local run and returns the process to
// start: the clone goes to workDir/repo; the agent's HOME is workDir/home,
// so a developer's own agent login is never overwritten; secrets the pod
// would mount are written under workDir/secrets, readable by the owner
// only. workDir should be new and empty; remove it when the run is over.
func PrepareLocal(s Settings, runnerPath, workDir string, secrets SecretReader) (*LocalProcess, error) {
	l := localLayout{dir: workDir}
	for _, d := range []string{l.home(), l.tmp(), l.secrets()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("prepare local run: %w", err)
		}
	}
	agent, err := BuildAgent(s, l.taskFile())
	if err != nil {
		return nil, err
	}
	paths := Paths{RepoDir: l.repo(), TaskFile: l.taskFile(), GitSecretDir: l.secret("git")}
	if s.GitSecret != "" {
		if err := writeSecret(secrets, s.GitSecret, nil, paths.GitSecretDir); err != nil {
			return nil, err
		}
	}
	if err := l.mountVolumes(&agent, secrets); err != nil {
		return nil, err
	}
	agentEnv, err := resolveEnv(agent.Env, secrets)
	if err != nil {
		return nil, err
	}
	config, err := NewRunnerConfig(s, agent, paths).Encode()
	if err != nil {
		return nil, err
	}

	env := make([]string, 0, len(inheritedEnv)+len(agentEnv)+3)
	for _, name := range inheritedEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	env = append(env, "HOME="+l.home(), "TMPDIR="+l.tmp(), ConfigEnv+"="+config)
	env = append(env, agentEnv...)
	result := filepath.Join(workDir, "result.json")
	return &LocalProcess{
		Path:       runnerPath,
		Args:       []string{runnerPath, "local", "--workdir", workDir, "--termination-log", result},
		Env:        env,
		ResultFile: result,
	}, nil
}

type localLayout struct{ dir string }

func (l localLayout) repo() string                { return filepath.Join(l.dir, "repo") }
func (l localLayout) taskFile() string            { return filepath.Join(l.dir, "task.md") }
func (l localLayout) home() string                { return filepath.Join(l.dir, "home") }
func (l localLayout) tmp() string                 { return filepath.Join(l.dir, "tmp") }
func (l localLayout) secrets() string             { return filepath.Join(l.dir, "secrets") }
func (l localLayout) secret(volume string) string { return filepath.Join(l.secrets(), volume) }

// mountVolumes writes the agent's secret volumes to files and points the
// runner's copies and credential check at them. ConfigMaps are not read in
// local mode.
func (l localLayout) mountVolumes(a *Agent, secrets SecretReader) error {
	for _, v := range a.Volumes {
		if v.Secret == nil {
			return fmt.Errorf("volume %s of agent %s cannot be used in executionMode local: only secrets are", v.Name, a.Container)
		}
		dir := l.secret(v.Name)
		optional := v.Secret.Optional != nil && *v.Secret.Optional
		if err := writeSecret(secrets, v.Secret.SecretName, v.Secret.Items, dir); err != nil && !optional {
			return err
		}
		for _, m := range a.Mounts {
			if m.Name == v.Name {
				remapPaths(&a.Command, m.MountPath, dir)
			}
		}
	}
	a.Volumes, a.Mounts = nil, nil
	return nil
}

func remapPaths(c *AgentCommand, from, to string) {
	remap := func(p string) string {
		if p == from || strings.HasPrefix(p, from+"/") {
			return to + strings.TrimPrefix(p, from)
		}
		return p
	}
	for i := range c.Files {
		c.Files[i].From = remap(c.Files[i].From)
	}
	if c.Credentials != nil {
		c.Credentials.File = remap(c.Credentials.File)
	}
}

// writeSecret writes a secret's keys (or the given items) as files in dir,
// as a secret volume would show them.
func writeSecret(secrets SecretReader, name string, items []corev1.KeyToPath, dir string) error {
	data, err := secrets(name)
	if err != nil {
		return fmt.Errorf("read secret %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{}
	if len(items) == 0 {
		files = data
	}
	for _, it := range items {
		if v, ok := data[it.Key]; ok {
			files[it.Path] = v
		}
	}
	for file, value := range files {
		if !filepath.IsLocal(file) {
			return fmt.Errorf("secret %s: key %q is not a file name", name, file)
		}
		if err := os.WriteFile(filepath.Join(dir, file), value, 0o600); err != nil {
			return fmt.Errorf("write secret %s: %w", name, err)
		}
	}
	return nil
}

// resolveEnv turns the agent container's env into a process's, reading
// secretKeyRefs. An optional key that is missing leaves its variable unset,
// as in a pod.
func resolveEnv(env []corev1.EnvVar, secrets SecretReader) ([]string, error) {
	out := make([]string, 0, len(env))
	for _, e := range env {
		if e.ValueFrom == nil {
			out = append(out, e.Name+"="+e.Value)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref == nil {
			return nil, fmt.Errorf("env %s: only values and secretKeyRefs work in executionMode local", e.Name)
		}
		optional := ref.Optional != nil && *ref.Optional
		data, err := secrets(ref.Name)
		if err != nil && !optional {
			return nil, fmt.Errorf("env %s: read secret %s: %w", e.Name, ref.Name, err)
		}
		v, ok := data[ref.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("env %s: secret %s has no key %s", e.Name, ref.Name, ref.Key)
		}
		out = append(out, e.Name+"="+string(v))
	}
	return out, nil
}
