//go:build linux

package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// stopGrace is how long a component has to exit after SIGTERM before it is
// killed. The kubelet and containerd exit in well under a second.
const stopGrace = 10 * time.Second

// process is one of the node's components, its output in a log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	// done is closed when the process has exited; waitErr says how.
	done    chan struct{}
	waitErr error
}

// startProcess starts path with its output appended to logPath. The child
// gets its own process group (so a terminal's ^C reaches only the test) and
// is killed by the kernel when the test process dies, so that a panicking
// test leaves no kubelet behind. (Strictly, when the OS thread that started
// it ends; Go keeps its threads unless a goroutine locked to one exits.)
func startProcess(name, path string, args []string, logPath string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// errorf wraps an error about the process with the tail of its log.
func (p *process) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s; the end of %s:\n%s", p.name, fmt.Sprintf(format, args...), p.log, logTail(p.log, 30))
}

// stop sends SIGTERM, then SIGKILL after stopGrace, and waits. It reports a
// process that had died on its own before, which the node did not expect.
func (p *process) stop() error {
	if p == nil {
		return nil
	}
	if done, err := p.exited(); done {
		return fmt.Errorf("%s had exited before Stop (%v); see %s", p.name, err, p.log)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}

// running reports whether the process was started and has not exited.
func (p *process) running() bool {
	if p == nil {
		return false
	}
	done, _ := p.exited()
	return !done
}

// pid is the process id, 0 when the process is not running.
func (p *process) pid() int {
	if !p.running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// poll calls check every 100ms until it returns true, the process (when not
// nil) exits, or timeout passes. An error from check says why it is not done
// yet and ends up in the timeout error; it does not stop the polling.
func poll(ctx context.Context, p *process, timeout time.Duration, check func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if p != nil {
			if done, err := p.exited(); done {
				return false, p.errorf("exited (%v)", err)
			}
		}
		ok, err := check(ctx)
		last = err
		return ok, nil
	})
	if err != nil && wait.Interrupted(err) {
		if last != nil {
			return fmt.Errorf("not done within %s: %w", timeout, last)
		}
		return fmt.Errorf("not done within %s", timeout)
	}
	return err
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// The listeners stay open until all are chosen, so that the kernel never
// hands one out twice. Another process may take one before it is used; that
// shows as a bind error in the log of the component that lost.
func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// logTail returns the last n lines of a log file, for error messages.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const maxRead = 64 << 10
	if info, err := f.Stat(); err == nil && info.Size() > maxRead {
		_, _ = f.Seek(-maxRead, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
