//go:build linux

// Command pause is the node's sandbox ("pause") image: the first process of
// every pod, which holds the pod's namespaces and does nothing else. It
// sleeps until SIGTERM or SIGINT and reaps children it inherits, as PID 1
// must. It is built statically and put in an image FROM scratch, because
// nothing can be pulled on a test node.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has exited, so that none stays a zombie.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
