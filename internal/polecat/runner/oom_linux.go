package runner

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// oomKillFiles are where the kernel counts the OOM kills of the container's
// memory cgroup: cgroup v2, then cgroup v1 (oom_kill since Linux 4.13).
var oomKillFiles = []string{"/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"}

// oomKills is how often the kernel's OOM killer has struck in this
// container's memory cgroup, or -1 when it cannot be read.
func oomKills() int64 {
	for _, path := range oomKillFiles {
		if n, ok := readOOMKill(path); ok {
			return n
		}
	}
	return -1
}

func readOOMKill(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "oom_kill "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
