// Package controller holds one reconciler per kind. Each follows Flux's
// shape: fetch, patch helper with a deferred status patch, a few named
// steps that set their own conditions, events on state changes. Domain
// logic lives in plain packages (internal/beads, internal/dispatch, ...).
package controller

import (
	"context"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/runtime/patch"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/fluxcd/pkg/runtime/predicates"
)

// FieldOwner is the field manager of everything the operator writes.
const FieldOwner = "gastown-operator"

// statusObject is a kind with conditions and an observed generation.
type statusObject interface {
	client.Object
	conditions.Setter
}

// primaryPredicate passes spec changes and Flux's reconcile requests.
func primaryPredicate() predicate.Predicate {
	return predicate.Or(predicate.GenerationChangedPredicate{}, predicates.ReconcileRequestedPredicate{})
}

// markReconcilingNewGeneration says, as Flux's controllers do, that a new
// generation is being worked on; patchStatus removes it on success, so an
// object stays Reconciling (kstatus: in progress) until a reconcile went
// through.
func markReconcilingNewGeneration(obj statusObject) {
	if conditions.GetObservedGeneration(obj, meta.ReadyCondition) != obj.GetGeneration() {
		conditions.MarkReconciling(obj, meta.ProgressingReason, "reconciling generation %d", obj.GetGeneration())
	}
}

// success is the Ready condition of a reconcile that went through.
type success struct{ reason, message string }

// patchStatus summarises Ready and patches the object. Ready mirrors
// Stalled, then the first false condition among owned, then ok when the
// reconcile succeeded (ok not nil); otherwise Ready stays as a step set it.
func patchStatus(ctx context.Context, p *patch.SerialPatcher, obj statusObject, owned []string, ok *success) error {
	if conditions.IsStalled(obj) {
		conditions.MarkFalse(obj, meta.ReadyCondition, conditions.GetReason(obj, meta.StalledCondition), "%s", conditions.GetMessage(obj, meta.StalledCondition))
	} else if failing := firstFalse(obj, owned); failing != "" {
		conditions.MarkFalse(obj, meta.ReadyCondition, conditions.GetReason(obj, failing), "%s", conditions.GetMessage(obj, failing))
	} else if ok != nil {
		conditions.MarkTrue(obj, meta.ReadyCondition, ok.reason, "%s", ok.message)
	}
	if conditions.IsTrue(obj, meta.ReadyCondition) {
		conditions.Delete(obj, meta.ReconcilingCondition)
	}
	all := append([]string{meta.ReadyCondition, meta.ReconcilingCondition, meta.StalledCondition}, owned...)
	return p.Patch(ctx, obj,
		patch.WithOwnedConditions{Conditions: all},
		patch.WithFieldOwner(FieldOwner),
		patch.WithStatusObservedGeneration{},
	)
}

func firstFalse(obj conditions.Getter, types []string) string {
	for _, t := range types {
		if conditions.IsFalse(obj, t) {
			return t
		}
	}
	return ""
}

// eventOnChange emits an event when the Ready condition changed between
// before and after.
func eventOnChange(rec kuberecorder.EventRecorder, obj statusObject, before *readyState) {
	now := readyOf(obj)
	if before != nil && *before == now {
		return
	}
	typ := "Normal"
	if now.status == "False" {
		typ = "Warning"
	}
	if now.reason == "" {
		return
	}
	rec.Event(obj, typ, now.reason, now.message)
}

type readyState struct{ status, reason, message string }

func readyOf(obj conditions.Getter) readyState {
	c := conditions.Get(obj, meta.ReadyCondition)
	if c == nil {
		return readyState{}
	}
	return readyState{string(c.Status), c.Reason, c.Message}
}

// requeueAfter is a result that reconciles again after d.
func requeueAfter(d time.Duration) ctrl.Result { return ctrl.Result{RequeueAfter: d} }
