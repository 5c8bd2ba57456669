package main

import (
	"github.com/spf13/cobra"
)

func init() {
	subcommands = append(subcommands, newConvoyCommand)
}

// convoySubcommands are the subcommands of `kubectl gt convoy`, added from
// their own files.
var convoySubcommands []func(*rootOptions) *cobra.Command

func newConvoyCommand(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "convoy",
		Short: "List convoys and show the beads they track",
		Long: `A convoy is a batch of beads with a parallelism limit; it lands when every
bead it tracks is closed.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	for _, sub := range convoySubcommands {
		cmd.AddCommand(sub(root))
	}
	return cmd
}
