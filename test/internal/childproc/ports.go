package childproc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A child binds its ports seconds after they are chosen (the kubelet after
// containerd has started and the images are imported). A port the kernel
// hands out for port 0 may go, in that time, to any outgoing connection on
// the machine, or to another test process's listener. So the ports come
// from below the kernel's ephemeral range, which neither uses, and each is
// held by a lock file for the life of this process, which another test
// process choosing ports the same way respects. The lock files stay, empty:
// one for each port ever chosen.

// portsBelowEphemeral is how many ports below the ephemeral range are
// chosen from.
const portsBelowEphemeral = 12000

var (
	portLocksMu sync.Mutex
	// portLocks are the locked files of the ports handed out; closing one
	// would release its lock.
	portLocks []*os.File
)

// FreeAddrs returns n distinct loopback addresses (127.0.0.1:port) that
// were free a moment ago and that no other caller of FreeAddrs, in this
// process or another, is handed while this process lives.
func FreeAddrs(n int) ([]*net.TCPAddr, error) {
	hi := ephemeralLow()
	lo := max(1024, hi-portsBelowEphemeral)
	dir := portLockDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("making the port lock directory: %w", err)
	}
	addrs := make([]*net.TCPAddr, 0, n)
	for tries := 0; len(addrs) < n; tries++ {
		if tries == 10*portsBelowEphemeral {
			return nil, fmt.Errorf("no free loopback port in %d..%d after %d tries", lo, hi-1, tries)
		}
		port := lo + rand.IntN(hi-lo)
		lock, ok, err := lockPort(dir, port)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// Free now: a listener of this process's, or a part that does
		// not lock, may hold it.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			lock.Close()
			continue
		}
		l.Close()
		portLocksMu.Lock()
		portLocks = append(portLocks, lock)
		portLocksMu.Unlock()
		addrs = append(addrs, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	}
	return addrs, nil
}

// lockPort takes the port's lock file; ok is false when another holds it.
// A lock belongs to the open file, so two calls in one process
// exclude each other too, and the kernel releases it when the process
// dies.
func lockPort(dir string, port int) (lock *os.File, ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false, fmt.Errorf("opening a port lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, true, nil
}

// portLockDir holds the ports' lock files, shared by all test processes.
func portLockDir() string { return filepath.Join(os.TempDir(), "gastown-ports") }

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read, or leaves too few ports below it).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low < 1024+portsBelowEphemeral/4 {
		return 32768
	}
	return low
}
