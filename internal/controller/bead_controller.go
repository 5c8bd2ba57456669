package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/runtime/patch"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

// BeadReconciler keeps a bead's phase, conditions and latest polecat result
// in its status. It is the only writer of those fields; the dispatcher
// writes status.dispatch and the Refinery status.pullRequest.
type BeadReconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
	// RetryBackoff and MaxRetryBackoff must match the RigReconciler's, so
	// that the phase agrees with dispatch.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beads,verbs=get;list;watch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beads/status,verbs=get;update;patch

// Reconcile evaluates the bead's phase.
func (r *BeadReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	bead := &gastownv1.Bead{}
	if err := r.Get(ctx, req.NamespacedName, bead); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patcher := patch.NewSerialPatcher(bead, r.Client)
	phaseBefore := bead.Status.Phase
	defer func() {
		if err := patchStatus(ctx, patcher, bead, []string{gastownv1.BeadsValidCondition}, nil); err != nil {
			retErr = errors.Join(retErr, err)
		}
		if bead.Status.Phase != phaseBefore {
			typ := corev1.EventTypeNormal
			if bead.Status.Phase == gastownv1.BeadPhaseFailed || bead.Status.Phase == gastownv1.BeadPhaseRejected {
				typ = corev1.EventTypeWarning
			}
			r.EventRecorder.Eventf(bead, typ, string(bead.Status.Phase), "%s", conditions.GetMessage(bead, meta.ReadyCondition))
		}
	}()

	polecats := &gastownv1.PolecatList{}
	if err := r.List(ctx, polecats, client.InNamespace(bead.Namespace), client.MatchingFields{polecatBeadIndex: bead.Name}); err != nil {
		return ctrl.Result{}, err
	}
	closed, err := r.closedDependencies(ctx, bead)
	if err != nil {
		return ctrl.Result{}, err
	}
	limits, rigFound, err := r.rigLimits(ctx, bead.Spec.RigRef)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := dispatch.Evaluate(bead, polecats.Items, closed, limits, time.Now())
	if !rigFound && st.Phase == gastownv1.BeadPhaseReady {
		st.Phase, st.Reason, st.Message = gastownv1.BeadPhaseOpen, gastownv1.RigNotFoundReason,
			fmt.Sprintf("rig %q not found: no rig dispatches this bead", bead.Spec.RigRef)
	}
	bead.Status.Phase = st.Phase
	setBeadConditions(bead, st)
	if st.Latest != nil {
		bead.Status.Polecat = st.Latest.Name
		if res := st.Latest.Status.Result; res != nil {
			bead.Status.Result = res
			if res.Outcome == gastownv1.OutcomePushed {
				bead.Status.Branch, bead.Status.Commit = res.Branch, res.Commit
			}
		}
	}
	if msg := bead.Annotations[SourceErrorAnnotation]; msg != "" {
		conditions.MarkFalse(bead, gastownv1.BeadsValidCondition, gastownv1.InvalidBeadsReason,
			"the bead's file is broken in the latest revision; the bead is kept as it was: %s", msg)
	} else {
		conditions.Delete(bead, gastownv1.BeadsValidCondition)
	}
	if !st.RetryAt.IsZero() {
		return requeueAfter(max(time.Until(st.RetryAt), time.Second)), nil
	}
	return ctrl.Result{}, nil
}

// setBeadConditions maps the phase to kstatus conditions: Ready once the
// bead is closed, Reconciling while work is under way, Stalled when it
// failed or was rejected and waits for a person.
func setBeadConditions(bead *gastownv1.Bead, st dispatch.State) {
	switch st.Phase {
	case gastownv1.BeadPhaseClosed:
		conditions.MarkTrue(bead, meta.ReadyCondition, st.Reason, "%s", st.Message)
		conditions.Delete(bead, meta.ReconcilingCondition)
		conditions.Delete(bead, meta.StalledCondition)
	case gastownv1.BeadPhaseFailed, gastownv1.BeadPhaseRejected:
		conditions.MarkStalled(bead, st.Reason, "%s", st.Message)
		conditions.Delete(bead, meta.ReconcilingCondition)
	default:
		conditions.Delete(bead, meta.StalledCondition)
		conditions.MarkReconciling(bead, st.Reason, "%s", st.Message)
		conditions.MarkFalse(bead, meta.ReadyCondition, st.Reason, "%s", st.Message)
	}
}

func (r *BeadReconciler) closedDependencies(ctx context.Context, bead *gastownv1.Bead) (map[string]bool, error) {
	closed := map[string]bool{}
	for _, id := range bead.Spec.DependsOn {
		dep := &gastownv1.Bead{}
		err := r.Get(ctx, types.NamespacedName{Namespace: bead.Namespace, Name: id}, dep)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		closed[id] = dep.Spec.Status == gastownv1.BeadClosed
	}
	return closed, nil
}

// rigLimits returns the retry limits of the bead's rig, and whether the
// rig exists (a bead without spec.rigRef has its own phase, Open).
func (r *BeadReconciler) rigLimits(ctx context.Context, name string) (dispatch.Rig, bool, error) {
	limits := dispatch.Rig{MaxRetries: gastownv1.DefaultMaxRetries, RetryBackoff: r.RetryBackoff, MaxBackoff: r.MaxRetryBackoff}
	if name == "" {
		return limits, true, nil
	}
	rig := &gastownv1.Rig{}
	if err := r.Get(ctx, types.NamespacedName{Name: name}, rig); err != nil {
		return limits, false, client.IgnoreNotFound(err)
	}
	limits.MaxRetries = rig.MaxRetries()
	return limits, true, nil
}

// SetupWithManager registers the reconciler with its watches.
func (r *BeadReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&gastownv1.Bead{}).
		Watches(&gastownv1.Polecat{}, handler.EnqueueRequestsFromMapFunc(beadOfPolecat)).
		Watches(&gastownv1.Bead{}, handler.EnqueueRequestsFromMapFunc(r.dependents)).
		Watches(&gastownv1.Rig{}, handler.EnqueueRequestsFromMapFunc(r.beadsOfRig),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }})).
		WithOptions(opts).
		Complete(r)
}

func beadOfPolecat(_ context.Context, o client.Object) []reconcile.Request {
	pc := o.(*gastownv1.Polecat)
	if pc.Spec.BeadID == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: pc.Namespace, Name: pc.Spec.BeadID}}}
}

// beadsOfRig are a rig's beads: a rig that appears or goes changes their phase.
func (r *BeadReconciler) beadsOfRig(ctx context.Context, o client.Object) []reconcile.Request {
	return requestsByIndex(ctx, r.Client, &gastownv1.BeadList{}, "", beadRigIndex, o.GetName())
}

// dependents are the beads that depend on o: its closure unblocks them.
func (r *BeadReconciler) dependents(ctx context.Context, o client.Object) []reconcile.Request {
	return requestsByIndex(ctx, r.Client, &gastownv1.BeadList{}, o.GetNamespace(), beadDependsIndex, o.GetName())
}
