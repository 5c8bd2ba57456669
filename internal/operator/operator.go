// Package operator builds the gastown-operator manager: flags, the
// controller-runtime manager, probes, metrics, events and the controllers.
// cmd/manager runs it in a cluster; tests and the demo run it in-process.
package operator

import (
	"fmt"
	"os"
	"time"

	"github.com/fluxcd/pkg/runtime/acl"
	runtimeclient "github.com/fluxcd/pkg/runtime/client"
	runtimectrl "github.com/fluxcd/pkg/runtime/controller"
	"github.com/fluxcd/pkg/runtime/events"
	"github.com/fluxcd/pkg/runtime/leaderelection"
	"github.com/fluxcd/pkg/runtime/logger"
	"github.com/fluxcd/pkg/runtime/metrics"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/boshu2/gastown-operator/internal/scheme"
)

// ControllerName is the name the operator reports in events and uses as its
// field owner.
const ControllerName = "gastown-operator"

// Options configure the manager. BindFlags binds them in Flux's flag style.
type Options struct {
	MetricsAddr        string
	HealthAddr         string
	EventsAddr         string
	Concurrent         int
	WatchAllNamespaces bool
	// Namespace the operator runs in: watched alone unless WatchAllNamespaces,
	// and home of the leader election lease.
	Namespace               string
	GracefulShutdownTimeout time.Duration

	Client         runtimeclient.Options
	LeaderElection leaderelection.Options
	ACL            acl.Options
	RateLimiter    runtimectrl.RateLimiterOptions
	Log            logger.Options
}

// DefaultOptions returns the options a flag-less manager runs with.
func DefaultOptions() Options {
	fs := pflag.NewFlagSet("defaults", pflag.ContinueOnError)
	var o Options
	o.BindFlags(fs)
	return o
}

// BindFlags binds the options to command-line flags.
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-addr", ":8080", "The address the metric endpoint binds to.")
	fs.StringVar(&o.HealthAddr, "health-addr", ":8081", "The address the health endpoint binds to.")
	fs.StringVar(&o.EventsAddr, "events-addr", "", "The address of Flux's notification-controller events endpoint.")
	fs.IntVar(&o.Concurrent, "concurrent", 4, "The number of concurrent reconciles per controller.")
	fs.BoolVar(&o.WatchAllNamespaces, "watch-all-namespaces", true,
		"Watch all namespaces; when false only the namespace the operator runs in.")
	fs.StringVar(&o.Namespace, "namespace", envOr("RUNTIME_NAMESPACE", "gastown-system"),
		"The namespace the operator runs in.")
	fs.DurationVar(&o.GracefulShutdownTimeout, "graceful-shutdown-timeout", 30*time.Second,
		"How long running reconciles may take to finish on shutdown.")
	o.Client.BindFlags(fs)
	o.LeaderElection.BindFlags(fs)
	o.ACL.BindFlags(fs)
	o.RateLimiter.BindFlags(fs)
	o.Log.BindFlags(fs)
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// New creates the manager with probes, metrics and every controller.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	cacheOpts := cache.Options{}
	if !o.WatchAllNamespaces {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme.Scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.HealthAddr,
		LeaderElection:                o.LeaderElection.Enable,
		LeaderElectionID:              leaderelection.GenerateID(ControllerName),
		LeaderElectionNamespace:       o.Namespace,
		LeaderElectionReleaseOnCancel: o.LeaderElection.ReleaseOnCancel,
		LeaseDuration:                 &o.LeaderElection.LeaseDuration,
		RenewDeadline:                 &o.LeaderElection.RenewDeadline,
		RetryPeriod:                   &o.LeaderElection.RetryPeriod,
		GracefulShutdownTimeout:       &o.GracefulShutdownTimeout,
		Controller:                    ctrlcontroller.Controller{MaxConcurrentReconciles: o.Concurrent},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if _, err := events.NewRecorder(mgr, ctrl.Log, o.EventsAddr, ControllerName); err != nil {
		return nil, fmt.Errorf("creating event recorder: %w", err)
	}
	_ = metrics.MustMakeRecorder()
	return mgr, nil
}
