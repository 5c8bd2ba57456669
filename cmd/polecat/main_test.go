package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/gitops/gitopstest"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

// runnerBin is the runner, built once for all tests.
var runnerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gastown-polecat-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runnerBin = filepath.Join(dir, polecat.RunnerName)
	build := exec.Command("go", "build", "-o", runnerBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build the runner: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const beadFile = ".gastown/beads.yaml"

// beadYAML has comments and a second bead, which closing gt-1 must keep.
const beadYAML = `# Beads for the demo service.
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-1 # the health bead
spec:
  title: Add a health endpoint
  description: |
    Return 200 and {"status":"ok"}.
  status: open # the polecat closes it
---
# Not this one.
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-2
spec:
  title: Something else
  status: open
`

func repoFiles() map[string]string {
	return map[string]string{
		"README.md": "# demo\n",
		"main.go":   "package main\n\nfunc main() {}\n",
		beadFile:    beadYAML,
	}
}

// editScript is a custom agent: it checks what the runner gives it, edits
// the clone, and reports its figures the way claude-code does.
const editScript = `set -eu
test "$PWD" = "$GASTOWN_REPO_DIR" || { echo "wrong directory $PWD" >&2; exit 21; }
grep -q "Add a health endpoint" "$GASTOWN_TASK_FILE" || { echo "no task in the file" >&2; exit 22; }
case "$GASTOWN_TASK" in *"Do not change the status of the bead in .gastown/beads.yaml"*) ;; *) echo "no rules in GASTOWN_TASK" >&2; exit 23;; esac
test "$GASTOWN_BEAD_ID" = gt-1 || exit 24
test -z "${GASTOWN_POLECAT_CONFIG:-}" || { echo "the agent sees the runner's config" >&2; exit 25; }
mkdir -p health
printf 'package health\n\nconst OK = "ok"\n' > health/health.go
printf '\n// serves /health\n' >> main.go
echo "working on it"
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":4,"result":"Added /health.","total_cost_usd":0.0421,"usage":{"input_tokens":1200,"output_tokens":340}}'
`

func TestRunPushesWorkHTTP(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
	cfg := w.config(t, gastownv1.PurposeWork, editScript)
	base := srv.Branches(t)["main"]

	clone := w.runner(t, "clone", cfg)
	if clone.code != 0 || clone.result != nil {
		t.Fatalf("clone: exit %d, result %+v\n%s", clone.code, clone.result, clone.output)
	}
	run := w.runner(t, "run", cfg)
	if run.code != polecat.ExitPushed {
		t.Fatalf("run: exit %d\n%s", run.code, run.output)
	}

	tip := srv.Commit(t, "polecat/gt-1")
	zero := int32(0)
	want := &gastownv1.PolecatResult{
		Outcome:       gastownv1.OutcomePushed,
		Branch:        "polecat/gt-1",
		Commit:        tip.Hash.String(),
		FilesChanged:  3,
		AgentExitCode: &zero,
		CostUSD:       "0.0421",
		InputTokens:   1200,
		OutputTokens:  340,
		Turns:         4,
		Summary:       "Added /health.",
	}
	if diff := cmp.Diff(want, run.result); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}

	closed, err := beads.CloseBead(beadFile, []byte(beadYAML), "gt-1")
	if err != nil {
		t.Fatal(err)
	}
	wantTree := map[string]string{
		"README.md":        "# demo\n",
		"main.go":          "package main\n\nfunc main() {}\n\n// serves /health\n",
		"health/health.go": "package health\n\nconst OK = \"ok\"\n",
		beadFile:           string(closed),
	}
	tree := srv.Tree(t, "polecat/gt-1")
	if diff := cmp.Diff(wantTree, tree); diff != "" {
		t.Errorf("pushed tree (-want +got):\n%s", diff)
	}
	assertBeadClosed(t, tree[beadFile])

	if len(tip.ParentHashes) != 1 || tip.ParentHashes[0].String() != base {
		t.Errorf("parents = %v, want the base %s", tip.ParentHashes, base)
	}
	if !strings.HasPrefix(tip.Message, "gt-1: Add a health endpoint\n") || !strings.Contains(tip.Message, "Gastown-Bead: gt-1") {
		t.Errorf("commit message = %q", tip.Message)
	}
	if tip.Author.Name != "Rig Bot" || tip.Author.Email != "bot@example.com" {
		t.Errorf("author = %s <%s>, want the rig's", tip.Author.Name, tip.Author.Email)
	}
	if srv.Branches(t)["main"] != base {
		t.Error("main moved")
	}
	for _, out := range []string{clone.output, run.output} {
		if strings.Contains(out, "pw-123") {
			t.Errorf("the runner logged the password:\n%s", out)
		}
	}
	if !strings.Contains(run.output, "working on it") {
		t.Errorf("the agent's output is not in the log:\n%s", run.output)
	}
}

