//go:build linux

package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The checks here read the machine themselves rather than through the
// package's cleanup code, so that a bug there cannot hide from them.

// testSysctls are the host settings the kubelet is known to change.
var testSysctls = []string{"vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops"}

// hostSysctls are the machine's settings before any node: those another
// node running now saved, else the current ones.
func hostSysctls() map[string]string {
	if b, err := os.ReadFile(hostStateFile); err == nil {
		var s hostState
		if json.Unmarshal(b, &s) == nil && s.Sysctls != nil {
			values := map[string]string{}
			for _, name := range testSysctls {
				values[name] = s.Sysctls[name]
			}
			return values
		}
	}
	values := map[string]string{}
	for _, name := range testSysctls {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
		if err == nil {
			values[name] = strings.TrimSpace(string(b))
		}
	}
	return values
}

// running is what a node had running just before Stop.
type running struct {
	// pids are the node's components and shims, by name.
	pids map[string]int
	// sockets are the Unix sockets the shims listen on, outside the node's
	// directory.
	sockets []string
}

// snapshot records what the node is running. It finds the shims' sockets
// from the sockets the shim processes hold, not from how the package
// computes their names.
func snapshot(t *testing.T, n *Node) running {
	t.Helper()
	r := running{pids: n.PIDs()}
	paths := unixSocketPaths()
	for _, pid := range processesMentioning(n.Dir) {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if !strings.Contains(exe, "containerd-shim") {
			continue
		}
		r.pids[fmt.Sprintf("shim %d", pid)] = pid
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			link, _ := os.Readlink(fd)
			inode, ok := strings.CutPrefix(link, "socket:[")
			if p := paths[strings.TrimSuffix(inode, "]")]; ok && p != "" && !strings.HasPrefix(p, n.Dir) {
				r.sockets = append(r.sockets, p)
			}
		}
	}
	sort.Strings(r.sockets)
	return r
}

// unixSocketPaths maps socket inodes to the paths they are bound to, from
// /proc/net/unix.
func unixSocketPaths() map[string]string {
	b, _ := os.ReadFile("/proc/net/unix")
	paths := map[string]string{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode Path
		if f := strings.Fields(line); len(f) >= 8 && strings.HasPrefix(f[7], "/") {
			paths[f[6]] = f[7]
		}
	}
	return paths
}

// expectNothingLeft checks that a stopped node left no mount under its
// directory, no cgroup, no changed sysctl, no process, no socket or log link
// outside its directory, and no directory.
func expectNothingLeft(t *testing.T, n *Node, r running, sysctls map[string]string) {
	t.Helper()
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], n.Dir) {
			t.Errorf("still mounted: %s", line)
		}
	}
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	if len(hierarchies) == 0 {
		t.Error("no cgroup hierarchies under /sys/fs/cgroup to check")
	}
	for _, h := range hierarchies {
		if _, err := os.Stat(filepath.Join(h, n.CgroupRoot)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s is left (%v)", filepath.Join(h, n.CgroupRoot), err)
		}
		if left, _ := filepath.Glob(filepath.Join(h, "kubepods*")); len(left) > 0 {
			t.Errorf("kubepods cgroups left: %v", left)
		}
	}
	if _, err := os.Stat(hostStateFile); err == nil {
		t.Logf("another node runs on this machine: the sysctls are restored when the last one stops")
	} else if now := hostSysctls(); !equal(now, sysctls) {
		t.Errorf("sysctls not restored: before %v, now %v", sysctls, now)
	}
	for name, pid := range r.pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) is still running", name, pid)
		}
	}
	for _, pid := range processesMentioning(n.Dir) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		t.Errorf("process %d is left: %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	for _, s := range r.sockets {
		if _, err := os.Lstat(s); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("shim socket %s is left (%v)", s, err)
		}
	}
	links, _ := filepath.Glob("/var/log/containers/*")
	for _, l := range links {
		if target, _ := os.Readlink(l); strings.HasPrefix(target, n.Dir) {
			t.Errorf("log link %s → %s is left", l, target)
		}
	}
	if _, err := os.Stat(n.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the node's directory %s is left (%v)", n.Dir, err)
	}
}

// alive reports whether a process exists and is not a zombie: a shim killed
// after containerd died is the child of PID 1, which reaps it in its time.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || !strings.HasPrefix(string(stat[i+1:]), " Z")
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// processesMentioning lists the processes whose command line holds dir: the
// node's containerd, kubelet and shims all name a path under it.
func processesMentioning(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}
