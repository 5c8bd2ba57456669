package main

import (
	"fmt"

	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	convoySubcommands = append(convoySubcommands, newConvoyListCommand)
}

type convoyListOptions struct {
	scope  scopeOptions
	output outputOptions
}

func newConvoyListCommand(root *rootOptions) *cobra.Command {
	opts := &convoyListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List convoys with their phase and progress",
		Example: `  kubectl gt convoy list --rig my-project
  kubectl gt convoy list -A`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd, root)
		},
	}
	opts.scope.addFlags(cmd, true)
	opts.output.addFlag(cmd)
	return cmd
}

func (o *convoyListOptions) run(cmd *cobra.Command, root *rootOptions) error {
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
	all := &gastownv1.ConvoyList{}
	if err := c.List(ctx, all, listOptions(ns)...); err != nil {
		return apiError(err)
	}
	convoys := &gastownv1.ConvoyList{}
	for _, cv := range all.Items {
		if o.scope.rig == "" || cv.Spec.RigRef == o.scope.rig {
			convoys.Items = append(convoys.Items, cv)
		}
	}
	if o.output.structured() {
		return o.output.print(root.out, convoys)
	}
	if len(convoys.Items) == 0 {
		nothingFound(root.errOut, "convoys", ns, o.scope.all)
		return nil
	}
	header := []string{"NAME", "PHASE", "PROGRESS", "PARALLELISM"}
	if o.scope.all {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := newTable(root.out, header...)
	for i := range convoys.Items {
		cv := &convoys.Items[i]
		row := []string{cv.Name, cv.Status.Phase, convoyProgress(cv), parallelism(cv)}
		if o.scope.all {
			row = append([]string{cv.Namespace}, row...)
		}
		t.row(row...)
	}
	return t.flush()
}

// convoyProgress is the convoy's closed/total, from its status or, before
// the operator reported it, from its spec.
func convoyProgress(cv *gastownv1.Convoy) string {
	if cv.Status.Progress != "" {
		return cv.Status.Progress
	}
	return fmt.Sprintf("%d/%d", len(cv.Status.CompletedBeads), len(cv.Spec.TrackedBeads))
}

// parallelism is the convoy's limit; 0 leaves only the rig's.
func parallelism(cv *gastownv1.Convoy) string {
	if cv.Spec.Parallelism == 0 {
		return "rig limit"
	}
	return fmt.Sprint(cv.Spec.Parallelism)
}
