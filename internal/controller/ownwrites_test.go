package controller

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func beadAt(uid, resourceVersion string) *gastownv1.Bead {
	return &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: uid, UID: k8stypes.UID("uid-" + uid), ResourceVersion: resourceVersion}}
}

// cacheAt is a cache whose every bead is at one resourceVersion.
type cacheAt string

func (c cacheAt) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	obj.SetName(key.Name)
	obj.SetResourceVersion(string(c))
	return nil
}

func (cacheAt) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func TestOwnWritesHoldsAPassThatReadsFromBeforeItsWrite(t *testing.T) {
	ctx := context.Background()
	var w ownWrites
	events := w.handler()
	size := func() (n int) {
		w.patchedFrom.Range(func(any, any) bool { n++; return true })
		return n
	}

	// Read at 5, written: 6; the cache still has 5.
	w.wrote(ctx, cacheAt("5"), "5", beadAt("a", "6"))
	if !w.pending(beadAt("a", "5")) {
		t.Fatal("a pass that reads version 5 again is not held")
	}
	if w.pending(beadAt("b", "5")) {
		t.Fatal("another object is held")
	}
	// The cache's update brings 6: nothing is held, nothing kept.
	events.OnUpdate(beadAt("a", "5"), beadAt("a", "6"))
	if w.pending(beadAt("a", "6")) || size() != 0 {
		t.Fatalf("held after the cache had the write (%d kept)", size())
	}

	// The watch event came before the write's answer: the cache has 7
	// already, and nothing is kept for the handler that ran before.
	w.wrote(ctx, cacheAt("7"), "6", beadAt("a", "7"))
	if size() != 0 {
		t.Fatalf("%d writes kept that the cache already has", size())
	}

	// A pass that reads a newer version than the one it patched from, as
	// when the cache caught up before the event's handler ran, forgets it.
	w.wrote(ctx, cacheAt("7"), "7", beadAt("a", "8"))
	if w.pending(beadAt("a", "8")) || size() != 0 {
		t.Fatalf("held at the written version (%d kept)", size())
	}

	// A patch that changed nothing (same version) holds nothing.
	w.wrote(ctx, cacheAt("8"), "8", beadAt("a", "8"))
	if w.pending(beadAt("a", "8")) || size() != 0 {
		t.Fatal("a write that changed nothing holds the next pass")
	}

	// A deleted object is forgotten, also from a tombstone.
	w.wrote(ctx, cacheAt("8"), "8", beadAt("a", "9"))
	w.wrote(ctx, cacheAt("3"), "3", beadAt("b", "4"))
	if size() != 2 {
		t.Fatalf("%d writes kept, want 2", size())
	}
	events.OnDelete(beadAt("a", "8"))
	events.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "ns/b", Obj: beadAt("b", "3")})
	if size() != 0 {
		t.Fatalf("%d writes kept of deleted objects", size())
	}
}
