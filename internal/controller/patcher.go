package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectPatcher writes what a reconcile changed of the object it fetched:
// its metadata (finalizers, labels, annotations) and its status, the
// status with its conditions in one request. Flux's patch helper sends the
// conditions and the rest of the status as two requests; every status here
// has one writer (its reconciler), so one JSON merge patch is as safe and
// half the writes. Fields other writers set are in the patch only if this
// reconcile changed them.
//
// It keeps the status and those metadata as JSON from the fetch, not a copy
// of the object, and diffs only them: the spec is never the patcher's to
// write, and a Bead's spec is most of the object.
type objectPatcher struct {
	c               client.Client
	status, meta    []byte
	resourceVersion string
	// err is why the fetched object's status or metadata could not be
	// marshalled: Patch returns it.
	err error
	// writes, when set, records each write for the reconciler's next
	// pass.
	writes *ownWrites
}

// patchedObject is every kind of the API.
type patchedObject interface {
	client.Object
	SetObservedGeneration(int64)
	GetStatus() any
}

// patchedMeta is the metadata a reconcile may change.
type patchedMeta struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Finalizers  []string          `json:"finalizers,omitempty"`
}

func newObjectPatcher(obj client.Object, c client.Client) *objectPatcher {
	p := &objectPatcher{c: c, resourceVersion: obj.GetResourceVersion()}
	p.status, p.meta, p.err = snapshot(obj)
	return p
}

// snapshot is obj's status and patchedMeta as JSON.
func snapshot(obj client.Object) (status, meta []byte, err error) {
	o, ok := obj.(patchedObject)
	if !ok {
		return nil, nil, fmt.Errorf("%T is not a kind of the API", obj)
	}
	if status, err = json.Marshal(o.GetStatus()); err != nil {
		return nil, nil, err
	}
	meta, err = json.Marshal(patchedMeta{Labels: obj.GetLabels(), Annotations: obj.GetAnnotations(), Finalizers: obj.GetFinalizers()})
	return status, meta, err
}

// Patch sends the changes since the fetch, or since the last Patch, with
// status.observedGeneration set to the object's generation.
func (p *objectPatcher) Patch(ctx context.Context, obj client.Object) error {
	if p.err != nil {
		return p.err
	}
	// A kind of the API: snapshot said so at the fetch.
	obj.(patchedObject).SetObservedGeneration(obj.GetGeneration())
	status, meta, err := snapshot(obj)
	if err != nil {
		return err
	}
	// The status first: removing the last finalizer may delete the object.
	statusChanged := !bytes.Equal(status, p.status)
	if statusChanged {
		body, err := mergePatch("status", p.status, status)
		if err != nil {
			return err
		}
		if err := p.c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body), &client.SubResourcePatchOptions{
			PatchOptions: client.PatchOptions{FieldManager: FieldOwner},
		}); err != nil {
			return err
		}
	}
	metaChanged := !bytes.Equal(meta, p.meta)
	if metaChanged {
		body, err := mergePatch("metadata", p.meta, meta)
		if err != nil {
			return err
		}
		if err := p.c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, body), client.FieldOwner(FieldOwner)); err != nil {
			return err
		}
	}
	if p.writes != nil && (statusChanged || metaChanged) {
		p.writes.wrote(ctx, p.c, p.resourceVersion, obj)
	}
	// The object as the API server answered: the next Patch diffs from it.
	p.status, p.meta, err = snapshot(obj)
	p.resourceVersion = obj.GetResourceVersion()
	return err
}

// mergePatch is the JSON merge patch from before to after, under field.
func mergePatch(field string, before, after []byte) ([]byte, error) {
	diff, err := jsonpatch.CreateMergePatch(before, after)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]json.RawMessage{field: diff})
}
