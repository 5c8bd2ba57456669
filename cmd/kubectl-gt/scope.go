package main

import (
	"context"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// scopeOptions say which namespace a namespaced command reads and, for
// lists, which rig's objects it shows.
type scopeOptions struct {
	rig string
	all bool
}

// addFlags adds --rig, and -A/--all-namespaces when list is true.
func (s *scopeOptions) addFlags(cmd *cobra.Command, list bool) {
	if list {
		cmd.Flags().StringVar(&s.rig, "rig", "", "only the objects of this rig, in its workers namespace unless -n or -A says otherwise")
		cmd.Flags().BoolVarP(&s.all, "all-namespaces", "A", false, "list across all namespaces")
		return
	}
	cmd.Flags().StringVar(&s.rig, "rig", "", "look in this rig's workers namespace (unless -n is given)")
}

// namespace is the namespace to read; "" with -A.
func (s *scopeOptions) namespace(ctx context.Context, root *rootOptions, c client.Client) (string, error) {
	if s.all {
		return "", nil
	}
	return root.kube.namespace(ctx, c, s.rig)
}

// listOptions turn the scope into the options of a List call.
func listOptions(namespace string) []client.ListOption {
	if namespace == "" {
		return nil
	}
	return []client.ListOption{client.InNamespace(namespace)}
}
