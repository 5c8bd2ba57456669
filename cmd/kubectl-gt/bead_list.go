package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	beadSubcommands = append(beadSubcommands, newBeadListCommand)
}

type beadListOptions struct {
	scope  scopeOptions
	phase  string
	output outputOptions
}

func newBeadListCommand(root *rootOptions) *cobra.Command {
	opts := &beadListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List beads with their phase, polecat and pull request",
		Example: `  # The beads of a rig, in its workers namespace
  kubectl gt bead list --rig my-project

  # The beads waiting for review, everywhere
  kubectl gt bead list -A --phase InReview`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, root)
		},
	}
	opts.scope.addFlags(cmd, true)
	cmd.Flags().StringVar(&opts.phase, "phase", "", "only beads in this phase: "+phaseNames())
	opts.output.addFlag(cmd)
	return cmd
}

func (o *beadListOptions) run(cmd *cobra.Command, root *rootOptions) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	phase, err := parsePhase(o.phase)
	if err != nil {
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
	all := &gastownv1.BeadList{}
	if err := c.List(ctx, all, listOptions(ns)...); err != nil {
		return apiError(err)
	}
	beads := &gastownv1.BeadList{}
	for _, b := range all.Items {
		if (o.scope.rig == "" || b.Spec.RigRef == o.scope.rig) && (phase == "" || b.Status.Phase == phase) {
			beads.Items = append(beads.Items, b)
		}
	}
	if o.output.structured() {
		return o.output.print(root.out, beads)
	}
	if len(beads.Items) == 0 {
		nothingFound(root.errOut, "beads", ns, o.scope.all)
		return nil
	}
	header := []string{"NAME", "PHASE", "PRIORITY", "POLECAT", "PR", "TITLE"}
	if o.scope.all {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := newTable(root.out, header...)
	for i := range beads.Items {
		b := &beads.Items[i]
		row := []string{b.Name, string(b.Status.Phase), fmt.Sprint(b.Spec.PriorityValue()), b.Status.Polecat,
			prLink(b.Status.PullRequest), b.Spec.Title}
		if o.scope.all {
			row = append([]string{b.Namespace}, row...)
		}
		t.row(row...)
	}
	return t.flush()
}

// parsePhase accepts a bead phase in any case.
func parsePhase(s string) (gastownv1.BeadPhase, error) {
	if s == "" {
		return "", nil
	}
	for _, p := range beadPhaseOrder {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", usageError{fmt.Errorf("--phase %q: use one of %s", s, phaseNames())}
}

func phaseNames() string {
	names := make([]string, len(beadPhaseOrder))
	for i, p := range beadPhaseOrder {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}
