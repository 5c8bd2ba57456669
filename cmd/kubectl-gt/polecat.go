package main

import (
	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	subcommands = append(subcommands, newPolecatCommand)
}

// polecatSubcommands are the subcommands of `kubectl gt polecat`, added
// from their own files.
var polecatSubcommands []func(*rootOptions) *cobra.Command

func newPolecatCommand(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "polecat",
		Short: "List polecats and read their logs",
		Long: `A polecat is one agent run for one bead (or a bare task): a pod in the rig's
workers namespace, or a child process of the operator in local mode.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	for _, sub := range polecatSubcommands {
		cmd.AddCommand(sub(root))
	}
	return cmd
}

// polecatAgent is the agent a polecat runs: the one its status reports,
// else the one its spec asks for.
func polecatAgent(pc *gastownv1.Polecat) string {
	if pc.Status.Agent != "" {
		return string(pc.Status.Agent)
	}
	return string(pc.Spec.Agent)
}

// executionMode resolves the CRD default of spec.executionMode.
func executionMode(pc *gastownv1.Polecat) gastownv1.ExecutionMode {
	if pc.Spec.ExecutionMode == "" {
		return gastownv1.ExecutionModeKubernetes
	}
	return pc.Spec.ExecutionMode
}
