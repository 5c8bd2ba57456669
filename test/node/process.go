//go:build linux

package node

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/boshu2/gastown-operator/test/internal/childproc"
)

// poll calls check every 100ms until it returns true, the process (when not
// nil) exits, or timeout passes. An error from check says why it is not done
// yet and ends up in the timeout error; it does not stop the polling.
func poll(ctx context.Context, p *childproc.Process, timeout time.Duration, check func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if p != nil {
			if done, err := p.Exited(); done {
				return false, p.Errorf("exited (%v)", err)
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
