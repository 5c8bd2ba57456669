package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK = 0
	// exitFailed: the command ran and found a problem, such as invalid bead
	// files.
	exitFailed = 1
	// exitUsage: the command could not run as asked: unknown command or
	// flag, wrong arguments.
	exitUsage = 2
)

// rootOptions are what every subcommand shares.
type rootOptions struct {
	out    io.Writer // results
	errOut io.Writer // errors about the command itself
	// kube holds kubectl's connection flags and the clients made from
	// them, for the commands that talk to a cluster.
	kube *kubeOptions
}

// subcommands builds the subcommands of kubectl gt. Each subcommand lives in
// its own file and adds its constructor here from an init function, so that
// adding one touches no other file.
var subcommands []func(*rootOptions) *cobra.Command

func newRootCommand(opts *rootOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-gt",
		Short: "Work with Gas Town rigs, beads and polecats",
		Long: `kubectl gt works with gastown-operator: the Gas Town rigs, beads and polecats
of a cluster, and the bead files of a repository.`,
		Annotations: map[string]string{
			// Help and errors name the command as users type it.
			cobra.CommandDisplayNameAnnotation: "kubectl gt",
		},
		// Without Args, cobra would print help and succeed for an unknown
		// subcommand.
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	opts.kube = newKubeOptions()
	opts.kube.flags.AddFlags(root.PersistentFlags())
	root.SetOut(opts.out)
	root.SetErr(opts.errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err}
	})
	for _, newCommand := range subcommands {
		root.AddCommand(newCommand(opts))
	}
	return root
}

// run runs kubectl gt with args and returns the exit code.
func run(args []string, out, errOut io.Writer) int {
	root := newRootCommand(&rootOptions{out: out, errOut: errOut})
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	var exit exitError
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit):
		return exit.code
	case errors.As(err, &usage):
		fmt.Fprintf(errOut, "Error: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	default:
		fmt.Fprintf(errOut, "Error: %v\n", err)
		return exitFailed
	}
}

// exitError ends kubectl gt with code, after the command has said why.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit code %d", e.code) }

// usageError is a command used the wrong way.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageArgs makes the errors of an argument check usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
