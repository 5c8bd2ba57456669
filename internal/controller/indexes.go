package controller

import (
	"context"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Field indexes the reconcilers look related objects up by.
const (
	beadStoreRigIndex = ".spec.rigRef"
	rigSourceIndex    = ".spec.sourceRef"
	beadRigIndex      = ".spec.rigRef"
	beadDependsIndex  = ".spec.dependsOn"
	// beadReviewIndex is the rig of the beads a Refinery counts.
	beadReviewIndex       = ".status.review"
	convoyRigIndex        = ".spec.rigRef"
	convoyBeadIndex       = ".spec.trackedBeads"
	polecatRigIndex       = ".spec.rig"
	polecatBeadIndex      = ".spec.beadID"
	refineryRigIndex      = ".spec.rigRef"
	witnessRigIndex       = ".spec.rigRef"
	mergeRequestRigIndex  = ".spec.rigRef"
	mergeRequestBeadIndex = ".spec.beadRef"
)

// readOnly reads straight from the cache, without a deep copy of each
// item: for lists and objects that are only read (thousands of beads per
// dispatch pass, a bead's rig at each of its passes). Never change what
// such a read returns.
var readOnly = client.UnsafeDisableDeepCopy

// requestsByIndex returns a request for each object of list (in namespace
// ns, all namespaces when empty) whose field index has value.
func requestsByIndex(ctx context.Context, c client.Client, list client.ObjectList, ns, index, value string) []reconcile.Request {
	opts := []client.ListOption{client.MatchingFields{index: value}, readOnly}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, list, opts...); err != nil {
		log.FromContext(ctx).Error(err, "listing by field index", "index", index, "value", value)
		return nil
	}
	var reqs []reconcile.Request
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o.(client.Object))})
		return nil
	})
	return reqs
}

// SetupIndexes registers every field index once per manager.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	for _, ix := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&gastownv1.BeadStore{}, beadStoreRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.BeadStore).Spec.RigRef} }},
		{&gastownv1.Rig{}, rigSourceIndex, func(o client.Object) []string {
			ref := o.(*gastownv1.Rig).Spec.SourceRef
			if ref == nil {
				return nil
			}
			return []string{ref.Namespace + "/" + ref.Name}
		}},
		{&gastownv1.Bead{}, beadRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.Bead).Spec.RigRef} }},
		{&gastownv1.Bead{}, beadDependsIndex, func(o client.Object) []string { return o.(*gastownv1.Bead).Spec.DependsOn }},
		{&gastownv1.Bead{}, beadReviewIndex, func(o client.Object) []string {
			if b := o.(*gastownv1.Bead); inReview(b) {
				return []string{b.Spec.RigRef}
			}
			return nil
		}},
		{&gastownv1.Convoy{}, convoyRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.Convoy).Spec.RigRef} }},
		// By the tracked beads' object names, which a bead's event carries.
		{&gastownv1.Convoy{}, convoyBeadIndex, func(o client.Object) []string {
			ids := o.(*gastownv1.Convoy).Spec.TrackedBeads
			names := make([]string, len(ids))
			for i, id := range ids {
				names[i] = gastownv1.BeadObjectName(id)
			}
			return names
		}},
		{&gastownv1.Polecat{}, polecatRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.Polecat).Spec.Rig} }},
		{&gastownv1.Polecat{}, polecatBeadIndex, func(o client.Object) []string { return []string{o.(*gastownv1.Polecat).Spec.BeadID} }},
		{&gastownv1.Refinery{}, refineryRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.Refinery).Spec.RigRef} }},
		{&gastownv1.Witness{}, witnessRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.Witness).Spec.RigRef} }},
		{&gastownv1.MergeRequest{}, mergeRequestRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.MergeRequest).Spec.RigRef} }},
		{&gastownv1.MergeRequest{}, mergeRequestBeadIndex, func(o client.Object) []string { return []string{o.(*gastownv1.MergeRequest).Spec.BeadRef} }},
	} {
		if err := idx.IndexField(ctx, ix.obj, ix.field, ix.fn); err != nil {
			return err
		}
	}
	return nil
}

// sourceRevisionChanged passes a GitRepository event only when its artifact
// revision changed, so that status churn does not wake the BeadStores.
type sourceRevisionChanged struct{ predicate.Funcs }

func (sourceRevisionChanged) Create(event.CreateEvent) bool { return true }

func (sourceRevisionChanged) Update(e event.UpdateEvent) bool {
	oldSrc, ok1 := e.ObjectOld.(*sourcev1.GitRepository)
	newSrc, ok2 := e.ObjectNew.(*sourcev1.GitRepository)
	if !ok1 || !ok2 {
		return false
	}
	return revision(oldSrc.GetArtifact()) != revision(newSrc.GetArtifact())
}

func revision(a *meta.Artifact) string {
	if a == nil {
		return ""
	}
	return a.Revision + "@" + a.Digest
}
