package operator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/boshu2/gastown-operator/internal/controller"
)

// webhookServer serves the webhook receiver on addr while the manager runs.
// It runs on the leader only: the Refinery controller it wakes runs there.
func webhookServer(addr string, receiver http.Handler) manager.Runnable {
	return leaderRunnable(func(ctx context.Context) error {
		mux := http.NewServeMux()
		mux.Handle(controller.WebhookPathPrefix, receiver)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		go func() {
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}

// leaderRunnable is a manager.RunnableFunc that needs leader election.
type leaderRunnable manager.RunnableFunc

func (f leaderRunnable) Start(ctx context.Context) error { return f(ctx) }
func (leaderRunnable) NeedLeaderElection() bool          { return true }