func TestLocalPushesWorkSSH(t *testing.T) {
	srv, keys := gitopstest.SSHServer(t, "main", repoFiles())
	w := newWorkspace(t, srv.URL, map[string]string{
		"ssh-privatekey": string(keys.PrivateKey),
		"known_hosts":    string(keys.KnownHosts),
	})
	cfg := w.config(t, gastownv1.PurposeWork, editScript)

	// local clones and runs in one process, in its work dir.
	workDir := filepath.Join(w.dir, "local")
	cfg.RepoDir, cfg.TaskFile = "/nonexistent/repo", "/nonexistent/task.md"
	local := w.runner(t, "local", cfg, "--workdir", workDir)
	if local.code != polecat.ExitPushed || local.result.Outcome != gastownv1.OutcomePushed {
		t.Fatalf("local: exit %d, result %+v\n%s", local.code, local.result, local.output)
	}
	if got := srv.Tree(t, "polecat/gt-1")["health/health.go"]; got != "package health\n\nconst OK = \"ok\"\n" {
		t.Errorf("health.go = %q", got)
	}
	assertBeadClosed(t, srv.Tree(t, "polecat/gt-1")[beadFile])
	if _, err := os.Stat(filepath.Join(workDir, "repo", "health", "health.go")); err != nil {
		t.Errorf("local did not work in --workdir: %v", err)
	}
}

