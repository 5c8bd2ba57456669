// Package childproc runs the test environments' child processes (the
// node's containerd, kubelet and controllers, devenv's source-controller):
// each in its own process group, killed when the test process dies, with
// its output in a log file.
package childproc

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// StopGrace is how long a process has to exit after SIGTERM before it is
// killed. The node's components and source-controller exit in well under a
// second.
const StopGrace = 10 * time.Second

// Process is a child process whose output goes to a log file.
type Process struct {
	// Name names the process in errors.
	Name string
	// Log is the file its stdout and stderr are appended to.
	Log string
	cmd *exec.Cmd
	// done is closed when the process has exited; waitErr says how.
	done    chan struct{}
	waitErr error
}

// Start starts path with its output appended to logPath, in the
// environment env (this process's own when env is nil). The child gets its
// own process group, so that a terminal's ^C reaches only the test, and
// where the OS allows is killed by the kernel when the test process dies,
// so that a test that panics or times out leaves no kubelet or
// source-controller behind (see sysProcAttr).
func Start(name, path string, args, env []string, logPath string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Errorf wraps an error about the process with the tail of its log.
func (p *Process) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s; the end of %s:\n%s", p.Name, fmt.Sprintf(format, args...), p.Log, LogTail(p.Log, 30))
}

// Stop sends SIGTERM, then SIGKILL after StopGrace, and waits. It reports a
// process that had died on its own before, which its owner did not expect.
// A nil Process is not running: stopping it does nothing.
func (p *Process) Stop() error {
	if p == nil {
		return nil
	}
	if done, err := p.Exited(); done {
		return fmt.Errorf("%s had exited before Stop (%v); see %s", p.Name, err, p.Log)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(StopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}

// Kill kills the process with SIGKILL, as the kernel's OOM killer or a
// node's crash would: it gets no chance to shut down. Its children, in
// process groups of their own, are not signalled. Kill waits for it to
// exit; like Stop, it reports a process that had died before.
func (p *Process) Kill() error {
	if done, err := p.Exited(); done {
		return fmt.Errorf("%s had exited before Kill (%v); see %s", p.Name, err, p.Log)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing %s: %w", p.Name, err)
	}
	<-p.done
	return nil
}

// Running reports whether the process was started and has not exited.
func (p *Process) Running() bool {
	if p == nil {
		return false
	}
	done, _ := p.Exited()
	return !done
}

// Pid is the process id, 0 when the process is not running.
func (p *Process) Pid() int {
	if !p.Running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// LogTail returns the last n lines of a log file, for error messages.
func LogTail(path string, n int) string {
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
