// Command demo shows the whole gastown-operator loop on one machine: a bead
// file is committed, Flux fetches it, polecats do the work and push
// branches, pull requests are opened, reviewed and merged, the beads close
// in git and the convoy lands. Run it with `make demo`.
//
// Everything runs on loopback: kube-apiserver and etcd, Flux's
// source-controller, a git server, a GitHub API emulator, an Anthropic
// Messages API emulator, and the operator. Each polecat runs the real claude
// CLI (installed from npm into the cache on the first run) against the
// emulator; --agent=scripted runs an offline stand-in instead. Polecats run
// as local processes, or with --pods as pods on a real node (containerd and
// a kubelet, as root). The demo plays the person who commits the beads and
// the reviewer who approves the pull requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/boshu2/gastown-operator/test/devenv"
)

// config is what the flags say.
type config struct {
	opts    devenv.Options
	timeout time.Duration
	review  bool
	// explore, when set, runs after the summary, before everything stops
	// (or, with --keep, before waiting for Ctrl-C): tests run the commands
	// the summary suggests with it.
	explore func(context.Context, *devenv.Env) error
}

func main() {
	// An own flag set: controller-runtime adds -kubeconfig to the global one.
	flags := flag.NewFlagSet("demo", flag.ExitOnError)
	keep := flags.Bool("keep", false, "keep everything running after the loop, for exploring with kubectl, until Ctrl-C")
	timeout := flags.Duration("timeout", 5*time.Minute, "give up when the loop takes longer than this")
	review := flags.Bool("review", true, "play the reviewer: approve each pull request and post a green check")
	agent := flags.String("agent", devenv.AgentClaudeCode,
		"the polecats' agent: claude-code (the real claude CLI, installed from npm into the cache on the first run), "+
			"opencode (the real opencode CLI), or scripted (an offline stand-in, no CLI)")
	pods := flags.Bool("pods", false,
		"run polecats as pods on a real node (containerd and a kubelet, with the project's images built locally); needs root")
	anthropicURL := flags.String("anthropic-url", "",
		"the Messages API the agent CLI calls, with the key in $ANTHROPIC_API_KEY; the project's emulator when empty")
	_ = flags.Parse(os.Args[1:])

	cfg := config{
		opts: devenv.Options{
			Beads: map[string]string{}, KeepDir: *keep, Agent: *agent, Pods: *pods, AnthropicURL: *anthropicURL,
		},
		timeout: *timeout,
		review:  *review,
	}
	if err := checkConfig(cfg.opts); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

// errPodsNeedRoot is why --pods fails at once without root.
var errPodsNeedRoot = errors.New("--pods runs polecats as pods on a real node (containerd and a kubelet), " +
	"which needs root: run it as root (sudo make demo DEMO_ARGS=--pods), or drop --pods to run polecats as local processes")

// checkConfig rejects what cannot work before anything starts.
func checkConfig(opts devenv.Options) error {
	switch opts.Agent {
	case devenv.AgentClaudeCode, devenv.AgentOpenCode, devenv.AgentScripted:
	default:
		return fmt.Errorf("--agent=%s: use %s, %s or %s", opts.Agent,
			devenv.AgentClaudeCode, devenv.AgentOpenCode, devenv.AgentScripted)
	}
	if opts.AnthropicURL != "" {
		if opts.Agent == devenv.AgentScripted {
			return errors.New("--anthropic-url is for the agent CLIs: the scripted agent calls no API")
		}
		if opts.AnthropicAPIKey == "" && os.Getenv("ANTHROPIC_API_KEY") == "" {
			return fmt.Errorf("--anthropic-url=%s needs an API key in $ANTHROPIC_API_KEY", opts.AnthropicURL)
		}
	}
	if opts.Pods && os.Geteuid() != 0 {
		return errPodsNeedRoot
	}
	return nil
}

func run(ctx context.Context, out io.Writer, cfg config) (err error) {
	opts := cfg.opts
	if opts.Agent == "" {
		opts.Agent = devenv.AgentClaudeCode // the demo's default, not devenv's
	}
	if err := checkConfig(opts); err != nil {
		return err
	}
	p := newPrinter(out)
	if opts.Logf == nil {
		opts.Logf = p.progress
	}
	if err := installAgentCLI(ctx, p, opts); err != nil {
		return err
	}
	// The demo's own directory, kept when the demo fails, as its error
	// names the logs in it, or with --keep; removed after a clean run.
	if opts.Dir == "" {
		if opts.Dir, err = os.MkdirTemp("", "gastown-demo-"); err != nil {
			return err
		}
		defer func() {
			switch {
			case err != nil:
				err = fmt.Errorf("%w\n  kept %s, with the logs", err, opts.Dir)
			case opts.KeepDir:
				fmt.Fprintf(out, "Kept %s: logs, the kubeconfig, the polecats' work directories.\n", opts.Dir)
			default:
				err = os.RemoveAll(opts.Dir)
			}
		}()
	}
	p.step("starting %s", parts(opts))
	env, err := devenv.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer env.Stop()
	p.endpoints(env)
	if err := loop(ctx, p, env, cfg); err != nil {
		logs := fmt.Sprintf("\n  operator log: %s\n  source-controller log: %s", env.OperatorLog, env.SourceControllerLog)
		if env.Node != nil {
			logs += "\n  kubelet log: " + env.Node.KubeletLog
		}
		return fmt.Errorf("%w%s", err, logs)
	}

	if cfg.explore != nil {
		if err := cfg.explore(ctx, env); err != nil {
			return err
		}
	}
	if opts.KeepDir {
		fmt.Fprintln(out, "Still running. Press Ctrl-C to stop.")
		<-ctx.Done()
	}
	fmt.Fprintln(out, "\nStopping everything the demo started.")
	return nil
}

// loop plays the person who commits the beads and the reviewer, shows what
// happens until every bead is closed and the convoys landed, and prints
// the summary.
func loop(ctx context.Context, p *printer, env *devenv.Env, cfg config) error {
	beads, err := devenv.ExampleBeads()
	if err != nil {
		return err
	}
	files := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(beads)) {
		files[devenv.BeadsDir+"/"+name] = beads[name]
		p.step("a person commits %s/%s", devenv.BeadsDir, name)
	}
	if _, err := env.Push("Plan the work: add bead files", files); err != nil {
		return err
	}
	revision, err := reconcileSource(ctx, env, p)
	if err != nil {
		return err
	}

	w := &watcher{env: env, p: p, review: cfg.review, pods: cfg.opts.Pods, revision: revision}
	if err := w.run(ctx, cfg.timeout); err != nil {
		return err
	}
	p.summary(w.rows())
	p.usage(w.usage())
	if cfg.opts.Pods {
		p.pods(w.podRuns())
	}
	p.explore(env, w, cfg.opts.KeepDir)
	return nil
}

// parts names what devenv.Start starts for these options.
func parts(opts devenv.Options) string {
	s := "kube-apiserver, etcd, Flux source-controller, a git server, the GitHub emulator"
	if opts.Agent != devenv.AgentScripted && opts.AnthropicURL == "" {
		s += ", the Anthropic API emulator"
	}
	if opts.Pods {
		s += ", a node (containerd, kubelet, kube-scheduler, kube-controller-manager)"
	}
	return s + " and the operator"
}

// reconcileSource runs `flux reconcile source git`, as the person who just
// pushed would, and shows and returns the revision flux reports.
func reconcileSource(ctx context.Context, env *devenv.Env, p *printer) (string, error) {
	p.step("flux reconcile source git %s", env.Name)
	revision, err := env.ReconcileSource(ctx)
	if err != nil {
		return "", err
	}
	p.event("✔ fetched revision %s", revision)
	return revision, nil
}
