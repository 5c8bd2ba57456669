package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/gitops"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

// maxEnvPrompt bounds the prompt passed in GASTOWN_TASK or as an argument:
// Linux refuses a single argument or environment string over 128 KiB.
const maxEnvPrompt = 100 << 10

// stopGrace is how long the agent has to exit after SIGTERM before it is
// killed; it leaves the runner time to report within the pod's 30s grace.
const stopGrace = 20 * time.Second

// maxOutputTail is how much of the agent's output is kept for its figures,
// which come last.
const maxOutputTail = 1 << 20

// prepareAgent writes the prompt and sets the agent's home up.
func (r *Runner) prepareAgent(repo *gitops.Repo, prompt string) error {
	c := r.Config
	if err := os.MkdirAll(filepath.Dir(c.TaskFile), 0o755); err != nil {
		return configError(fmt.Errorf("write the task file: %w", err))
	}
	if err := os.WriteFile(c.TaskFile, []byte(prompt), 0o644); err != nil {
		return configError(fmt.Errorf("write the task file: %w", err))
	}
	if err := repo.Exclude(c.Agent.Exclude...); err != nil {
		return configError(err)
	}
	if err := copyFiles(c.Agent.Files); err != nil {
		return configError(err)
	}
	return checkCredentials(c.Agent.Credentials)
}

// agentRun is how the agent's process ended.
type agentRun struct {
	exitCode *int32
	// signal killed the agent, when one did; oom says it was the kernel's
	// OOM killer.
	signal  string
	oom     bool
	figures polecat.Figures
	// err is an AgentFailed or Error failure, nil when the agent succeeded.
	err error
}

// runAgent runs the agent in the clone with its output streamed to the
// container log. When ctx ends (SIGTERM to the runner) the agent's process
// group gets SIGTERM, then SIGKILL after stopGrace.
func (r *Runner) runAgent(ctx context.Context, prompt string) agentRun {
	c := r.Config
	args := expandArgs(c.Agent.Args, prompt, c.TaskFile)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = c.RepoDir
	cmd.Env = agentEnv(os.Environ(), c, prompt)
	tail := &tailBuffer{max: maxOutputTail}
	// The agent's output reaches the container log without the secrets
	// it was given, should it print them.
	stdout := &lineRedactor{w: r.Stdout, scrub: r.scrub}
	stderr := &lineRedactor{w: r.Stderr, scrub: r.scrub}
	defer stdout.Close()
	defer stderr.Close()
	cmd.Stdout = io.MultiWriter(stdout, tail)
	cmd.Stderr = stderr
	if c.Agent.StdinTask {
		stdin, err := os.Open(c.TaskFile)
		if err != nil {
			return agentRun{err: configError(err)}
		}
		defer stdin.Close()
		cmd.Stdin = stdin
	}
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return terminateGroup(cmd) }
	cmd.WaitDelay = stopGrace

	r.logf("running the agent: %s", strings.Join(c.Agent.Args, " "))
	oomBefore := oomKills()
	err := cmd.Run()
	run := agentRun{figures: polecat.ParseOutput(c.Agent.Type, tail.Bytes())}
	if ps := cmd.ProcessState; ps != nil {
		code := int32(ps.ExitCode())
		if sig, name, ok := killedBy(ps); ok {
			// As a shell reports it: 128 + the signal's number.
			code, run.signal = 128+int32(sig), name
			// The OOM killer picks the biggest process of the container:
			// the agent, while the runner lives on to say so.
			run.oom = oomBefore >= 0 && oomKills() > oomBefore
		}
		run.exitCode = &code
	}
	run.err = agentError(ctx, err, run)
	return run
}