// TestPrepareLocal runs the runner the way the operator does for
// executionMode local.
func TestPrepareLocal(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	w := newWorkspace(t, srv.URL, nil)
	script := filepath.Join(w.dir, "agent.sh")
	if err := os.WriteFile(script, []byte(`test "$TOKEN" = t0k || exit 41
echo local > local.txt
`), 0o644); err != nil {
		t.Fatal(err)
	}
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "my-worker", Namespace: "gastown-workers"},
		Spec: gastownv1.PolecatSpec{
			Rig:             "absent",
			TaskDescription: "Write local.txt.",
			ExecutionMode:   gastownv1.ExecutionModeLocal,
			Agent:           gastownv1.AgentCustom,
			AgentConfig: &gastownv1.AgentConfig{Image: "unused", Command: []string{"sh", script}, Env: []corev1.EnvVar{
				{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "tokens"}, Key: "token"}}},
			}},
			Kubernetes: &gastownv1.PolecatKubernetes{
				GitRepository: srv.URL,
				GitSecretRef:  &meta.LocalObjectReference{Name: "git-credentials"},
			},
		},
	}
	s, err := polecat.Resolve(pc, nil, nil, polecat.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]map[string][]byte{
		"git-credentials": {"username": []byte("alice"), "password": []byte("pw-123")},
		"tokens":          {"token": []byte("t0k")},
	}
	p, err := polecat.PrepareLocal(s, runnerBin, filepath.Join(w.dir, "local"), func(name string) (map[string][]byte, error) {
		return secrets[name], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.Path, p.Args[1:]...)
	cmd.Env = p.Env
	out, err := cmd.CombinedOutput()
	if code := exitCode(t, err); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	b, err := os.ReadFile(p.ResultFile)
	if err != nil {
		t.Fatal(err)
	}
	res, err := polecat.ParseResult(string(b))
	if err != nil || res.Outcome != gastownv1.OutcomePushed || res.Branch != "polecat/my-worker" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if got := srv.Tree(t, "polecat/my-worker")["local.txt"]; got != "local\n" {
		t.Errorf("local.txt = %q", got)
	}
}

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name        string
		script      string
		wantCode    int
		wantOutcome gastownv1.PolecatOutcome
		wantExit    *int32
		wantMessage string
	}{
		{
			name:        "no changes",
			script:      "echo 'looked, nothing to do'",
			wantCode:    polecat.ExitNoChanges,
			wantOutcome: gastownv1.OutcomeNoChanges,
			wantExit:    ptr(int32(0)),
		},
		{
			name:        "agent fails",
			script:      "echo half-done >> main.go\nexit 3",
			wantCode:    polecat.ExitAgentFailed,
			wantOutcome: gastownv1.OutcomeAgentFailed,
			wantExit:    ptr(int32(3)),
			wantMessage: "the agent exited with code 3",
		},
		{
			name: "agent reports an error",
			script: "echo change >> main.go\n" +
				`echo '{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":30,"total_cost_usd":1.5,"usage":{"input_tokens":10,"output_tokens":20}}'`,
			wantCode:    polecat.ExitAgentFailed,
			wantOutcome: gastownv1.OutcomeAgentFailed,
			wantExit:    ptr(int32(0)),
			wantMessage: "the agent reported an error (error_max_turns)",
		},
		{
			// As claude does when the API refuses its key.
			name: "agent exits with an error result",
			script: "echo change >> main.go\n" +
				`echo '{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":401,"result":"Invalid API key"}'` + "\nexit 1",
			wantCode:    polecat.ExitAgentFailed,
			wantOutcome: gastownv1.OutcomeAgentFailed,
			wantExit:    ptr(int32(1)),
			wantMessage: "the agent exited with code 1 and reported an error (api_error 401)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
			w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
			cfg := w.config(t, gastownv1.PurposeWork, tt.script)
			if clone := w.runner(t, "clone", cfg); clone.code != 0 {
				t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
			}
			run := w.runner(t, "run", cfg)
			if run.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\n%s", run.code, tt.wantCode, run.output)
			}
			if run.result == nil {
				t.Fatalf("no result written\n%s", run.output)
			}
			if run.result.Outcome != tt.wantOutcome || run.result.Branch != "polecat/gt-1" || run.result.Commit != "" {
				t.Errorf("result = %+v", run.result)
			}
			if diff := cmp.Diff(tt.wantExit, run.result.AgentExitCode); diff != "" {
				t.Errorf("agent exit code (-want +got):\n%s", diff)
			}
			if run.result.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", run.result.Message, tt.wantMessage)
			}
			if _, pushed := srv.Branches(t)["polecat/gt-1"]; pushed {
				t.Error("the work branch was pushed")
			}
		})
	}
}

// TestRunScrubsSecrets: an agent that prints its API key, the git password
// and a GitHub token leaves none of them in the result's summary or message,
// nor in the container log.
func TestRunScrubsSecrets(t *testing.T) {
	const (
		apiKey   = "my-anthropic-key-value-0042"
		ghToken  = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
		password = "pw-123"
	)
	srv := gitopstest.HTTPServer(t, "alice", password, "main", repoFiles())
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": password})
	w.env = []string{"ANTHROPIC_API_KEY=" + apiKey}
	script := `set -eu
test "$ANTHROPIC_API_KEY" = ` + apiKey + `
echo "my key is $ANTHROPIC_API_KEY"
echo "and a token ` + ghToken + ` on stderr" >&2
printf 'partial line without a newline: %s' "$ANTHROPIC_API_KEY" >&2
echo change >> main.go
echo '{"type":"result","subtype":"success","is_error":true,"terminal_reason":"bad_'"$ANTHROPIC_API_KEY"'","result":"Done with key '"$ANTHROPIC_API_KEY"', token ` + ghToken + `, git password ` + password + ` and https://alice:` + password + `@git.example.com/r.git"}'
`
	cfg := w.config(t, gastownv1.PurposeWork, script)
	if clone := w.runner(t, "clone", cfg); clone.code != 0 {
		t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
	}
	run := w.runner(t, "run", cfg)
	if run.code != polecat.ExitAgentFailed || run.result == nil {
		t.Fatalf("run: exit %d, result %+v\n%s", run.code, run.result, run.output)
	}
	if want := "the agent reported an error (bad_[REDACTED])"; run.result.Message != want {
		t.Errorf("message = %q, want %q", run.result.Message, want)
	}
	if want := "Done with key [REDACTED], token [REDACTED], git password [REDACTED] and https://[REDACTED]@git.example.com/r.git"; run.result.Summary != want {
		t.Errorf("summary = %q, want %q", run.result.Summary, want)
	}
	termination, err := os.ReadFile(w.logPath("run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{apiKey, ghToken, password} {
		for where, text := range map[string]string{"termination message": string(termination), "log": run.output} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s shows %q:\n%s", where, secret, text)
			}
		}
	}
	for _, want := range []string{"my key is [REDACTED]", "and a token [REDACTED] on stderr", "partial line without a newline: [REDACTED]"} {
		if !strings.Contains(run.output, want) {
			t.Errorf("the log lacks %q:\n%s", want, run.output)
		}
	}
}

