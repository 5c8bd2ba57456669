package main

import (
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	polecatSubcommands = append(polecatSubcommands, newPolecatListCommand)
}

func newPolecatListCommand(root *rootOptions) *cobra.Command {
	var flags listFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List polecats with their bead, phase, agent and branch",
		Example: `  kubectl gt polecat list --rig my-project
  kubectl gt polecat list -A`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return polecatList.run(cmd.Context(), root, &flags, nil)
		},
	}
	flags.addFlags(cmd)
	return cmd
}

var polecatList = namespacedList[gastownv1.Polecat, *gastownv1.Polecat]{
	plural: "polecats",
	newList: func() (client.ObjectList, *[]gastownv1.Polecat) {
		list := &gastownv1.PolecatList{}
		return list, &list.Items
	},
	rig:     func(pc *gastownv1.Polecat) string { return pc.Spec.Rig },
	columns: []string{"NAME", "BEAD", "PHASE", "AGENT", "BRANCH", "AGE"},
	row: func(pc *gastownv1.Polecat) []string {
		return []string{pc.Name, pc.Spec.BeadID, string(pc.Status.Phase), polecatAgent(pc), pc.Status.Branch, age(pc.CreationTimestamp)}
	},
}
