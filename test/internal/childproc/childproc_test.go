package childproc

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStopAndExit(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sh.log")
	p, err := Start("sh", "/bin/sh", []string{"-c", `echo "$GREETING"; exec sleep 60`}, []string{"GREETING=hello"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Running() || p.Pid() == 0 {
		t.Fatalf("not running after Start")
	}
	deadline := time.Now().Add(5 * time.Second)
	for LogTail(log, 5) != "hello" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := LogTail(log, 5); got != "hello" {
		t.Fatalf("log = %q, want the env's greeting", got)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.Running() || p.Pid() != 0 {
		t.Fatalf("running after Stop")
	}

	q, err := Start("false", "/bin/sh", []string{"-c", "exit 3"}, nil, filepath.Join(t.TempDir(), "false.log"))
	if err != nil {
		t.Fatal(err)
	}
	<-q.Done()
	if done, err := q.Exited(); !done || err == nil {
		t.Fatalf("Exited() = %v, %v; want true and exit status 3", done, err)
	}
	if err := q.Stop(); err == nil || !strings.Contains(err.Error(), "had exited before Stop") {
		t.Fatalf("Stop after exit = %v", err)
	}

	// A process that ignores SIGTERM is killed at once by Kill, not after
	// StopGrace as Stop would.
	k, err := Start("stubborn", "/bin/sh", []string{"-c", `trap "" TERM; echo trapped; while :; do sleep 1; done`}, nil, filepath.Join(t.TempDir(), "stubborn.log"))
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for LogTail(k.Log, 5) != "trapped" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := k.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if done, err := k.Exited(); !done || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("after Kill: Exited() = %v, %v; want true and signal: killed", done, err)
	}
	if err := k.Kill(); err == nil || !strings.Contains(err.Error(), "had exited before Kill") {
		t.Fatalf("Kill after exit = %v", err)
	}

	var nilProc *Process
	if err := nilProc.Stop(); err != nil || nilProc.Running() {
		t.Fatalf("nil Process: Stop = %v, Running = %v", err, nilProc.Running())
	}
}

// The ports come from below the ephemeral range, and a second call, like
// another test process, is never handed one the first was.
func TestFreeAddrs(t *testing.T) {
	first, err := FreeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	second, err := FreeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, a := range append(first, second...) {
		if !a.IP.IsLoopback() || a.Port < 1024 || a.Port >= ephemeralLow() || seen[a.Port] {
			t.Fatalf("FreeAddrs(3) twice = %v, %v (ephemeral ports from %d)", first, second, ephemeralLow())
		}
		seen[a.Port] = true
		if _, ok, err := lockPort(portLockDir(), a.Port); err != nil || ok {
			t.Fatalf("the lock of port %d could be taken again (err %v)", a.Port, err)
		}
	}
}
