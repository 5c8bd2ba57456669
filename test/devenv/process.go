package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/boshu2/gastown-operator/test/internal/childproc"
)

// process is source-controller's child process, with the stop that
// Env.Stop calls.
type process struct{ *childproc.Process }

func (p *process) stop() error { return p.Stop() }

// startProcess starts path in the environment env with its output
// appended to logPath.
func startProcess(name, path string, args, env []string, logPath string) (*process, error) {
	p, err := childproc.Start(name, path, args, env, logPath)
	if err != nil {
		return nil, err
	}
	return &process{p}, nil
}

// errExited is returned by waitHealthy when the process ended first.
var errExited = errors.New("exited before it was ready")

// waitHealthy polls url until it answers 200, the process ends (exited is
// closed) or timeout passes.
func waitHealthy(ctx context.Context, url string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = getOK(ctx, url); last == nil {
			return nil
		}
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 within %s: %w", url, timeout, last)
		case <-tick.C:
		}
	}
}

// waitOperator waits for the operator's readiness probe and its metrics
// endpoint: the manager starts their servers one after the other, and a
// test may scrape the metrics first thing.
func (e *Env) waitOperator(ctx context.Context, exited <-chan struct{}) error {
	for _, url := range []string{"http://" + e.endpoints.OperatorHealth + "/readyz", "http://" + e.endpoints.OperatorMetrics + "/metrics"} {
		if err := waitHealthy(ctx, url, exited, operatorStartTimeout); err != nil {
			return err
		}
	}
	return nil
}

func getOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// freeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago (see childproc.FreeAddrs).
func freeAddrs(n int) ([]string, error) {
	tcp, err := childproc.FreeAddrs(n)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, len(tcp))
	for i, a := range tcp {
		addrs[i] = a.String()
	}
	return addrs, nil
}

// LogTail returns the last n lines of a log file, for error messages.
func LogTail(path string, n int) string { return childproc.LogTail(path, n) }