func TestCloneUnknownSSHHost(t *testing.T) {
	srv, keys := gitopstest.SSHServer(t, "main", repoFiles())
	// The seed's secret: only the key. Only github.com is known then.
	w := newWorkspace(t, srv.URL, map[string]string{"ssh-privatekey": string(keys.PrivateKey)})
	cfg := w.config(t, gastownv1.PurposeWork, "true")

	clone := w.runner(t, "clone", cfg)
	if clone.code != polecat.ExitGitFailed {
		t.Errorf("exit code = %d, want %d\n%s", clone.code, polecat.ExitGitFailed, clone.output)
	}
	if clone.result == nil || clone.result.Outcome != gastownv1.OutcomeGitFailed {
		t.Fatalf("result = %+v", clone.result)
	}
	for _, want := range []string{"unknown SSH host", "add the host's key to known_hosts in the git secret", srv.URL} {
		if !strings.Contains(clone.result.Message, want) {
			t.Errorf("message %q does not contain %q", clone.result.Message, want)
		}
	}
}

func TestRunConfigErrors(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	tests := []struct {
		name    string
		edit    func(*polecat.RunnerConfig)
		command string
		want    string
	}{
		{
			name:    "bead missing from its file",
			edit:    func(c *polecat.RunnerConfig) { c.BeadID = "gt-404" },
			command: "run",
			want:    `cannot close bead gt-404`,
		},
		{
			name:    "bead file missing",
			edit:    func(c *polecat.RunnerConfig) { c.BeadFile = ".gastown/none.yaml" },
			command: "run",
			want:    "bead file .gastown/none.yaml is not in the clone of main",
		},
		{
			name: "no credentials for the agent",
			edit: func(c *polecat.RunnerConfig) {
				c.Agent.Credentials = &polecat.CredentialCheck{Env: []string{"GASTOWN_TEST_NO_SUCH_KEY"}, Hint: "no key: set api-key in secret x"}
			},
			command: "run",
			want:    "no key: set api-key in secret x",
		},
		{
			name:    "agent not installed",
			edit:    func(c *polecat.RunnerConfig) { c.Agent.Args = []string{"gastown-no-such-agent"} },
			command: "run",
			want:    "is it installed in the agent image?",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
			cfg := w.config(t, gastownv1.PurposeWork, "echo x >> main.go")
			if clone := w.runner(t, "clone", cfg); clone.code != 0 {
				t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
			}
			tt.edit(&cfg)
			res := w.runner(t, tt.command, cfg)
			if res.code != polecat.ExitError || res.result == nil || res.result.Outcome != gastownv1.OutcomeError {
				t.Fatalf("exit %d, result %+v\n%s", res.code, res.result, res.output)
			}
			if !strings.Contains(res.result.Message, tt.want) {
				t.Errorf("message %q does not contain %q", res.result.Message, tt.want)
			}
		})
	}

	t.Run("no configuration", func(t *testing.T) {
		w := newWorkspace(t, srv.URL, nil)
		res := w.runner(t, "run", polecat.RunnerConfig{})
		if res.code != polecat.ExitError || res.result == nil || !strings.Contains(res.result.Message, "runner config: git.url is empty") {
			t.Errorf("exit %d, result %+v", res.code, res.result)
		}
	})
}