// agentError says why the agent's run failed, or nil.
func agentError(ctx context.Context, err error, run agentRun) error {
	failed := func(format string, args ...any) error {
		return &failure{outcome: gastownv1.OutcomeAgentFailed, err: fmt.Errorf(format, args...)}
	}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return failed("the agent was stopped: the runner was asked to terminate (pod deadline, deletion or eviction)")
	case run.oom:
		return failed("the agent was killed by %s: out of memory (OOM), at the container's memory limit: "+
			"raise the polecat's resources.limits.memory", run.signal)
	case run.signal != "":
		return failed("the agent was killed by %s", run.signal)
	case errors.As(err, &exitErr) && run.figures.IsError && run.figures.ErrorKind != "":
		return failed("the agent exited with code %d and reported an error (%s)", exitErr.ExitCode(), run.figures.ErrorKind)
	case errors.As(err, &exitErr):
		return failed("the agent exited with code %d", exitErr.ExitCode())
	case errors.Is(err, exec.ErrNotFound):
		return configError(fmt.Errorf("start the agent: %w (is it installed in the agent image?)", err))
	case err != nil:
		return configError(fmt.Errorf("start the agent: %w", err))
	case run.figures.IsError:
		return failed("the agent reported an error (%s)", orUnknown(run.figures.ErrorKind))
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// expandArgs replaces the task placeholders in the agent's arguments.
func expandArgs(args []string, prompt, taskFile string) []string {
	task := prompt
	if len(task) > maxEnvPrompt {
		task = "Read the task in " + taskFile + " and do it."
	}
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, polecat.TaskFileArg, taskFile)
		out[i] = strings.ReplaceAll(a, polecat.TaskArg, task)
	}
	return out
}

// agentEnv is the agent's environment: the container's, without the
// runner's own configuration, plus the task.
func agentEnv(environ []string, c polecat.RunnerConfig, prompt string) []string {
	task := prompt
	if len(task) > maxEnvPrompt {
		task = "The task is too long for the environment: read " + c.TaskFile
	}
	env := make([]string, 0, len(environ)+4)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case polecat.ConfigEnv, polecat.TerminationLogEnv,
			polecat.EnvTask, polecat.EnvTaskFile, polecat.EnvBeadID, polecat.EnvRepoDir:
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		polecat.EnvTask+"="+task,
		polecat.EnvTaskFile+"="+c.TaskFile,
		polecat.EnvRepoDir+"="+c.RepoDir,
	)
	if c.BeadID != "" {
		env = append(env, polecat.EnvBeadID+"="+c.BeadID)
	}
	return env
}

// copyFiles copies credentials and configuration from read-only mounts
// into the agent's home. Sources that do not exist are skipped: they come
// from optional secret keys.
func copyFiles(files []polecat.FileCopy) error {
	home, err := os.UserHomeDir()
	if err != nil {
		return fmt.Errorf("copy agent files: %w", err)
	}
	for _, f := range files {
		to := f.To
		if !filepath.IsAbs(to) {
			to = filepath.Join(home, to)
		}
		if err := copyPath(f.From, to); err != nil {
			return fmt.Errorf("copy %s to %s: %w", f.From, to, err)
		}
	}
	return nil
}

func copyPath(from, to string) error {
	info, err := os.Stat(from)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		return writePrivate(to, data)
	}
	// A mounted secret or ConfigMap: its files, without the kubelet's own.
	entries, err := gitops.ReadSecretDir(from)
	if err != nil {
		return err
	}
	for name, data := range entries {
		if err := writePrivate(filepath.Join(to, name), data); err != nil {
			return err
		}
	}
	return nil
}

// writePrivate writes a file only its owner can read: copies may be
// credentials.
func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// checkCredentials fails early, with the hint, when the agent has no way
// to authenticate.
func checkCredentials(c *polecat.CredentialCheck) error {
	if c == nil {
		return nil
	}
	for _, name := range c.Env {
		if os.Getenv(name) != "" {
			return nil
		}
	}
	if c.File != "" {
		if info, err := os.Stat(c.File); err == nil && info.Size() > 0 {
			return nil
		}
	}
	return configError(errors.New(c.Hint))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return t.buf }
