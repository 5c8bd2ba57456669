package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// ConvoyReconciler records the progress of a batch of beads and lands it
// when every tracked bead is closed.
type ConvoyReconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=convoys,verbs=get;list;watch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=convoys/status,verbs=patch

// Reconcile computes the convoy's progress from its tracked beads.
func (r *ConvoyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ctx = withReconcileStart(ctx)
	convoy := &gastownv1.Convoy{}
	if err := r.Get(ctx, req.NamespacedName, convoy); err != nil {
		return ctrl.Result{}, ignoreGone(err, convoy, req)
	}
	patcher := newObjectPatcher(convoy, r.Client)
	phaseBefore := convoy.Status.Phase
	defer func() {
		if err := patchStatus(ctx, patcher, convoy, nil, nil, nil); err != nil {
			retErr = errors.Join(retErr, err)
		}
		if convoy.Status.Phase != phaseBefore && convoy.Status.Phase == gastownv1.ConvoyPhaseLanded {
			r.EventRecorder.AnnotatedEventf(convoy, map[string]string{"notify": convoy.Spec.NotifyOnComplete},
				corev1.EventTypeNormal, "Landed", "convoy %s landed: %s beads closed", convoy.Name, convoy.Status.Progress)
		}
	}()

	var completed, pending, failed, started []string
	for _, id := range convoy.Spec.TrackedBeads {
		bead := &gastownv1.Bead{}
		err := r.Get(ctx, types.NamespacedName{Namespace: convoy.Namespace, Name: gastownv1.BeadObjectName(id)}, bead)
		switch {
		case apierrors.IsNotFound(err):
			pending = append(pending, id)
			continue
		case err != nil:
			return ctrl.Result{}, err
		}
		switch bead.Status.Phase {
		case gastownv1.BeadPhaseClosed:
			completed = append(completed, id)
		case gastownv1.BeadPhaseFailed, gastownv1.BeadPhaseRejected:
			failed = append(failed, id)
		case gastownv1.BeadPhaseWorking, gastownv1.BeadPhaseInReview, gastownv1.BeadPhaseMerged:
			started = append(started, id)
			pending = append(pending, id)
		default:
			if bead.Spec.Status == gastownv1.BeadClosed {
				completed = append(completed, id)
			} else {
				pending = append(pending, id)
			}
		}
	}
	s := &convoy.Status
	s.CompletedBeads, s.PendingBeads, s.FailedBeads = completed, pending, failed
	total := len(convoy.Spec.TrackedBeads)
	s.Progress = fmt.Sprintf("%d/%d", len(completed), total)
	now := metav1.Now()
	if s.StartedAt == nil && (len(started) > 0 || len(completed) > 0) {
		s.StartedAt = &now
	}

	switch {
	case len(completed) == total:
		s.Phase = gastownv1.ConvoyPhaseLanded
		if s.CompletedAt == nil {
			s.CompletedAt = &now
		}
		conditions.Delete(convoy, meta.StalledCondition)
		conditions.MarkTrue(convoy, meta.ReadyCondition, "Landed", "all %d beads closed", total)
	case len(failed) > 0:
		s.Phase = gastownv1.ConvoyPhaseFailed
		conditions.MarkStalled(convoy, "BeadsFailed", "beads failed or rejected: %v", failed)
	default:
		s.Phase = gastownv1.ConvoyPhasePending
		if s.StartedAt != nil {
			s.Phase = gastownv1.ConvoyPhaseInProgress
		}
		conditions.Delete(convoy, meta.StalledCondition)
		conditions.MarkReconciling(convoy, s.Phase, "%s beads closed; pending: %v", s.Progress, pending)
		conditions.MarkFalse(convoy, meta.ReadyCondition, s.Phase, "%s beads closed", s.Progress)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the reconciler with its watches.
func (r *ConvoyReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&gastownv1.Convoy{}, builder.WithPredicates(primaryPredicate())).
		// A convoy's progress is its beads' phases (and closure in their
		// files).
		Watches(&gastownv1.Bead{}, handler.EnqueueRequestsFromMapFunc(r.convoysOfBead),
			builder.WithPredicates(phaseChanged(beadPhase))).
		WithOptions(opts).
		Complete(r)
}

func (r *ConvoyReconciler) convoysOfBead(ctx context.Context, o client.Object) []reconcile.Request {
	return requestsByIndex(ctx, r.Client, &gastownv1.ConvoyList{}, o.GetNamespace(), convoyBeadIndex, o.GetName())
}
