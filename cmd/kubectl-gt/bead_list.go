package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	beadSubcommands = append(beadSubcommands, newBeadListCommand)
}

type beadListOptions struct {
	list  listFlags
	phase string
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
			return opts.run(cmd.Context(), root)
		},
	}
	opts.list.addFlags(cmd)
	cmd.Flags().StringVar(&opts.phase, "phase", "", "only beads in this phase: "+phaseNames())
	return cmd
}

func (o *beadListOptions) run(ctx context.Context, root *rootOptions) error {
	// beadList.run checks -o too; checking it here first reports a bad -o
	// before a bad --phase.
	if err := o.list.output.validate(); err != nil {
		return err
	}
	phase, err := parsePhase(o.phase)
	if err != nil {
		return err
	}
	return beadList.run(ctx, root, &o.list, func(b *gastownv1.Bead) bool {
		return phase == "" || b.Status.Phase == phase
	})
}

var beadList = namespacedList[gastownv1.Bead, *gastownv1.Bead]{
	plural: "beads",
	newList: func() (client.ObjectList, *[]gastownv1.Bead) {
		list := &gastownv1.BeadList{}
		return list, &list.Items
	},
	rig: func(b *gastownv1.Bead) string { return b.Spec.RigRef },
	// The bead's ID as its file writes it (bd's gt-abc.1), not the
	// object's name derived from it.
	columns: []string{"ID", "PHASE", "PRIORITY", "POLECAT", "PR", "TITLE"},
	row: func(b *gastownv1.Bead) []string {
		return []string{b.BeadID(), string(b.Status.Phase), fmt.Sprint(b.Spec.PriorityValue()), b.Status.Polecat,
			prLink(b.Status.PullRequest), b.Spec.Title}
	},
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
