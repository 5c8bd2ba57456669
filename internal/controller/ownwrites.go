package controller

import (
	"context"
	"reflect"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// cacheLagDelay is how long a reconcile that read its object from before
// its own last write waits for the cache.
const cacheLagDelay = 100 * time.Millisecond

// ownWrites remembers, for each object a reconciler patched, the
// resourceVersion it patched from, until the cache has the write. A pass
// that reads that version again (queued while the last one ran, and
// started before the watch brought the write) would compute the same
// status from the old one and write it a second time.
type ownWrites struct {
	patchedFrom sync.Map // types.UID → string
}

// wrote records that obj, read at resourceVersion from, was written. When
// the cache (read through c) already has a newer version, the watch event
// came before the write's answer and the handler has run: nothing is kept.
func (w *ownWrites) wrote(ctx context.Context, c client.Reader, from string, obj client.Object) {
	if obj.GetResourceVersion() == from {
		return
	}
	w.patchedFrom.Store(obj.GetUID(), from)
	cached := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), cached, readOnly); err != nil || cached.GetResourceVersion() != from {
		w.patchedFrom.Delete(obj.GetUID())
	}
}

// pending tells whether obj, read from the cache, is older than this
// reconciler's last write of it.
func (w *ownWrites) pending(obj client.Object) bool {
	from, ok := w.patchedFrom.Load(obj.GetUID())
	if !ok {
		return false
	}
	if from == obj.GetResourceVersion() {
		return true
	}
	w.patchedFrom.Delete(obj.GetUID())
	return false
}

// handler keeps w from growing: it forgets a write once the cache has a
// newer version of the object, or the object is gone.
func (w *ownWrites) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if o, ok := obj.(client.Object); ok {
				w.pending(o)
			}
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if o, ok := obj.(client.Object); ok {
				w.patchedFrom.Delete(o.GetUID())
			}
		},
	}
}
