package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	convoySubcommands = append(convoySubcommands, newConvoyListCommand)
}

func newConvoyListCommand(root *rootOptions) *cobra.Command {
	var flags listFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List convoys with their phase and progress",
		Example: `  kubectl gt convoy list --rig my-project
  kubectl gt convoy list -A`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return convoyList.run(cmd.Context(), root, &flags, nil)
		},
	}
	flags.addFlags(cmd)
	return cmd
}

var convoyList = namespacedList[gastownv1.Convoy, *gastownv1.Convoy]{
	plural: "convoys",
	newList: func() (client.ObjectList, *[]gastownv1.Convoy) {
		list := &gastownv1.ConvoyList{}
		return list, &list.Items
	},
	rig:     func(cv *gastownv1.Convoy) string { return cv.Spec.RigRef },
	columns: []string{"NAME", "PHASE", "PROGRESS", "PARALLELISM"},
	row: func(cv *gastownv1.Convoy) []string {
		return []string{cv.Name, cv.Status.Phase, convoyProgress(cv), parallelism(cv)}
	},
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
