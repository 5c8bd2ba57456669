package main

import (
	"fmt"

	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	rigSubcommands = append(rigSubcommands, newRigListCommand)
}

func newRigListCommand(root *rootOptions) *cobra.Command {
	var output outputOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the rigs of the cluster",
		Long: `List prints every rig (rigs are cluster-scoped): its phase, its Flux source,
how many polecats run out of its limit, how many beads wait for a polecat, and
its Ready condition.`,
		Example: `  kubectl gt rig list
  kubectl gt rig list -o yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			c, err := root.kube.client()
			if err != nil {
				return err
			}
			rigs := &gastownv1.RigList{}
			if err := c.List(cmd.Context(), rigs); err != nil {
				return apiError(err)
			}
			if output.structured() {
				return output.print(root.out, rigs)
			}
			if len(rigs.Items) == 0 {
				fmt.Fprintln(root.errOut, "No rigs found.")
				return nil
			}
			t := newTable(root.out, "NAME", "PHASE", "SOURCE", "POLECATS", "READY BEADS", "READY", "MESSAGE")
			for i := range rigs.Items {
				rig := &rigs.Items[i]
				ready, msg := readyOf(rig)
				t.row(rig.Name, rig.Status.Phase, rigSource(rig),
					fmt.Sprintf("%d/%d", rig.Status.PolecatCount, rig.MaxPolecats()),
					fmt.Sprint(rig.Status.ReadyBeads), ready, msg)
			}
			return t.flush()
		},
	}
	output.addFlag(cmd)
	return cmd
}
