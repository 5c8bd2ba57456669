//go:build linux

package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// The node's pods live in cgroups under a cgroup root of the node's own
// (the kubelet's cgroupRoot), in every hierarchy: on a cgroup v1 machine
// each controller's, and the v2 one the kubelet mirrors them into. Nothing
// else of the machine's is touched, and Stop removes the whole tree.

// cgroupHierarchies returns the mount point of every cgroup hierarchy, v1
// and v2 (on a hybrid machine, the v2 one at /sys/fs/cgroup/unified).
func cgroupHierarchies() ([]string, error) {
	list, err := mounts()
	var points []string
	for _, m := range list {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			points = append(points, m.point)
		}
	}
	return points, err
}

// makeCgroupRoot makes the node's cgroup root in every hierarchy: the
// kubelet refuses a cgroupRoot that does not exist. A new cpuset cgroup has
// no CPUs or memory nodes until given its parent's.
func makeCgroupRoot(root string) error {
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hierarchies {
		dir := filepath.Join(h, root)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("making cgroup %s: %w", dir, err)
		}
		for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
			parent, err := os.ReadFile(filepath.Join(h, file))
			if err != nil {
				continue // not the cpuset hierarchy
			}
			if err := os.WriteFile(filepath.Join(dir, file), parent, 0o644); err != nil {
				return fmt.Errorf("setting %s of cgroup %s: %w", file, dir, err)
			}
		}
	}
	return nil
}

// cgroupTree returns the node's cgroups in every hierarchy, the deepest
// first, so that each can be removed after its children.
func cgroupTree(root string) ([]string, error) {
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, h := range hierarchies {
		top := filepath.Join(h, root)
		err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/")
	})
	return dirs, nil
}

// removeCgroups kills every process left in the node's cgroups (containers
// whose shim is gone) and removes the cgroups, in every hierarchy, until
// none is left.
func removeCgroups(ctx context.Context, root string) error {
	return poll(ctx, nil, cleanupTimeout, func(context.Context) (bool, error) {
		dirs, err := cgroupTree(root)
		if err != nil || len(dirs) == 0 {
			return err == nil, err
		}
		for _, dir := range dirs {
			killAll(cgroupProcs(dir))
		}
		var errs []error
		for _, dir := range dirs {
			if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
			}
		}
		return false, errors.Join(errs...)
	})
}

// cgroupProcs lists the processes in one cgroup.
func cgroupProcs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func killAll(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
