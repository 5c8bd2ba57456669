//go:build linux

package node

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cleanupTimeout bounds each cleanup step that waits for the kernel: dying
// processes leaving their cgroups, lazily unmounted filesystems.
const cleanupTimeout = 20 * time.Second

// mount is one line of /proc/self/mountinfo.
type mount struct {
	point, fstype string
}

// mounts lists this process's mounts in the order the kernel does: a mount
// after the one it is on.
func mounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var list []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
		line := sc.Text()
		fields := strings.Fields(line)
		_, after, ok := strings.Cut(line, " - ")
		if len(fields) < 5 || !ok {
			continue
		}
		m := mount{point: unescapeMountPath(fields[4])}
		if f := strings.Fields(after); len(f) > 0 {
			m.fstype = f[0]
		}
		list = append(list, m)
	}
	return list, sc.Err()
}

// mountPoints returns the mount points at or under dir, in the kernel's
// order.
func mountPoints(dir string) ([]string, error) {
	list, err := mounts()
	var points []string
	for _, m := range list {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			points = append(points, m.point)
		}
	}
	return points, err
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountAll unmounts everything at or under dir, the latest mounts first,
// until nothing is left: overlay root filesystems, secret tmpfs volumes, the
// kubelet's shared bind mount of its own root. A busy mount is detached.
func unmountAll(ctx context.Context, dir string) error {
	return poll(ctx, nil, cleanupTimeout, func(context.Context) (bool, error) {
		points, err := mountPoints(dir)
		if err != nil || len(points) == 0 {
			return err == nil, err
		}
		var errs []error
		for i := len(points) - 1; i >= 0; i-- {
			err := syscall.Unmount(points[i], 0)
			if errors.Is(err, syscall.EBUSY) {
				err = syscall.Unmount(points[i], syscall.MNT_DETACH)
			}
			if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", points[i], err))
			}
		}
		return false, errors.Join(append(errs, fmt.Errorf("%d mounts left under %s", len(points), dir))...)
	})
}

// processesUsing returns the processes, other than this one, whose command
// line mentions dir, with their arguments: the node's containerd shims
// (started with -address <dir>/containerd/containerd.sock), which outlive
// containerd by design, and anything else that took a path of the node's.
func processesUsing(dir string) map[int][]string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := map[int][]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
		for _, arg := range args {
			if arg == dir || strings.HasPrefix(arg, dir+"/") {
				procs[pid] = args
				break
			}
		}
	}
	return procs
}

// killProcessesUsing kills the processes that mention dir and waits until
// they are gone. A shim killed so leaves its socket behind, which is then
// removed.
func killProcessesUsing(ctx context.Context, dir string) error {
	var sockets []string
	for _, args := range processesUsing(dir) {
		if s := shimSocket(args); s != "" {
			sockets = append(sockets, s)
		}
	}
	err := poll(ctx, nil, cleanupTimeout, func(context.Context) (bool, error) {
		procs := processesUsing(dir)
		if len(procs) == 0 {
			return true, nil
		}
		pids := make([]int, 0, len(procs))
		for pid := range procs {
			pids = append(pids, pid)
		}
		killAll(pids)
		return false, fmt.Errorf("processes %v, which use %s, are still running", pids, dir)
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range sockets {
		if err := os.Remove(s); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shimSocketDir is where containerd 1.6's shims put their sockets, whatever
// containerd's state directory: a path compiled into the shim.
const shimSocketDir = "/run/containerd/s"

// shimSocket returns the socket of a containerd shim from its arguments
// (-namespace NS -id ID -address CONTAINERD_SOCKET): the shim names it by
// the SHA-256 of those three joined as a path. It returns "" for any other
// process.
func shimSocket(args []string) string {
	if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
		return ""
	}
	flags := map[string]string{}
	for i := 1; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			flags[strings.TrimLeft(args[i], "-")] = args[i+1]
		}
	}
	ns, id, address := flags["namespace"], flags["id"], flags["address"]
	if ns == "" || id == "" || address == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(filepath.Join(address, ns, id)))
	return filepath.Join(shimSocketDir, hex.EncodeToString(sum[:]))
}

// containerLogLinks is where the kubelet links every container's log, a
// path it does not let one configure.
const containerLogLinks = "/var/log/containers"

// removeContainerLogLinks removes the kubelet's links to logs under dir.
func removeContainerLogLinks(dir string) error {
	entries, err := os.ReadDir(containerLogLinks)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		link := filepath.Join(containerLogLinks, e.Name())
		if target, err := os.Readlink(link); err == nil && strings.HasPrefix(target, dir+"/") {
			if err := os.Remove(link); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
