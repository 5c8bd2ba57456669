package polecat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// script writes an executable shell script standing in for the runner.
func script(t *testing.T, body string) *LocalProcess {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "runner.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(dir, "result.json")
	return &LocalProcess{Path: path, Args: []string{path, result}, Env: []string{"PATH=/usr/bin:/bin"}, ResultFile: result}
}

func waitDone(t *testing.T, s *Supervisor, run *LocalRun) *gastownv1.PolecatResult {
	t.Helper()
	select {
	case <-run.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end")
	}
	res, _ := s.Result(run)
	return res
}

func TestSupervisorReadsTheRunnersResult(t *testing.T) {
	exited := make(chan string, 1)
	s := &Supervisor{OnExit: func(key string) { exited <- key }}
	p := script(t, `echo working; printf '{"outcome":"Pushed","branch":"polecat/gt-a","commit":"abc"}' > "$1"`)
	run, err := s.Start("uid-1", p, t.TempDir(), filepath.Join(t.TempDir(), "logs", "uid-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	res := waitDone(t, s, run)
	if res.Outcome != gastownv1.OutcomePushed || res.Branch != "polecat/gt-a" {
		t.Errorf("result %+v", res)
	}
	if key := <-exited; key != "uid-1" {
		t.Errorf("OnExit(%q)", key)
	}
	log, _ := os.ReadFile(run.LogFile)
	if !strings.Contains(string(log), "working") {
		t.Errorf("log %q lacks the runner's output", log)
	}
	if _, err := s.Start("uid-1", p, t.TempDir(), filepath.Join(t.TempDir(), "x.log")); err == nil {
		t.Error("a second start under the same key succeeded")
	}
}

func TestSupervisorMakesAResultFromTheExitCode(t *testing.T) {
	s := &Supervisor{}
	run, err := s.Start("k", script(t, "exit 11"), t.TempDir(), filepath.Join(t.TempDir(), "k.log"))
	if err != nil {
		t.Fatal(err)
	}
	res := waitDone(t, s, run)
	if res.Outcome != gastownv1.OutcomeAgentFailed || !strings.Contains(res.Message, "exit status 11") {
		t.Errorf("result %+v", res)
	}
}

func TestSupervisorStopsAndForgets(t *testing.T) {
	s := &Supervisor{StopGrace: 2 * time.Second}
	work := t.TempDir()
	run, err := s.Start("k", script(t, "trap 'exit 11' TERM; while true; do sleep 0.1; done"), work, filepath.Join(t.TempDir(), "k.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Forget("k"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.done:
	default:
		t.Fatal("Forget returned before the run ended")
	}
	if _, ok := s.Get("k"); ok {
		t.Error("the run is still known")
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("work dir not removed: %v", err)
	}
}
