package childproc

import "syscall"

// sysProcAttr puts a child in its own process group, and has the kernel
// kill it when this process dies. (Strictly, when the OS thread that
// started it ends; Go keeps its threads for the life of the process unless
// a goroutine locked to one exits.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
