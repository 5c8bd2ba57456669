package polecat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Supervisor runs local polecats (executionMode local) as child processes
// of the operator and remembers how each one ended.
type Supervisor struct {
	// OnExit is called, outside the lock, when a run ends.
	OnExit func(key string)
	// StopGrace is how long a stopped run may take to write its result
	// before it is killed.
	StopGrace time.Duration

	mu   sync.Mutex
	runs map[string]*LocalRun
	// born is when the supervisor was made: a run started before it belongs
	// to an earlier operator process.
	born time.Time
}

// NewSupervisor returns a supervisor that calls onExit when a run ends.
func NewSupervisor(onExit func(key string)) *Supervisor {
	return &Supervisor{OnExit: onExit, born: time.Now()}
}

// Lost says whether a run that started at startedAt and is unknown here was
// lost with an earlier operator process (rather than not started yet).
func (s *Supervisor) Lost(startedAt time.Time) bool {
	return startedAt.Before(s.born)
}

// StopAll stops every run, for the operator's shutdown: the runs are its
// children and must not outlive it.
func (s *Supervisor) StopAll() {
	s.mu.Lock()
	keys := make([]string, 0, len(s.runs))
	for k := range s.runs {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() { defer wg.Done(); s.Stop(k) }()
	}
	wg.Wait()
}

// LocalRun is one local polecat process.
type LocalRun struct {
	// WorkDir holds the clone, HOME and secrets; Forget removes it.
	WorkDir string
	// LogFile is the runner's and agent's combined output; it is kept.
	LogFile   string
	StartedAt time.Time

	cmd        *exec.Cmd
	resultFile string
	done       chan struct{}
	finishedAt time.Time
	result     *gastownv1.PolecatResult
}

// Start starts p under key, writing its output to logFile (kept after the
// run, unlike workDir). Starting a key that runs already is an error.
func (s *Supervisor) Start(key string, p *LocalProcess, workDir, logFile string) (*LocalRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs == nil {
		s.runs = map[string]*LocalRun{}
	}
	if _, ok := s.runs[key]; ok {
		return nil, fmt.Errorf("local polecat %s is already running", key)
	}
	run := &LocalRun{WorkDir: workDir, LogFile: logFile, resultFile: p.ResultFile,
		StartedAt: time.Now(), done: make(chan struct{})}
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(run.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	run.cmd = exec.Command(p.Path, p.Args[1:]...)
	run.cmd.Env = p.Env
	run.cmd.Dir = workDir
	run.cmd.Stdout, run.cmd.Stderr = log, log
	run.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // signals reach the agent too
	if err := run.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting the local runner %s: %w", p.Path, err)
	}
	s.runs[key] = run
	go func() {
		err := run.cmd.Wait()
		log.Close()
		s.finish(key, run, err)
	}()
	return run, nil
}

// finish records how a run ended.
func (s *Supervisor) finish(key string, run *LocalRun, waitErr error) {
	res := resultOf(run.resultFile, run.cmd.ProcessState, waitErr)
	s.mu.Lock()
	run.result, run.finishedAt = res, time.Now()
	close(run.done)
	onExit := s.OnExit
	s.mu.Unlock()
	if onExit != nil {
		onExit(key)
	}
}

// resultOf reads the runner's result, or makes one from its exit status
// when it died before writing one.
func resultOf(file string, state *os.ProcessState, waitErr error) *gastownv1.PolecatResult {
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
		if res, err := ParseResult(string(b)); err == nil {
			return res
		}
	}
	res := &gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError}
	if state != nil {
		if o, ok := OutcomeForExitCode(int32(state.ExitCode())); ok {
			res.Outcome = o
		}
		res.Message = fmt.Sprintf("the runner exited with %s without a result", state)
	} else if waitErr != nil {
		res.Message = "the runner failed: " + waitErr.Error()
	}
	return res
}

// Get returns the run under key.
func (s *Supervisor) Get(key string) (*LocalRun, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.runs[key]
	return run, ok
}

// Result returns how the run ended, or nil while it runs.
func (s *Supervisor) Result(run *LocalRun) (*gastownv1.PolecatResult, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return run.result, run.finishedAt
}

// Stop asks a run to stop (SIGTERM to its process group), kills it after
// StopGrace, and waits for it to end.
func (s *Supervisor) Stop(key string) {
	run, ok := s.Get(key)
	if !ok {
		return
	}
	select {
	case <-run.done:
		return
	default:
	}
	pgid := -run.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	grace := s.StopGrace
	if grace == 0 {
		grace = 10 * time.Second
	}
	select {
	case <-run.done:
	case <-time.After(grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-run.done
	}
}

// Forget stops the run under key if it runs, removes its work directory and
// forgets it.
func (s *Supervisor) Forget(key string) error {
	s.Stop(key)
	s.mu.Lock()
	run, ok := s.runs[key]
	delete(s.runs, key)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	return os.RemoveAll(run.WorkDir)
}

// ErrLost is the message of a local run that was in progress when the
// operator restarted: the process went with the operator.
var ErrLost = errors.New("the operator restarted while this local polecat ran; its process is gone")
