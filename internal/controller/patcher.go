package controller

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectPatcher writes what a reconcile changed of the object it fetched:
// its metadata (finalizers, annotations) and its status, the status with
// its conditions in one request. Flux's patch helper sends the conditions
// and the rest of the status as two requests; every status here has one
// writer of its conditions (its reconciler), so one JSON merge patch is as
// safe and half the writes. Fields other writers set (a Bead's dispatch and
// pull request records) are in the patch only if this reconcile changed
// them.
type objectPatcher struct {
	c      client.Client
	before client.Object
	// writes, when set, records each write for the reconciler's next
	// pass.
	writes *ownWrites
}

func newObjectPatcher(obj client.Object, c client.Client) *objectPatcher {
	return &objectPatcher{c: c, before: obj.DeepCopyObject().(client.Object)}
}

// Patch sends the changes since the fetch, or since the last Patch, with
// status.observedGeneration set to the object's generation.
func (p *objectPatcher) Patch(ctx context.Context, obj client.Object) error {
	if err := setObservedGeneration(obj); err != nil {
		return err
	}
	data, err := client.MergeFrom(p.before).Data(obj)
	if err != nil {
		return err
	}
	var diff map[string]json.RawMessage
	if err := json.Unmarshal(data, &diff); err != nil {
		return err
	}
	status, hasStatus := diff["status"]
	delete(diff, "status")
	owner := client.FieldOwner(FieldOwner)
	// The status first: removing the last finalizer may delete the object.
	if hasStatus {
		body, err := json.Marshal(map[string]json.RawMessage{"status": status})
		if err != nil {
			return err
		}
		if err := p.c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body), &client.SubResourcePatchOptions{
			PatchOptions: client.PatchOptions{FieldManager: FieldOwner},
		}); err != nil {
			return err
		}
	}
	if len(diff) > 0 {
		meta, err := json.Marshal(diff)
		if err != nil {
			return err
		}
		if err := p.c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, meta), owner); err != nil {
			return err
		}
	}
	if p.writes != nil && (hasStatus || len(diff) > 0) {
		p.writes.wrote(ctx, p.c, p.before.GetResourceVersion(), obj)
	}
	p.before = obj.DeepCopyObject().(client.Object)
	return nil
}

// observedGenerationSetter is every kind of the API.
type observedGenerationSetter interface {
	SetObservedGeneration(int64)
}

// setObservedGeneration sets status.observedGeneration to the object's
// generation.
func setObservedGeneration(obj client.Object) error {
	o, ok := obj.(observedGenerationSetter)
	if !ok {
		return fmt.Errorf("%T has no status.observedGeneration", obj)
	}
	o.SetObservedGeneration(obj.GetGeneration())
	return nil
}
