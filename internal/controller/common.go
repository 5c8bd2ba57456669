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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/fluxcd/pkg/runtime/jitter"
	"github.com/fluxcd/pkg/runtime/predicates"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// FieldOwner is the field manager of everything the operator writes.
const FieldOwner = "gastown-operator"

// statusObject is a kind with conditions, an observed generation and the
// last reconcile request it handled.
type statusObject interface {
	client.Object
	conditions.Setter
	SetLastHandledReconcileRequest(token string)
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

// success is how a reconcile that went through ends: Ready True with its
// reason and message or, with reason Suspended, Ready False.
type success struct{ reason, message string }

// suspended is the end of a pass over a suspended object.
func suspended(message string) *success { return &success{meta.SuspendedReason, message} }

// patchStatus summarises Ready and patches the object, once. Ready says
// Suspended when the object is (the pass looked at nothing else, so neither
// Reconciling nor Stalled holds: kstatus would report it in progress or
// stuck for as long as it stays suspended); else it mirrors Stalled, then
// the first false condition among owned, then ok when the reconcile
// succeeded (ok not nil); otherwise Ready stays as a step set it.
// derive, when not nil, sets what is computed from the summary (a phase)
// before the patch.
func patchStatus(ctx context.Context, p *objectPatcher, obj statusObject, owned []string, ok *success, derive func()) error {
	// A reconcile requested with the reconcile.fluxcd.io/requestedAt
	// annotation (flux reconcile, kubectl gt reconcile) was handled.
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok {
		obj.SetLastHandledReconcileRequest(v)
	}
	if ok != nil && ok.reason == meta.SuspendedReason {
		conditions.MarkFalse(obj, meta.ReadyCondition, ok.reason, "%s", ok.message)
		conditions.Delete(obj, meta.ReconcilingCondition)
		conditions.Delete(obj, meta.StalledCondition)
	} else if conditions.IsStalled(obj) {
		conditions.MarkFalse(obj, meta.ReadyCondition, conditions.GetReason(obj, meta.StalledCondition), "%s", conditions.GetMessage(obj, meta.StalledCondition))
	} else if failing := firstFalse(obj, owned); failing != "" {
		conditions.MarkFalse(obj, meta.ReadyCondition, conditions.GetReason(obj, failing), "%s", conditions.GetMessage(obj, failing))
	} else if ok != nil {
		conditions.MarkTrue(obj, meta.ReadyCondition, ok.reason, "%s", ok.message)
	}
	if conditions.IsTrue(obj, meta.ReadyCondition) {
		conditions.Delete(obj, meta.ReconcilingCondition)
	}
	if derive != nil {
		derive()
	}
	err := p.Patch(ctx, obj)
	recordMetrics(ctx, obj)
	return err
}

type reconcileStartKey struct{}

// withReconcileStart marks the start of a reconcile in ctx; patchStatus
// records the reconcile's duration from it. Every Reconcile starts with it.
func withReconcileStart(ctx context.Context) context.Context {
	return context.WithValue(ctx, reconcileStartKey{}, time.Now())
}

// recordMetrics records Flux's reconcile metrics of obj, as Flux's
// controllers do in their deferred status patch: the duration since
// withReconcileStart, the Ready, Reconciling and Stalled conditions and,
// for kinds that can be suspended, gotk_suspend_status. An object that is
// going away (deleted, the operator's finalizer gone) has its series
// deleted instead.
func recordMetrics(ctx context.Context, obj statusObject) {
	gvk, err := apiutil.GVKForObject(obj, scheme.Scheme)
	if err != nil {
		return
	}
	ref := corev1.ObjectReference{Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	rec := gsmetrics.Reconcile
	switch obj.(type) {
	case *gastownv1.Bead, *gastownv1.Polecat:
		// Work items, thousands to a repository: series of each would be
		// most of the manager's memory and of Prometheus's. Their
		// reconciles are one duration series per namespace; their phases
		// are counted by the BeadStore and by gastown_polecats.
		if start, ok := ctx.Value(reconcileStartKey{}).(time.Time); ok {
			ref.Name = ""
			rec.RecordDuration(ref, start)
		}
		return
	}
	if !obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, gastownv1.GastownFinalizer) {
		deleteMetrics(ref)
		return
	}
	if start, ok := ctx.Value(reconcileStartKey{}).(time.Time); ok {
		rec.RecordDuration(ref, start)
	}
	for _, t := range conditionTypes {
		c := conditions.Get(obj, t)
		if c == nil {
			c = conditions.UnknownCondition(t, "", "")
		}
		rec.RecordCondition(ref, *c)
	}
	if suspend, ok := suspendOf(obj); ok {
		rec.RecordSuspend(ref, suspend)
	}
}

// conditionTypes are the conditions gotk_reconcile_condition reports.
var conditionTypes = []string{meta.ReadyCondition, meta.ReconcilingCondition, meta.StalledCondition}

// deleteMetrics deletes the series of an object that is gone.
func deleteMetrics(ref corev1.ObjectReference) {
	for _, t := range conditionTypes {
		gsmetrics.Reconcile.DeleteCondition(ref, t)
	}
	gsmetrics.Reconcile.DeleteSuspend(ref)
	gsmetrics.Reconcile.DeleteDuration(ref)
}

// ignoreGone is client.IgnoreNotFound for the fetch that starts a
// reconcile. The kinds without a finalizer learn of their deletion only
// from that NotFound, so an object gone has its series deleted there.
func ignoreGone(err error, obj statusObject, req ctrl.Request) error {
	if !apierrors.IsNotFound(err) {
		return err
	}
	gvk, gerr := apiutil.GVKForObject(obj, scheme.Scheme)
	if gerr != nil {
		return nil
	}
	deleteMetrics(corev1.ObjectReference{Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Namespace: req.Namespace, Name: req.Name})
	return nil
}

// suspendOf is spec.suspend of the kinds that have one.
func suspendOf(obj client.Object) (suspend, ok bool) {
	switch o := obj.(type) {
	case *gastownv1.Rig:
		return o.Spec.Suspend, true
	case *gastownv1.BeadStore:
		return o.Spec.Suspend, true
	case *gastownv1.Refinery:
		return o.Spec.Suspend, true
	case *gastownv1.Witness:
		return o.Spec.Suspend, true
	}
	return false, false
}

func firstFalse(obj conditions.Getter, types []string) string {
	for _, t := range types {
		if conditions.IsFalse(obj, t) {
			return t
		}
	}
	return ""
}

// eventOnChange emits an event when the Ready condition's status or
// reason changed between before and after. A new message alone (counts, a
// revision) is no new state: it would be an event per write.
func eventOnChange(rec kuberecorder.EventRecorder, obj statusObject, before *readyState) {
	now := readyOf(obj)
	if before != nil && before.status == now.status && before.reason == now.reason {
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

// requeuePoll is the result of a reconcile that polls again after its
// interval, jittered (--interval-jitter-percentage) so that objects made
// together do not poll together.
func requeuePoll(interval time.Duration) ctrl.Result {
	return ctrl.Result{RequeueAfter: jitter.JitteredIntervalDuration(interval)}
}
