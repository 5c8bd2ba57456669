package main

import (
	"github.com/spf13/cobra"
)

func init() {
	subcommands = append(subcommands, newBeadCommand)
}

// beadSubcommands are the subcommands of `kubectl gt bead`, added from
// their own files.
var beadSubcommands []func(*rootOptions) *cobra.Command

func newBeadCommand(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bead",
		Short: "List beads and show their status",
		Long: `Beads are the work items of a rig, synced from the bead files in its
repository. Their spec comes from git; their status (phase, polecat, branch,
pull request) from the cluster.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	for _, sub := range beadSubcommands {
		cmd.AddCommand(sub(root))
	}
	return cmd
}
