//go:build !unix

package runner

import (
	"os"
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

// terminateGroup interrupts the agent: without process groups, its own
// children are left to it.
func terminateGroup(cmd *exec.Cmd) error {
	return cmd.Process.Signal(os.Interrupt)
}

// killedBy is unknown without Unix wait statuses.
func killedBy(*os.ProcessState) (int, string, bool) { return 0, "", false }
