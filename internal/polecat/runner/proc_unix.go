//go:build unix

package runner

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// setProcessGroup starts the agent in a process group of its own, so that
// a stop reaches the tools it runs (shells, test runners) as well.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminateGroup asks the agent's process group to stop.
func terminateGroup(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
}

// killedBy says which signal ended the process, if one did: its number
// and its name (SIGKILL).
func killedBy(ps *os.ProcessState) (int, string, bool) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, "", false
	}
	return int(ws.Signal()), unix.SignalName(ws.Signal()), true
}
