package controller

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PatchOnce exposes objectPatcher to the package's tests: it patches obj
// with what mutate changes of it.
func PatchOnce(ctx context.Context, c client.Client, obj client.Object, mutate func()) error {
	p := newObjectPatcher(obj, c)
	mutate()
	return p.Patch(ctx, obj)
}

// Series exposes series, which finds an object's gotk_* series, to the
// package's tests.
var Series = series
