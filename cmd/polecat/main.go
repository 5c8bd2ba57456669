// Command gastown-polecat is the polecat runner. In a polecat pod,
// install-runner runs `gastown-polecat install DIR`, git-init runs `clone`,
// the agent container runs `run` and the git-push sidecar `push`;
// executionMode local runs `local`, as a child of the operator. Its configuration is the JSON in
// GASTOWN_POLECAT_CONFIG (internal/polecat.RunnerConfig); it writes a
// PolecatResult to the termination log and exits with the code of its
// outcome (internal/polecat's Exit* constants).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/polecat/runner"
)

const usage = `usage: gastown-polecat COMMAND [flags]

commands:
  install DIR   copy this binary into DIR (init container install-runner)
  clone         clone the repository and check out the work branch (init container git-init)
  run           run the agent, close the bead, commit and push, or have git-push push (agent container)
  push          push the commit run asks for, with the git credentials (sidecar git-push)
  local         clone and run in one process under --workdir (executionMode local)

The configuration is the JSON in ` + polecat.ConfigEnv + `.
`

func main() {
	// SIGTERM (pod deadline, deletion, eviction) stops the agent; the runner
	// still writes its result.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, usage)
		return polecat.ExitError
	}
	command, args := args[0], args[1:]

	fs := pflag.NewFlagSet(command, pflag.ContinueOnError)
	terminationLog := fs.String("termination-log", envOr(polecat.TerminationLogEnv, polecat.TerminationLog),
		"The file the result is written to.")
	workDir := fs.String("workdir", "", "local: the directory to clone into and work in.")
	if err := fs.Parse(args); err != nil {
		fmt.Fprint(os.Stderr, usage)
		return polecat.ExitError
	}

	if command == "install" {
		return install(fs.Args())
	}

	report := func(res gastownv1.PolecatResult) int {
		if err := runner.WriteResult(*terminationLog, res, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "gastown-polecat: %v\n", err)
		}
		return polecat.ExitCode(res.Outcome)
	}
	config, err := polecat.DecodeRunnerConfig(os.Getenv(polecat.ConfigEnv))
	if err != nil {
		return report(gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError, Message: err.Error()})
	}
	if command == "local" {
		if *workDir == "" {
			return report(gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError, Message: "local needs --workdir"})
		}
		config.RepoDir = filepath.Join(*workDir, "repo")
		config.TaskFile = filepath.Join(*workDir, "task.md")
	}
	r := &runner.Runner{Config: config, Stdout: os.Stdout, Stderr: os.Stderr}

	switch command {
	case "clone":
		if res := r.Clone(ctx); res != nil {
			return report(*res)
		}
		return polecat.ExitPushed
	case "run":
		return report(r.Run(ctx))
	case "push":
		// Its outcome is reported by run, through the push result file.
		if err := r.Push(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "gastown-polecat: %v\n", err)
			return polecat.ExitError
		}
		return 0
	case "local":
		if res := r.Clone(ctx); res != nil {
			return report(*res)
		}
		return report(r.Run(ctx))
	default:
		fmt.Fprintf(os.Stderr, "gastown-polecat: unknown command %q\n%s", command, usage)
		return polecat.ExitError
	}
}

func install(args []string) int {
	if len(args) != 1 {
		fmt.Fprint(os.Stderr, usage)
		return polecat.ExitError
	}
	if err := runner.Install(args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "gastown-polecat: %v\n", err)
		return polecat.ExitError
	}
	return 0
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
