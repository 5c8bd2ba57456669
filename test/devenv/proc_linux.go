package devenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// killStrayRunners kills the process groups of the local polecat runners
// this process started that are still running: the operator stops its runs
// when its manager stops, but the manager's graceful shutdown may end
// before a run has.
func killStrayRunners(runner string) error { return killRunnersOf(runner, os.Getpid()) }

// killRunnersOf kills the process groups of parent's children whose
// executable is runner. Only those are touched. The supervisor starts each
// runner as the leader of a group that holds its agent too.
func killRunnersOf(runner string, parent int) error {
	if runner == "" {
		return nil
	}
	if resolved, err := filepath.EvalSymlinks(runner); err == nil {
		runner = resolved
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(pid) != parent {
			continue
		}
		// A binary rebuilt while it runs shows as "path (deleted)".
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || strings.TrimSuffix(exe, " (deleted)") != runner {
			continue
		}
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// crash kills the manager process p with SIGKILL, and with it the runners
// it started, as a crash of the operator's container would: they are in
// process groups of their own, and would outlive it. The manager is stopped
// (SIGSTOP) first, so that it starts no runner while they are found.
func crash(p *process, runner string) error {
	pid := p.Pid()
	if pid == 0 {
		return p.Kill() // says it had exited
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("stopping %s: %w", p.Name, err)
	}
	runnersErr := killRunnersOf(runner, pid)
	return errors.Join(p.Kill(), runnersErr)
}

// parentOf reads the parent pid from /proc/<pid>/stat; -1 when unknown.
func parentOf(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1
	}
	// The command name is in parentheses and may contain spaces: the
	// fields after it are state, then ppid.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return -1
	}
	return ppid
}