// TestRevisionContinuesTheBranch: the agent's own commits are folded into
// the runner's, which fast-forwards the work branch.
func TestRevisionContinuesTheBranch(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	closed, err := beads.CloseBead(beadFile, []byte(beadYAML), "gt-1")
	if err != nil {
		t.Fatal(err)
	}
	old := srv.PushCommit(t, "main", "polecat/gt-1", map[string]string{"health.go": "v1\n", beadFile: string(closed)})
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
	script := `set -eu
grep -q "handle the error" "$GASTOWN_TASK_FILE"
test "$(cat health.go)" = v1
echo v2 > health.go
git -c user.name=agent -c user.email=agent@x commit -qam "agent commit"
echo note > NOTES.md
`
	cfg := w.config(t, gastownv1.PurposeRevision, script)

	run := pushed(t, w, cfg)
	tip := srv.Commit(t, "polecat/gt-1")
	if len(tip.ParentHashes) != 1 || tip.ParentHashes[0].String() != old {
		t.Errorf("parents = %v, want the old tip %s", tip.ParentHashes, old)
	}
	if tip.Author.Name != "Rig Bot" {
		t.Errorf("author = %q: the agent's own commit was pushed", tip.Author.Name)
	}
	if !strings.HasPrefix(tip.Message, "gt-1: address review comments") {
		t.Errorf("message = %q", tip.Message)
	}
	tree := srv.Tree(t, "polecat/gt-1")
	if tree["health.go"] != "v2\n" || tree["NOTES.md"] != "note\n" || tree[beadFile] != string(closed) {
		t.Errorf("tree = %v", tree)
	}
	if run.result.FilesChanged != 2 {
		t.Errorf("files changed = %d, want 2", run.result.FilesChanged)
	}
}

// TestConflictFixReplacesTheBranch: the agent gets the old change as a
// diff and redoes it on the current base; the push replaces the old branch.
func TestConflictFixReplacesTheBranch(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	srv.PushCommit(t, "main", "polecat/gt-1", map[string]string{"main.go": "package main\n\nfunc main() { old() }\n"})
	newBase := srv.PushCommit(t, "main", "main", map[string]string{"main.go": "package main\n\nfunc main() { base() }\n"})
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
	script := `set -eu
grep -q -- "+func main() { old() }" "$GASTOWN_TASK_FILE" || { echo "no old diff in the task" >&2; exit 31; }
printf 'package main\n\nfunc main() { base(); old() }\n' > main.go
`
	pushed(t, w, w.config(t, gastownv1.PurposeConflictFix, script))
	tip := srv.Commit(t, "polecat/gt-1")
	if len(tip.ParentHashes) != 1 || tip.ParentHashes[0].String() != newBase {
		t.Errorf("parents = %v, want the new base %s", tip.ParentHashes, newBase)
	}
	if got := srv.Tree(t, "polecat/gt-1")["main.go"]; got != "package main\n\nfunc main() { base(); old() }\n" {
		t.Errorf("main.go = %q", got)
	}
}

// TestWorkReplacesAnEarlierRunsBranch: a run pushed and its result was
// lost; the bead's next run starts from the base again and replaces that
// branch, where a fast-forward push would be refused.
func TestWorkReplacesAnEarlierRunsBranch(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	creds := map[string]string{"username": "alice", "password": "pw-123"}
	base := srv.Branches(t)["main"]
	first := pushedWork(t, newWorkspace(t, srv.URL, creds), editScript)

	again := pushedWork(t, newWorkspace(t, srv.URL, creds), "echo again > again.txt")
	tip := srv.Commit(t, "polecat/gt-1")
	if tip.Hash.String() != again || again == first || len(tip.ParentHashes) != 1 || tip.ParentHashes[0].String() != base {
		t.Errorf("tip %s with parents %v, want the new run's commit on the base %s", tip.Hash, tip.ParentHashes, base)
	}
	if tree := srv.Tree(t, "polecat/gt-1"); tree["again.txt"] != "again\n" || tree["health/health.go"] != "" {
		t.Errorf("tree = %v, want the new run's work only", tree)
	}
}

