package main

import (
	"context"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
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

// clientAndNamespace returns the client and the namespace to read; "" with
// -A.
func (s *scopeOptions) clientAndNamespace(ctx context.Context, root *rootOptions) (client.Client, string, error) {
	c, err := root.kube.client()
	if err != nil {
		return nil, "", err
	}
	if s.all {
		return c, "", nil
	}
	ns, err := root.kube.namespace(ctx, c, s.rig)
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// get reads the object called name, of the given kind ("bead"), into obj,
// from the namespace to read, and returns the client for what the command
// reads next. An object that does not exist is an error that names the
// list command of its kind.
func (s *scopeOptions) get(ctx context.Context, root *rootOptions, kind, name string, obj client.Object) (client.Client, error) {
	c, ns, err := s.clientAndNamespace(ctx, root)
	if err != nil {
		return nil, err
	}
	key := client.ObjectKey{Namespace: ns, Name: name}
	if _, ok := obj.(*gastownv1.Bead); ok {
		// A bead is named by its ID as bd writes it (gt-abc.1); its object
		// by the name derived from it.
		key.Name = gastownv1.BeadObjectName(name)
	}
	if err := c.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, notFound(kind, name, ns)
		}
		return nil, apiError(err)
	}
	return c, nil
}

// listOptions turn the scope into the options of a List call.
func listOptions(namespace string) []client.ListOption {
	if namespace == "" {
		return nil
	}
	return []client.ListOption{client.InNamespace(namespace)}
}
