// Package operator builds the gastown-operator manager: flags, the
// controller-runtime manager, probes, metrics, events and the controllers.
// cmd/manager runs it in a cluster; tests and the demo run it in-process.
package operator

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/pkg/runtime/acl"
	runtimectrl "github.com/fluxcd/pkg/runtime/controller"
	"github.com/fluxcd/pkg/runtime/events"
	"github.com/fluxcd/pkg/runtime/jitter"
	"github.com/fluxcd/pkg/runtime/leaderelection"
	"github.com/fluxcd/pkg/runtime/logger"
	"github.com/fluxcd/pkg/runtime/pprof"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/controller"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// ControllerName is the name the operator reports in events and uses as its
// field owner.
const ControllerName = "gastown-operator"

// Options configure the manager. BindFlags binds them in Flux's flag style.
type Options struct {
	MetricsAddr string
	HealthAddr  string
	EventsAddr  string
	// WebhookAddr, when set, serves GitHub webhook deliveries for the
	// Refineries with spec.github.webhookSecretRef.
	WebhookAddr        string
	Concurrent         int
	WatchAllNamespaces bool
	// WatchNamespaces, when set, are the only namespaces watched (the
	// workers namespaces of a namespaced install), whatever
	// WatchAllNamespaces says. SourceNamespaces add namespaces where only
	// Flux GitRepositories are watched (e.g. flux-system).
	WatchNamespaces  []string
	SourceNamespaces []string
	// Namespace the operator runs in: watched alone unless WatchAllNamespaces
	// or WatchNamespaces, and home of the leader election lease.
	Namespace               string
	GracefulShutdownTimeout time.Duration
	// RetryBackoff is the wait before a failed polecat is retried; it doubles
	// per retry up to MaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// ArtifactRetries is how often a failed artifact download is retried.
	ArtifactRetries int
	// RunnerImage holds the gastown-polecat runner that polecat pods copy in.
	RunnerImage string
	// AgentImages overrides the default image of an agent type.
	AgentImages map[string]string
	// PolecatFixedUser runs polecat pods as user, group and fsGroup 65532;
	// false leaves them to the platform (OpenShift's restricted-v2 SCC).
	PolecatFixedUser bool
	// LocalRunner is the gastown-polecat binary for executionMode local.
	LocalRunner  string
	LocalWorkDir string
	// SkipNameValidation allows more than one manager in a process (tests,
	// the demo).
	SkipNameValidation bool

	Client         ClientOptions
	LeaderElection leaderelection.Options
	ACL            acl.Options
	RateLimiter    runtimectrl.RateLimiterOptions
	Log            logger.Options
	// IntervalJitter spreads the periodic polls (spec.interval,
	// pollInterval, healthCheckInterval) as Flux's controllers do.
	IntervalJitter jitter.IntervalOptions
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
	fs.StringVar(&o.WebhookAddr, "webhook-addr", "", "The address GitHub webhook deliveries are served on (/hooks/github/<namespace>/<refinery>); empty serves none.")
	fs.IntVar(&o.Concurrent, "concurrent", 4, "The number of concurrent reconciles per controller, and of the objects a BeadStore sync writes at once.")
	fs.BoolVar(&o.WatchAllNamespaces, "watch-all-namespaces", true,
		"Watch all namespaces; when false only the namespace the operator runs in.")
	fs.StringSliceVar(&o.WatchNamespaces, "watch-namespaces", nil,
		"Watch only these namespaces (comma-separated), overriding --watch-all-namespaces: a namespaced install's workers namespaces.")
	fs.StringSliceVar(&o.SourceNamespaces, "source-namespaces", nil,
		"With --watch-namespaces, more namespaces where only Flux GitRepositories are watched, e.g. flux-system.")
	fs.StringVar(&o.Namespace, "namespace", envOr("RUNTIME_NAMESPACE", "gastown-system"),
		"The namespace the operator runs in.")
	fs.DurationVar(&o.GracefulShutdownTimeout, "graceful-shutdown-timeout", 30*time.Second,
		"How long running reconciles may take to finish on shutdown.")
	fs.DurationVar(&o.RetryBackoff, "polecat-retry-backoff", 30*time.Second,
		"The wait before a failed polecat is retried; it doubles per retry.")
	fs.DurationVar(&o.MaxRetryBackoff, "polecat-max-retry-backoff", 10*time.Minute,
		"The longest wait before a failed polecat is retried.")
	fs.IntVar(&o.ArtifactRetries, "artifact-retries", 9,
		"How often a failed download of a source artifact is retried.")
	fs.StringVar(&o.RunnerImage, "runner-image", polecat.DefaultRunnerImage,
		"The image holding the gastown-polecat runner, copied into every polecat pod.")
	fs.BoolVar(&o.PolecatFixedUser, "polecat-fixed-user", true,
		"Run polecat pods as user, group and fsGroup 65532; false leaves them to the platform, as OpenShift's restricted-v2 SCC wants.")
	fs.StringToStringVar(&o.AgentImages, "agent-image", nil,
		"The image of an agent type, e.g. --agent-image=claude-code=registry/claude:1.2 (repeatable).")
	fs.StringVar(&o.LocalRunner, "local-runner", "",
		"The gastown-polecat binary that runs executionMode local polecats as child processes; empty refuses local mode.")
	fs.StringVar(&o.LocalWorkDir, "local-workdir", "",
		"Where local polecats get their work directories (default: the system temp dir).")
	o.Client.BindFlags(fs)
	o.LeaderElection.BindFlags(fs)
	o.ACL.BindFlags(fs)
	o.RateLimiter.BindFlags(fs)
	o.IntervalJitter.BindFlags(fs)
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
	if err := o.IntervalJitter.SetGlobalJitter(nil); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme.Scheme,
		Cache:  CacheTransforms(o.cacheOptions()),
		// Secrets are read with a GET each, never listed, watched or cached:
		// the operator reads only the secrets its objects name, and its RBAC
		// grants secrets get and nothing else.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		// Go's profiles beside the metrics, under /debug/pprof/, as
		// Flux's controllers serve them.
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr, ExtraHandlers: pprof.GetHandlers()},
		HealthProbeBindAddress:        o.HealthAddr,
		LeaderElection:                o.LeaderElection.Enable,
		LeaderElectionID:              leaderelection.GenerateID(ControllerName),
		LeaderElectionNamespace:       o.Namespace,
		LeaderElectionReleaseOnCancel: o.LeaderElection.ReleaseOnCancel,
		LeaseDuration:                 &o.LeaderElection.LeaseDuration,
		RenewDeadline:                 &o.LeaderElection.RenewDeadline,
		RetryPeriod:                   &o.LeaderElection.RetryPeriod,
		GracefulShutdownTimeout:       &o.GracefulShutdownTimeout,
		Controller:                    ctrlconfig.Controller{MaxConcurrentReconciles: o.Concurrent, SkipNameValidation: &o.SkipNameValidation},
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
	recorder, err := events.NewRecorder(mgr, ctrl.Log, o.EventsAddr, ControllerName)
	if err != nil {
		return nil, fmt.Errorf("creating event recorder: %w", err)
	}
	if err := setupControllers(mgr, o, recorder); err != nil {
		return nil, err
	}
	if err := setupMetrics(mgr); err != nil {
		return nil, err
	}
	return mgr, nil
}