// TestWorkLeavesAnotherBranchAlone: the work branch exists with someone
// else's commit on top; the run fails at clone, before the agent runs, and
// the branch stays.
func TestWorkLeavesAnotherBranchAlone(t *testing.T) {
	creds := map[string]string{"username": "alice", "password": "pw-123"}
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	pushedWork(t, newWorkspace(t, srv.URL, creds), editScript)
	theirs := srv.PushCommit(t, "polecat/gt-1", "polecat/gt-1", map[string]string{"main.go": "someone else\n"})
	w := newWorkspace(t, srv.URL, creds)
	clone := w.runner(t, "clone", w.config(t, gastownv1.PurposeWork, editScript))
	if clone.code != polecat.ExitGitFailed || clone.result == nil || clone.result.Outcome != gastownv1.OutcomeGitFailed {
		t.Fatalf("clone: exit %d, result %+v\n%s", clone.code, clone.result, clone.output)
	}
	want := "branch polecat/gt-1 exists on the remote at " + theirs + `, and its last commit is no polecat's of bead "gt-1"`
	if !strings.Contains(clone.result.Message, want) {
		t.Errorf("message = %q, want %q", clone.result.Message, want)
	}
	if got := srv.Branches(t)["polecat/gt-1"]; got != theirs {
		t.Errorf("branch = %s, want their commit %s kept", got, theirs)
	}
}

// pushed runs cfg's clone and run steps in w, which must end pushed.
func pushed(t *testing.T, w *workspace, cfg polecat.RunnerConfig) runResult {
	t.Helper()
	if clone := w.runner(t, "clone", cfg); clone.code != 0 {
		t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
	}
	run := w.runner(t, "run", cfg)
	if run.code != polecat.ExitPushed {
		t.Fatalf("run: exit %d, result %+v\n%s", run.code, run.result, run.output)
	}
	return run
}

// pushedWork runs a Work polecat with script in w to its push and returns
// the commit it pushed.
func pushedWork(t *testing.T, w *workspace, script string) string {
	t.Helper()
	return pushed(t, w, w.config(t, gastownv1.PurposeWork, script)).result.Commit
}

