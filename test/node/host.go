//go:build linux

package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Some of what a node changes belongs to the whole machine: the sysctls the
// kubelet sets, and the directories outside any node's own that the shims
// and the kubelet make. Nodes of different test packages may run at the same
// time, so these are shared: the first node on the machine saves the
// original state, and the last to stop restores it. The record lives in
// /run, which a reboot clears, as it resets the sysctls.
const (
	hostStateFile = "/run/gastown-node-host.json"
	hostLockFile  = "/run/gastown-node-host.lock"
)

// kubeletSysctls are the host settings the kubelet changes at start
// (setupKernelTunables, as protectKernelDefaults is false: with true it
// refuses to start on a machine whose settings differ).
var kubeletSysctls = []string{
	"vm.overcommit_memory",
	"vm.panic_on_oom",
	"kernel.panic",
	"kernel.panic_on_oops",
	"kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes",
}

// hostDirs are directories outside the node's that something of the
// node's makes and nothing removes: containerd 1.6's shims put their sockets
// in /run/containerd/s whatever containerd's state directory is, and the
// kubelet links container logs from /var/log/containers. Deepest first.
var hostDirs = []string{shimSocketDir, filepath.Dir(shimSocketDir), containerLogLinks}

// hostState is the shared record.
type hostState struct {
	// Sysctls are the values before the first node started.
	Sysctls map[string]string `json:"sysctls"`
	// MadeDirs are those of hostDirs that did not exist then.
	MadeDirs []string `json:"madeDirs"`
	// Nodes are the nodes running now.
	Nodes []hostNode `json:"nodes"`
}

type hostNode struct {
	Dir string `json:"dir"`
	PID int    `json:"pid"`
}

// joinHost records the node as running, saving the host's state first when
// it is the only one. A node whose test process has died without stopping
// it no longer counts, but the state saved before it still stands: it is
// what the machine was before any node.
func joinHost(dir string) error {
	return withHostState(func(s *hostState) error {
		live := s.Nodes[:0]
		for _, n := range s.Nodes {
			if syscall.Kill(n.PID, 0) == nil {
				live = append(live, n)
			}
		}
		s.Nodes = live
		if s.Sysctls == nil {
			s.Sysctls = readSysctls(kubeletSysctls)
			s.MadeDirs = missingDirs(hostDirs...)
		}
		s.Nodes = append(s.Nodes, hostNode{Dir: dir, PID: os.Getpid()})
		return nil
	})
}

// leaveHost removes the node from the record and, when it was the last,
// restores the sysctls, removes the directories that were not there before
// if they are empty, and removes the record.
func leaveHost(dir string) error {
	return withHostState(func(s *hostState) error {
		left := s.Nodes[:0]
		for _, n := range s.Nodes {
			if n.Dir != dir {
				left = append(left, n)
			}
		}
		s.Nodes = left
		if len(s.Nodes) > 0 {
			return nil
		}
		err := restoreSysctls(s.Sysctls)
		for _, d := range s.MadeDirs {
			_ = syscall.Rmdir(d) // fails when not empty: then it stays
		}
		*s = hostState{}
		return err
	})
}

// withHostState runs change on the shared record under an exclusive lock,
// then writes it back, or removes it when change emptied it.
func withHostState(change func(*hostState) error) error {
	lock, err := os.OpenFile(hostLockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", hostLockFile, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too
	var s hostState
	b, err := os.ReadFile(hostStateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("reading %s: %w (remove it if no node is running)", hostStateFile, err)
		}
	}
	changeErr := change(&s)
	if s.Sysctls == nil {
		if err := os.Remove(hostStateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errors.Join(changeErr, err)
		}
		return changeErr
	}
	if b, err = json.Marshal(s); err != nil {
		return errors.Join(changeErr, err)
	}
	tmp := hostStateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return errors.Join(changeErr, err)
	}
	return errors.Join(changeErr, os.Rename(tmp, hostStateFile))
}

func sysctlPath(name string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
}

// readSysctls returns the current value of each setting that exists.
func readSysctls(names []string) map[string]string {
	values := map[string]string{}
	for _, name := range names {
		if b, err := os.ReadFile(sysctlPath(name)); err == nil {
			values[name] = strings.TrimSpace(string(b))
		}
	}
	return values
}

// restoreSysctls writes back every saved value that has changed.
func restoreSysctls(saved map[string]string) error {
	var errs []error
	now := readSysctls(kubeletSysctls)
	for name, value := range saved {
		if now[name] == value {
			continue
		}
		if err := os.WriteFile(sysctlPath(name), []byte(value+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s to %s: %w", name, value, err))
		}
	}
	return errors.Join(errs...)
}

// missingDirs returns those of dirs that do not exist.
func missingDirs(dirs ...string) []string {
	var missing []string
	for _, d := range dirs {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, d)
		}
	}
	return missing
}
