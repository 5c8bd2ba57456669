package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/boshu2/gastown-operator/internal/polecat"
)

func TestExpandArgs(t *testing.T) {
	long := strings.Repeat("x", maxEnvPrompt+1)
	tests := []struct {
		name   string
		args   []string
		prompt string
		want   []string
	}{
		{
			name:   "placeholders",
			args:   []string{"opencode", "run", "--file=" + polecat.TaskFileArg, polecat.TaskArg},
			prompt: "Do $(this).",
			want:   []string{"opencode", "run", "--file=/w/task.md", "Do $(this)."},
		},
		{
			name:   "no placeholders",
			args:   []string{"aider", "--message-file", "/w/task.md"},
			prompt: "p",
			want:   []string{"aider", "--message-file", "/w/task.md"},
		},
		{
			name:   "prompt too long for an argument",
			args:   []string{"agent", polecat.TaskArg},
			prompt: long,
			want:   []string{"agent", "Read the task in /w/task.md and do it."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, expandArgs(tt.args, tt.prompt, "/w/task.md")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAgentEnv(t *testing.T) {
	cfg := polecat.RunnerConfig{BeadID: "gt-1", TaskFile: "/w/task.md", RepoDir: "/w/repo"}
	environ := []string{
		"PATH=/bin",
		"ANTHROPIC_API_KEY=sk-1",
		polecat.ConfigEnv + "={}",
		polecat.TerminationLogEnv + "=/tmp/log",
		polecat.EnvTask + "=stale",
	}
	got := agentEnv(environ, cfg, "Do it.")
	want := []string{
		"PATH=/bin",
		"ANTHROPIC_API_KEY=sk-1",
		"GASTOWN_TASK=Do it.",
		"GASTOWN_TASK_FILE=/w/task.md",
		"GASTOWN_REPO_DIR=/w/repo",
		"GASTOWN_BEAD_ID=gt-1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	long := agentEnv(nil, cfg, strings.Repeat("x", maxEnvPrompt+1))
	if long[0] != "GASTOWN_TASK=The task is too long for the environment: read /w/task.md" {
		t.Errorf("long prompt env = %.100q", long[0])
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijk"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := string(b.Bytes()); got != "defghijk" {
		t.Errorf("tail = %q, want defghijk", got)
	}
}

func TestCopyFiles(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	src := t.TempDir()
	writeTestFile(t, filepath.Join(src, "creds.json"), "{}")
	configDir := filepath.Join(src, "config")
	writeTestFile(t, filepath.Join(configDir, "opencode.json"), `{"model":"x"}`)
	abs := filepath.Join(t.TempDir(), "abs", "copy")

	err := copyFiles([]polecat.FileCopy{
		{From: filepath.Join(src, "creds.json"), To: ".claude/.credentials.json"},
		{From: configDir, To: ".config/opencode"},
		{From: filepath.Join(src, "missing"), To: ".nothing"},
		{From: filepath.Join(src, "creds.json"), To: abs},
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(home, ".claude/.credentials.json"):      "{}",
		filepath.Join(home, ".config/opencode/opencode.json"): `{"model":"x"}`,
		abs: "{}",
	} {
		b, err := os.ReadFile(path)
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
			continue
		}
		if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", path, info.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".nothing")); !os.IsNotExist(err) {
		t.Errorf("a missing source was copied: %v", err)
	}
}

func TestCheckCredentials(t *testing.T) {
	file := filepath.Join(t.TempDir(), "creds.json")
	writeTestFile(t, file, "{}")
	empty := filepath.Join(t.TempDir(), "empty.json")
	writeTestFile(t, empty, "")

	tests := []struct {
		name  string
		env   map[string]string
		check *polecat.CredentialCheck
		ok    bool
	}{
		{name: "no check", ok: true},
		{name: "key in env", env: map[string]string{"GASTOWN_TEST_KEY": "k"}, check: &polecat.CredentialCheck{Env: []string{"GASTOWN_TEST_KEY"}, Hint: "h"}, ok: true},
		{name: "file", check: &polecat.CredentialCheck{Env: []string{"GASTOWN_TEST_KEY"}, File: file, Hint: "h"}, ok: true},
		{name: "empty file", check: &polecat.CredentialCheck{File: empty, Hint: "h"}},
		{name: "empty env", env: map[string]string{"GASTOWN_TEST_KEY": ""}, check: &polecat.CredentialCheck{Env: []string{"GASTOWN_TEST_KEY"}, File: "/nonexistent", Hint: "h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := checkCredentials(tt.check)
			if tt.ok != (err == nil) {
				t.Fatalf("error = %v, want ok %v", err, tt.ok)
			}
			if err != nil && err.Error() != tt.check.Hint {
				t.Errorf("error = %q, want the hint", err)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunAgentKilledBySignal: an agent killed by a signal (as the OOM
// killer does) is reported by the signal's name and with a shell's exit
// code, not as "exited with code -1".
func TestRunAgentKilledBySignal(t *testing.T) {
	dir := t.TempDir()
	r := &Runner{
		Config: polecat.RunnerConfig{
			RepoDir:  dir,
			TaskFile: filepath.Join(dir, "task.md"),
			Agent:    polecat.AgentCommand{Args: []string{"sh", "-c", "kill -KILL $$"}},
		},
		Stdout: io.Discard,
		Stderr: io.Discard,
	}
	run := r.runAgent(context.Background(), "Do it.")
	if run.exitCode == nil || *run.exitCode != 137 {
		t.Errorf("exit code = %v, want 137 (128 + SIGKILL)", run.exitCode)
	}
	if run.signal != "SIGKILL" {
		t.Errorf("signal = %q, want SIGKILL", run.signal)
	}
	if run.err == nil || !strings.Contains(run.err.Error(), "killed by SIGKILL") {
		t.Errorf("error = %v, want one naming SIGKILL", run.err)
	}
}