// cacheOptions says which namespaces the manager's cache watches: all, the
// WatchNamespaces (plus, for GitRepositories, the SourceNamespaces), or the
// operator's own namespace. Cluster-scoped kinds (Rig, Namespace) are watched
// cluster-wide in every case.
func (o Options) cacheOptions() cache.Options {
	switch {
	case len(o.WatchNamespaces) > 0:
		opts := cache.Options{DefaultNamespaces: namespaceConfigs(o.WatchNamespaces)}
		if len(o.SourceNamespaces) > 0 {
			opts.ByObject = map[client.Object]cache.ByObject{
				&sourcev1.GitRepository{}: {Namespaces: namespaceConfigs(append(slices.Clone(o.WatchNamespaces), o.SourceNamespaces...))},
			}
		}
		return opts
	case !o.WatchAllNamespaces:
		return cache.Options{DefaultNamespaces: namespaceConfigs([]string{o.Namespace})}
	}
	return cache.Options{}
}

// CacheTransforms drops what the operator never reads from every object it
// caches: with thousands of beads, managedFields would be most of the
// cache. Of a pod it reads the status, and of the spec only the
// containers' names and restart policies and the deadline. A bead's text
// it reads from the API server when it needs it (beadOutline), and beads
// share the strings they repeat.
func CacheTransforms(opts cache.Options) cache.Options {
	opts.DefaultTransform = cache.TransformStripManagedFields()
	if opts.ByObject == nil {
		opts.ByObject = map[client.Object]cache.ByObject{}
	}
	opts.ByObject[&corev1.Pod{}] = cache.ByObject{Transform: podOutline}
	opts.ByObject[&gastownv1.Bead{}] = cache.ByObject{Transform: beadOutline}
	return opts
}