func TestSIGTERMStopsTheAgent(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
	started := filepath.Join(w.dir, "agent-started")
	cfg := w.config(t, gastownv1.PurposeWork, "echo change >> main.go\ntouch "+started+"\nexec sleep 300")
	if clone := w.runner(t, "clone", cfg); clone.code != 0 {
		t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
	}

	cmd, out := w.command(cfg, "run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for !fileExists(started) {
		select {
		case err := <-done:
			t.Fatalf("the runner ended before the agent started: %v\n%s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := exitCode(t, <-done)
	res := w.result(t, "run")
	if code != polecat.ExitAgentFailed || res == nil || res.Outcome != gastownv1.OutcomeAgentFailed {
		t.Fatalf("exit %d, result %+v\n%s", code, res, out)
	}
	if !strings.Contains(res.Message, "the agent was stopped") {
		t.Errorf("message = %q", res.Message)
	}
	if _, pushed := srv.Branches(t)["polecat/gt-1"]; pushed {
		t.Error("the work branch was pushed")
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command(runnerBin, "install", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	installed := filepath.Join(dir, polecat.RunnerName)
	want, _ := os.ReadFile(runnerBin)
	got, err := os.ReadFile(installed)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("installed binary differs from the runner (err %v)", err)
	}
	info, _ := os.Stat(installed)
	if info.Mode().Perm()&0o111 == 0 {
		t.Errorf("installed binary is not executable: %v", info.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("install left %d files, want 1", len(entries))
	}
}

// workspace is a polecat's pod, on the test machine: a clone dir, a home,
// the git secret as mounted files, and termination logs.
type workspace struct {
	dir    string
	url    string
	secret string
	// env is added to the runner's environment, as the agent container's
	// own env (its API key).
	env []string
}

func newWorkspace(t *testing.T, url string, secret map[string]string) *workspace {
	t.Helper()
	w := &workspace{dir: t.TempDir(), url: url}
	w.secret = filepath.Join(w.dir, "git-secret")
	if err := os.MkdirAll(w.secret, 0o700); err != nil {
		t.Fatal(err)
	}
	for key, value := range secret {
		if err := os.WriteFile(filepath.Join(w.secret, key), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// config resolves a polecat for bead gt-1 of a rig, with a custom agent
// that runs script in sh, as the operator would.
func (w *workspace) config(t *testing.T, purpose gastownv1.PolecatPurpose, script string) polecat.RunnerConfig {
	t.Helper()
	scriptFile := filepath.Join(w.dir, "agent.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-1", Namespace: "gastown-workers"},
		Spec: gastownv1.PolecatSpec{
			Rig:         "demo",
			BeadID:      "gt-1",
			Purpose:     purpose,
			Agent:       gastownv1.AgentCustom,
			AgentConfig: &gastownv1.AgentConfig{Image: "busybox", Command: []string{"sh", scriptFile}},
			Kubernetes: &gastownv1.PolecatKubernetes{
				GitRepository: w.url,
				GitSecretRef:  &meta.LocalObjectReference{Name: "git-credentials"},
			},
		},
	}
	if purpose == gastownv1.PurposeRevision {
		pc.Spec.TaskDescription = "- main.go:3: handle the error"
	}
	bead := &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-1"},
		Spec: gastownv1.BeadSpec{
			Title:       "Add a health endpoint",
			Description: `Return 200 and {"status":"ok"}.`,
			SourcePath:  beadFile,
		},
	}
	rig := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Spec:       gastownv1.RigSpec{Git: gastownv1.RigGit{AuthorName: "Rig Bot", AuthorEmail: "bot@example.com"}},
	}
	s, err := polecat.Resolve(pc, bead, rig, polecat.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	paths := polecat.Paths{
		RepoDir:      filepath.Join(w.dir, "workspace", "repo"),
		TaskFile:     filepath.Join(w.dir, "workspace", "task.md"),
		GitSecretDir: w.secret,
	}
	agent, err := polecat.BuildAgent(s, paths.TaskFile)
	if err != nil {
		t.Fatal(err)
	}
	return polecat.NewRunnerConfig(s, agent, paths)
}

type runResult struct {
	code   int
	result *gastownv1.PolecatResult
	output string
}

// runner runs a runner command to its end.
func (w *workspace) runner(t *testing.T, command string, cfg polecat.RunnerConfig, args ...string) runResult {
	t.Helper()
	cmd, out := w.command(cfg, command, args...)
	code := exitCode(t, cmd.Run())
	return runResult{code: code, result: w.result(t, command), output: out.String()}
}

func (w *workspace) command(cfg polecat.RunnerConfig, command string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	encoded, err := cfg.Encode()
	if err != nil {
		panic(err)
	}
	home := filepath.Join(w.dir, "home")
	_ = os.MkdirAll(home, 0o700)
	cmd := exec.Command(runnerBin, append([]string{command, "--termination-log", w.logPath(command)}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + os.TempDir(),
		polecat.ConfigEnv + "=" + encoded,
	}
	cmd.Env = append(cmd.Env, w.env...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

func (w *workspace) logPath(command string) string {
	return filepath.Join(w.dir, "termination-log-"+command)
}

// result reads a command's termination log; nil when it wrote none.
func (w *workspace) result(t *testing.T, command string) *gastownv1.PolecatResult {
	t.Helper()
	b, err := os.ReadFile(w.logPath(command))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > polecat.MaxResultBytes {
		t.Errorf("termination message is %d bytes, over %d", len(b), polecat.MaxResultBytes)
	}
	res, err := polecat.ParseResult(string(b))
	if err != nil {
		t.Fatalf("%s wrote %q: %v", command, b, err)
	}
	return res
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	default:
		t.Fatal(err)
		return -1
	}
}

func assertBeadClosed(t *testing.T, content string) {
	t.Helper()
	for _, want := range []string{
		"# Beads for the demo service.",
		"name: gt-1 # the health bead",
		"# Not this one.",
	} {
		if !strings.Contains(content, want) {
			t.Errorf("bead file lost %q:\n%s", want, content)
		}
	}
	gt1, gt2, _ := strings.Cut(content, "---")
	if !strings.Contains(gt1, "status: closed") || strings.Contains(gt1, "status: open") {
		t.Errorf("gt-1 is not closed:\n%s", gt1)
	}
	if !strings.Contains(gt2, "status: open") {
		t.Errorf("gt-2 changed:\n%s", gt2)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func ptr[T any](v T) *T { return &v }
