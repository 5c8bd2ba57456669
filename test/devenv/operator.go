package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/boshu2/gastown-operator/internal/operator"
)

// Timing of the in-process operator.
const (
	operatorStartTimeout = 30 * time.Second
	// The manager's own graceful shutdown is bounded by
	// GracefulShutdownTimeout; this adds room for its last status writes.
	operatorStopTimeout = 20 * time.Second
	// Failed polecats are retried in seconds, not minutes.
	retryBackoff    = time.Second
	maxRetryBackoff = 5 * time.Second
)

// operatorRun is the operator's manager running in a goroutine.
type operatorRun struct {
	cancel context.CancelFunc
	// done is closed when the manager has returned; err says why.
	done chan struct{}
	err  error
	log  io.Closer
}

// startOperator runs the operator in-process, as cmd/manager would but
// with loopback probes, no leader election, fast retries, and local
// polecats run by RunnerPath in Dir/polecats.
func (e *Env) startOperator(ctx context.Context) error {
	addrs, err := freeAddrs(2)
	if err != nil {
		return err
	}
	e.endpoints.OperatorMetrics, e.endpoints.OperatorHealth = addrs[0], addrs[1]
	log, err := e.operatorLog()
	if err != nil {
		return err
	}

	o := operator.DefaultOptions()
	o.MetricsAddr, o.HealthAddr = e.endpoints.OperatorMetrics, e.endpoints.OperatorHealth
	o.LeaderElection.Enable = false
	o.WatchAllNamespaces = true
	o.RetryBackoff, o.MaxRetryBackoff = retryBackoff, maxRetryBackoff
	o.GracefulShutdownTimeout = 10 * time.Second
	o.LocalRunner = e.RunnerPath
	o.LocalWorkDir = filepath.Join(e.Dir, "polecats")
	// Envs run one after another in a test process, each with a manager
	// of its own: controller-runtime keeps every controller name it saw.
	o.SkipNameValidation = true
	if e.opts.Operator != nil {
		e.opts.Operator(&o)
	}
	cfg := e.Config
	if e.opts.OperatorConfig != nil {
		if cfg, err = e.opts.OperatorConfig(ctx, e); err != nil {
			closeLog(log)
			return fmt.Errorf("the operator's API server configuration: %w", err)
		}
	}
	mgr, err := operator.New(cfg, o)
	if err != nil {
		closeLog(log)
		return err
	}

	mctx, cancel := context.WithCancel(context.Background())
	run := &operatorRun{cancel: cancel, done: make(chan struct{}), log: log}
	go func() {
		run.err = mgr.Start(mctx)
		close(run.done)
	}()
	e.operator = run
	if err := e.waitOperator(ctx, run.done); err != nil {
		if errors.Is(err, errExited) {
			err = fmt.Errorf("the manager stopped: %w", run.err)
		}
		return fmt.Errorf("%w; see %s", err, e.operatorLogName())
	}
	return nil
}

// StopOperator stops the operator, as an upgrade would: the in-process
// manager's reconciles are cut off mid-request and its local polecat runs
// are stopped (a new operator reports them lost); the manager process of
// Options.ManagerProcess gets SIGTERM. Pods keep running. StartOperator
// starts a new one.
func (e *Env) StopOperator() error {
	switch {
	case e.operator != nil:
		run := e.operator
		e.forgetOperator()
		return run.stop()
	case e.manager != nil:
		m := e.manager
		e.forgetOperator()
		return m.stop()
	}
	return errors.New("devenv: no operator is running")
}

// KillOperator kills the manager process of Options.ManagerProcess with
// SIGKILL, and the local polecat runs it started, as a crash of the
// operator's container would: no request is finished, no status written on
// the way out. Pods keep running. StartOperator starts a new one.
func (e *Env) KillOperator() error {
	if e.manager == nil {
		return errors.New("devenv: KillOperator kills the manager process of Options.ManagerProcess, and none is running")
	}
	m := e.manager
	e.forgetOperator()
	return crash(m, e.RunnerPath)
}

// forgetOperator drops the running operator and its endpoints, before it
// is stopped: a failed stop leaves nothing for Env.Stop to stop twice.
func (e *Env) forgetOperator() {
	e.operator, e.manager = nil, nil
	e.endpoints.OperatorMetrics, e.endpoints.OperatorHealth = "", ""
}

// StartOperator starts the operator after StopOperator or KillOperator: a
// new manager with empty caches, which lists every object afresh, on new
// metrics and health ports (Endpoints). The in-process one runs in the same
// process, so process-wide state (the metrics registry) is the old one's;
// the manager process is a new process, logging to the same operator.log.
func (e *Env) StartOperator(ctx context.Context) error {
	switch {
	case e.operator != nil || e.manager != nil:
		return errors.New("devenv: the operator is running already")
	case e.opts.InstallOperator != nil:
		return errors.New("devenv: the operator was installed (Options.InstallOperator): StartOperator cannot start it")
	case e.opts.ManagerProcess:
		return e.startManagerProcess(ctx)
	}
	return e.startOperator(ctx)
}

// stop cancels the manager and waits for it to return.
func (r *operatorRun) stop() error {
	r.cancel()
	defer closeLog(r.log)
	select {
	case <-r.done:
		return r.err
	case <-time.After(operatorStopTimeout):
		return fmt.Errorf("the operator's manager did not stop within %s", operatorStopTimeout)
	}
}

func (e *Env) operatorLogName() string {
	if e.OperatorLog == "" {
		return "Options.OperatorLog"
	}
	return e.OperatorLog
}

// operatorLog points the process's logger at Options.OperatorLog or at a
// new operator.log in Dir; the returned Closer closes that file.
func (e *Env) operatorLog() (io.Closer, error) {
	if e.opts.OperatorLog != nil {
		logSink.set(e.opts.OperatorLog)
		return nil, nil
	}
	e.OperatorLog = filepath.Join(e.Dir, "operator.log")
	f, err := os.OpenFile(e.OperatorLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	logSink.set(f)
	e.logf("devenv: operator log: %s", e.OperatorLog)
	return f, nil
}

func closeLog(c io.Closer) {
	logSink.set(io.Discard)
	if c != nil {
		_ = c.Close()
	}
}

// logSink is where the operator's logs go. controller-runtime's logger is
// global and takes its first SetLogger only, so it is set once, to a writer
// each Env redirects. A program that set its own logger before keeps it.
var (
	logSink       = &switchWriter{w: io.Discard}
	setLoggerOnce sync.Once
)

// installLogger makes logSink the process's controller-runtime and klog
// logger; client-go logs through klog.
func installLogger() {
	l := zap.New(zap.WriteTo(logSink), zap.ConsoleEncoder())
	ctrl.SetLogger(l)
	klog.SetLogger(l.WithName("klog"))
}

type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) set(w io.Writer) {
	setLoggerOnce.Do(installLogger)
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
