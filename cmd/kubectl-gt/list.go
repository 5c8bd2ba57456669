package main

import (
	"context"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// listFlags are the flags of every list command of a namespaced kind:
// --rig, -A/--all-namespaces and -o/--output.
type listFlags struct {
	scope  scopeOptions
	output outputOptions
}

func (f *listFlags) addFlags(cmd *cobra.Command) {
	f.scope.addFlags(cmd, true)
	f.output.addFlag(cmd)
}

// namespacedList is what the list command of a namespaced kind says about
// its kind; run does the rest, which is the same for every kind. T is the
// kind's type (gastownv1.Bead) and PT its pointer (*gastownv1.Bead), the
// client.Object.
type namespacedList[T any, PT interface {
	*T
	client.Object
}] struct {
	// plural names the objects in "No beads found".
	plural string
	// newList returns an empty list of the kind and a pointer to its Items.
	newList func() (client.ObjectList, *[]T)
	// rig is the rig an object belongs to, which --rig selects.
	rig func(PT) string
	// columns is the table header; -A puts NAMESPACE before it.
	columns []string
	// row is an object's cells, one per column.
	row func(PT) []string
}

// run lists the objects in the namespace the flags select, keeps those of
// the --rig that keep also accepts (nil keeps them all), and prints them as
// a table, or as YAML or JSON with -o.
func (k namespacedList[T, PT]) run(ctx context.Context, root *rootOptions, flags *listFlags, keep func(PT) bool) error {
	if err := flags.output.validate(); err != nil {
		return err
	}
	c, ns, err := flags.scope.clientAndNamespace(ctx, root)
	if err != nil {
		return err
	}
	all, allItems := k.newList()
	if err := c.List(ctx, all, listOptions(ns)...); err != nil {
		return apiError(err)
	}
	// A new list of only the objects kept: -o prints no more than the
	// table shows, and none of the List call's metadata.
	shown, items := k.newList()
	for i := range *allItems {
		obj := PT(&(*allItems)[i])
		if (flags.scope.rig == "" || k.rig(obj) == flags.scope.rig) && (keep == nil || keep(obj)) {
			*items = append(*items, *obj)
		}
	}
	if flags.output.structured() {
		return flags.output.print(root.out, shown)
	}
	if len(*items) == 0 {
		nothingFound(root.errOut, k.plural, ns, flags.scope.all)
		return nil
	}
	header := k.columns
	if flags.scope.all {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := newTable(root.out, header...)
	for i := range *items {
		obj := PT(&(*items)[i])
		row := k.row(obj)
		if flags.scope.all {
			row = append([]string{obj.GetNamespace()}, row...)
		}
		t.row(row...)
	}
	return t.flush()
}
