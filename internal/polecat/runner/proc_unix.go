//go:build unix

package runner

import (
	"os/exec"
	"syscall"
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
