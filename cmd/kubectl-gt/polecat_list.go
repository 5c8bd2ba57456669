package main

import (
	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	polecatSubcommands = append(polecatSubcommands, newPolecatListCommand)
}

type polecatListOptions struct {
	scope  scopeOptions
	output outputOptions
}

func newPolecatListCommand(root *rootOptions) *cobra.Command {
	opts := &polecatListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List polecats with their bead, phase, agent and branch",
		Example: `  kubectl gt polecat list --rig my-project
  kubectl gt polecat list -A`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, root)
		},
	}
	opts.scope.addFlags(cmd, true)
	opts.output.addFlag(cmd)
	return cmd
}

func (o *polecatListOptions) run(cmd *cobra.Command, root *rootOptions) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	ctx := cmd.Context()
	c, err := root.kube.client()
	if err != nil {
		return err
	}
	ns, err := o.scope.namespace(ctx, root, c)
	if err != nil {
		return err
	}
	all := &gastownv1.PolecatList{}
	if err := c.List(ctx, all, listOptions(ns)...); err != nil {
		return apiError(err)
	}
	polecats := &gastownv1.PolecatList{}
	for _, pc := range all.Items {
		if o.scope.rig == "" || pc.Spec.Rig == o.scope.rig {
			polecats.Items = append(polecats.Items, pc)
		}
	}
	if o.output.structured() {
		return o.output.print(root.out, polecats)
	}
	if len(polecats.Items) == 0 {
		nothingFound(root.errOut, "polecats", ns, o.scope.all)
		return nil
	}
	header := []string{"NAME", "BEAD", "PHASE", "AGENT", "BRANCH", "AGE"}
	if o.scope.all {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := newTable(root.out, header...)
	for i := range polecats.Items {
		pc := &polecats.Items[i]
		row := []string{pc.Name, pc.Spec.BeadID, string(pc.Status.Phase), polecatAgent(pc), pc.Status.Branch, age(pc.CreationTimestamp)}
		if o.scope.all {
			row = append([]string{pc.Namespace}, row...)
		}
		t.row(row...)
	}
	return t.flush()
}
