//go:build !linux

package childproc

import "syscall"

// sysProcAttr puts a child in its own process group; there is no Pdeathsig
// outside Linux.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
