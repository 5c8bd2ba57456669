// Command demo shows the whole gastown-operator loop on one machine: a bead
// file is committed, Flux fetches it, polecats do the work and push
// branches, pull requests are opened, reviewed and merged, the beads close
// in git and the convoy lands. Run it with `make demo`.
//
// Everything runs on loopback: kube-apiserver and etcd, Flux's
// source-controller, a git server, a GitHub API emulator, and the operator;
// polecats run locally with a scripted agent. The demo plays the person who
// commits the beads and the reviewer who approves the pull requests.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/boshu2/gastown-operator/test/devenv"
)

func main() {
	// An own flag set: controller-runtime adds -kubeconfig to the global one.
	flags := flag.NewFlagSet("demo", flag.ExitOnError)
	keep := flags.Bool("keep", false, "keep everything running after the loop, for exploring with kubectl, until Ctrl-C")
	timeout := flags.Duration("timeout", 5*time.Minute, "give up when the loop takes longer than this")
	approvals := flags.Bool("review", true, "play the reviewer: approve each pull request and post a green check")
	agent := flags.String("agent", devenv.AgentScripted,
		"the polecats' agent: scripted, or claude-code to run the claude CLI on PATH with $ANTHROPIC_API_KEY")
	_ = flags.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := devenv.Options{Beads: map[string]string{}, KeepDir: *keep, Agent: *agent, Logf: func(string, ...any) {}}
	if err := run(ctx, os.Stdout, opts, *timeout, *approvals); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, opts devenv.Options, timeout time.Duration, review bool) error {
	p := newPrinter(out)
	p.step("starting kube-apiserver, etcd, Flux source-controller, a git server, the GitHub emulator and the operator")
	env, err := devenv.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer env.Stop()
	p.endpoints(env)

	beads, err := devenv.ExampleBeads()
	if err != nil {
		return err
	}
	files := map[string]string{}
	for name, content := range beads {
		files[devenv.BeadsDir+"/"+name] = content
		p.step("a person commits %s/%s", devenv.BeadsDir, name)
	}
	if _, err := env.Push("Plan the work: add bead files", files); err != nil {
		return err
	}
	if err := reconcileSource(ctx, env, p); err != nil {
		return err
	}

	loopCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := &watcher{env: env, p: p, review: review}
	if err := w.run(loopCtx); err != nil {
		return fmt.Errorf("%w\n  operator log: %s\n  source-controller log: %s", err, env.OperatorLog, env.SourceControllerLog)
	}
	p.summary(w.rows())

	if opts.KeepDir {
		fmt.Fprintf(out, "\nStill running. Explore with:\n  export KUBECONFIG=%s\n  kubectl get gastown -A\n  kubectl get beads,polecats -n %s\nPress Ctrl-C to stop.\n",
			env.Kubeconfig, devenv.WorkersNamespace)
		<-ctx.Done()
	}
	fmt.Fprintln(out, "\nStopping everything the demo started.")
	return nil
}

// reconcileSource runs `flux reconcile source git`, as the person who just
// pushed would, and shows the revision flux reports.
func reconcileSource(ctx context.Context, env *devenv.Env, p *printer) error {
	p.step("flux reconcile source git %s", env.Name)
	revision, err := env.ReconcileSource(ctx)
	if err != nil {
		return err
	}
	p.event("✔ fetched revision %s", revision)
	return nil
}
