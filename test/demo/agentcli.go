package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// installProgressEvery is how often the size of a first install is shown.
const installProgressEvery = 5 * time.Second

// installing is the line hack/agent-clis.sh starts an install with; npm
// installs into DIR.tmp, which is renamed to DIR when it is complete.
var installing = regexp.MustCompile(`installing \S+ from the npm registry into (\S+)`)

// installAgentCLI makes sure the agent's CLI is in the cache before the
// environment starts: hack/agent-clis.sh installs it from npm the first
// time (several hundred MB), and the demo shows the script's lines and how
// much has arrived while npm works. devenv and test/images then find it
// there ($GASTOWN_CLAUDE or $GASTOWN_OPENCODE, set here, names it for
// local polecats). Nothing to do for the scripted agent, or when that
// variable already names a CLI.
func installAgentCLI(ctx context.Context, p *printer, opts devenv.Options) error {
	var what, envVar string
	switch opts.Agent {
	case devenv.AgentClaudeCode:
		what, envVar = "claude", "GASTOWN_CLAUDE"
	case devenv.AgentOpenCode:
		what, envVar = "opencode", "GASTOWN_OPENCODE"
	default:
		return nil
	}
	if len(opts.AgentCommand) > 0 || os.Getenv(envVar) != "" {
		return nil
	}
	root, err := testenv.ProjectRoot()
	if err != nil {
		return err
	}
	lines := &lineWriter{line: func(s string) { p.event("%s", s) }}
	progress := &installProgress{p: p, what: what}
	lines.watch = progress.sawLine
	defer progress.stop()

	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "agent-clis.sh"), what)
	cmd.Dir = root
	cmd.Stderr = lines
	out, err := cmd.Output()
	lines.flush()
	if err != nil {
		return fmt.Errorf("installing the %s CLI with hack/agent-clis.sh %s: %w", what, what, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return fmt.Errorf("hack/agent-clis.sh %s printed no path", what)
	}
	return os.Setenv(envVar, fields[len(fields)-1])
}

// installProgress shows, every installProgressEvery, how many MB npm has
// written so far, once the script said where it installs.
type installProgress struct {
	p     *printer
	what  string
	once  sync.Once
	done  chan struct{}
	ended sync.WaitGroup
}

func (ip *installProgress) sawLine(line string) {
	m := installing.FindStringSubmatch(line)
	if m == nil {
		return
	}
	ip.once.Do(func() {
		ip.done = make(chan struct{})
		ip.ended.Add(1)
		go ip.report(m[1] + ".tmp")
	})
}

func (ip *installProgress) report(dir string) {
	defer ip.ended.Done()
	began := time.Now()
	tick := time.NewTicker(installProgressEvery)
	defer tick.Stop()
	for {
		select {
		case <-ip.done:
			return
		case <-tick.C:
			ip.p.event("  … the %s CLI: %d MB installed so far (%s)", ip.what, dirSize(dir)>>20,
				time.Since(began).Round(time.Second))
		}
	}
}

func (ip *installProgress) stop() {
	if ip.done != nil {
		close(ip.done)
		ip.ended.Wait()
	}
}

// dirSize is the size of the regular files under dir; 0 when it is gone.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // npm moves files while it works
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// lineWriter calls line for each complete line written to it, and watch,
// when set, before that.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	line  func(string)
	watch func(string)
}

var _ io.Writer = (*lineWriter)(nil)

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func (w *lineWriter) emit(s string) {
	s = strings.TrimRight(s, "\r")
	if strings.TrimSpace(s) == "" {
		return
	}
	if w.watch != nil {
		w.watch(s)
	}
	w.line(s)
}
