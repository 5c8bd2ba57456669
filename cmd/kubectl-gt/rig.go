package main

import (
	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	subcommands = append(subcommands, newRigCommand)
}

// rigSubcommands are the subcommands of `kubectl gt rig`, added from their
// own files.
var rigSubcommands []func(*rootOptions) *cobra.Command

func newRigCommand(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rig",
		Short: "List rigs and show their status",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	for _, sub := range rigSubcommands {
		cmd.AddCommand(sub(root))
	}
	return cmd
}

// rigSource is how a rig's source shows: the namespace/name of its
// GitRepository, else its git URL.
func rigSource(rig *gastownv1.Rig) string {
	if ref := rig.Spec.SourceRef; ref != nil {
		return ref.Namespace + "/" + ref.Name
	}
	return rig.Spec.GitURL
}
