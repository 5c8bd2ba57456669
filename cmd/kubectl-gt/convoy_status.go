package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	convoySubcommands = append(convoySubcommands, newConvoyStatusCommand)
}

type convoyStatusOptions struct {
	scope  scopeOptions
	output outputOptions
}

func newConvoyStatusCommand(root *rootOptions) *cobra.Command {
	opts := &convoyStatusOptions{}
	cmd := &cobra.Command{
		Use:     "status NAME",
		Short:   "Show a convoy and each bead it tracks, with its phase and pull request",
		Example: `  kubectl gt convoy status health-sprint --rig my-project`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.output.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			cv := &gastownv1.Convoy{}
			c, err := opts.scope.get(ctx, root, "convoy", args[0], cv)
			if err != nil {
				return err
			}
			if opts.output.structured() {
				return opts.output.print(root.out, cv)
			}
			return printConvoyStatus(ctx, root.out, c, cv)
		},
	}
	opts.scope.addFlags(cmd, false)
	opts.output.addFlag(cmd)
	return cmd
}

func printConvoyStatus(ctx context.Context, w io.Writer, c client.Client, cv *gastownv1.Convoy) error {
	b := newBlock(w)
	b.field("Name", cv.Name)
	b.field("Namespace", cv.Namespace)
	b.field("Rig", cv.Spec.RigRef)
	b.optional("Description", oneLine(cv.Spec.Description))
	b.field("Phase", phaseLine(cv.Status.Phase, "not evaluated yet", cv))
	b.field("Progress", convoyProgress(cv))
	b.field("Parallelism", parallelism(cv))
	b.optional("Started", ago(cv.Status.StartedAt))
	b.optional("Landed", ago(cv.Status.CompletedAt))
	b.optional("Notify", cv.Spec.NotifyOnComplete)
	if err := b.flush(); err != nil {
		return err
	}

	beads := &gastownv1.BeadList{}
	if err := c.List(ctx, beads, client.InNamespace(cv.Namespace)); err != nil {
		return apiError(err)
	}
	byName := map[string]*gastownv1.Bead{}
	for i := range beads.Items {
		byName[beads.Items[i].Name] = &beads.Items[i]
	}
	fmt.Fprintf(w, "Beads (%d):\n", len(cv.Spec.TrackedBeads))
	t := indentedTable(w, "BEAD", "PHASE", "POLECAT", "PR", "TITLE")
	for _, id := range cv.Spec.TrackedBeads {
		bead, ok := byName[id]
		if !ok {
			t.row(id, "NotFound", "", "", "no bead "+id+" in namespace "+cv.Namespace)
			continue
		}
		t.row(id, string(bead.Status.Phase), bead.Status.Polecat, prLink(bead.Status.PullRequest), bead.Spec.Title)
	}
	return t.flush()
}