// podOutline keeps of a cached pod what the operator reads; the operator
// never writes a pod it read from the cache.
func podOutline(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	pod.ManagedFields = nil
	outline := func(cs []corev1.Container) []corev1.Container {
		out := make([]corev1.Container, len(cs))
		for i, c := range cs {
			out[i] = corev1.Container{Name: c.Name, Image: c.Image, RestartPolicy: c.RestartPolicy}
		}
		return out
	}
	pod.Spec = corev1.PodSpec{
		InitContainers:        outline(pod.Spec.InitContainers),
		Containers:            outline(pod.Spec.Containers),
		ActiveDeadlineSeconds: pod.Spec.ActiveDeadlineSeconds,
		NodeName:              pod.Spec.NodeName,
		RestartPolicy:         pod.Spec.RestartPolicy,
	}
	return pod, nil
}

func namespaceConfigs(names []string) map[string]cache.Config {
	m := make(map[string]cache.Config, len(names))
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			m[n] = cache.Config{}
		}
	}
	return m
}

func (o Options) polecatDefaults() polecat.Defaults {
	d := polecat.Defaults{RunnerImage: o.RunnerImage, AgentImages: map[gastownv1.AgentType]string{}, NoFixedUser: !o.PolecatFixedUser}
	for agent, image := range o.AgentImages {
		d.AgentImages[gastownv1.AgentType(agent)] = image
	}
	return d
}

// setupControllers registers the field indexes and every reconciler.
func setupControllers(mgr ctrl.Manager, o Options, recorder *events.Recorder) error {
	if err := controller.SetupIndexes(context.Background(), mgr); err != nil {
		return fmt.Errorf("setting up field indexes: %w", err)
	}
	opts := ctrlcontroller.Options{
		MaxConcurrentReconciles: o.Concurrent,
		RateLimiter:             runtimectrl.GetRateLimiter(o.RateLimiter),
	}
	c := mgr.GetClient()
	created := controller.NewCreatedPolecats()
	for _, ctl := range []struct {
		name  string
		setup func() error
	}{
		{"Rig", func() error {
			return (&controller.RigReconciler{Client: c, APIReader: mgr.GetAPIReader(), Created: created, EventRecorder: controller.NewRigEventRecorder(recorder),
				NoCrossNamespaceRefs: o.ACL.NoCrossNamespaceRefs, RetryBackoff: o.RetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
			}).SetupWithManager(mgr, opts)
		}},
		{"BeadStore", func() error {
			return (&controller.BeadStoreReconciler{Client: c, APIReader: mgr.GetAPIReader(), EventRecorder: recorder,
				NoCrossNamespaceRefs: o.ACL.NoCrossNamespaceRefs, ArtifactRetries: o.ArtifactRetries, Writers: o.Concurrent,
			}).SetupWithManager(mgr, opts)
		}},
		{"Bead", func() error {
			return (&controller.BeadReconciler{Client: c, EventRecorder: recorder,
				RetryBackoff: o.RetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
			}).SetupWithManager(mgr, opts)
		}},
		{"Convoy", func() error {
			return (&controller.ConvoyReconciler{Client: c, EventRecorder: recorder}).SetupWithManager(mgr, opts)
		}},
		{"Polecat", func() error {
			return (&controller.PolecatReconciler{Client: c, APIReader: mgr.GetAPIReader(), EventRecorder: recorder, Defaults: o.polecatDefaults(),
				LocalRunner: o.LocalRunner, LocalWorkDir: o.LocalWorkDir,
			}).SetupWithManager(mgr, opts)
		}},
		{"Refinery", func() error {
			r := &controller.RefineryReconciler{Client: c, APIReader: mgr.GetAPIReader(), Created: created, EventRecorder: recorder}
			if o.WebhookAddr != "" {
				r.Wake = make(chan event.GenericEvent, 256)
				if err := mgr.Add(webhookServer(o.WebhookAddr, &controller.RefineryWebhookReceiver{Client: c, Wake: r.Wake, Observe: r.Observe})); err != nil {
					return err
				}
			}
			return r.SetupWithManager(mgr, opts)
		}},
		{"Witness", func() error {
			return (&controller.WitnessReconciler{Client: c, EventRecorder: recorder}).SetupWithManager(mgr, opts)
		}},
	} {
		if err := ctl.setup(); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", ctl.name, err)
		}
	}
	return nil
}
