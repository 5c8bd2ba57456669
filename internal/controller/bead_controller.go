package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

// BeadReconciler keeps a bead's status: its phase and conditions, its
// dispatch record, latest polecat and result, and its pull request. It is
// the status's only writer, and derives it from what the other
// controllers keep on the objects they own: the polecats (their
// annotations and status) and the Refinery's merge requests.
type BeadReconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
	// RetryBackoff and MaxRetryBackoff must match the RigReconciler's, so
	// that the phase agrees with dispatch.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration

	writes ownWrites
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beads,verbs=get;list;watch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beads/status,verbs=patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beadstores,verbs=get;list;watch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=mergerequests,verbs=get;list;watch

// Reconcile evaluates the bead's phase.
func (r *BeadReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ctx = withReconcileStart(ctx)
	bead := &gastownv1.Bead{}
	if err := r.Get(ctx, req.NamespacedName, bead); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A pass queued while the last one ran can start before the cache has
	// the last one's write: it would write the same status again.
	if r.writes.pending(bead) {
		return requeueAfter(cacheLagDelay), nil
	}
	patcher := newObjectPatcher(bead, r.Client)
	patcher.writes = &r.writes
	phaseBefore := bead.Status.Phase
	defer func() {
		if err := patchStatus(ctx, patcher, bead, []string{gastownv1.BeadsValidCondition}, nil, nil); err != nil {
			retErr = errors.Join(retErr, err)
		}
		// A bead's first phase is no event: the BeadStore sends one per
		// revision for all the beads it synced. Nor are the phases of
		// dispatch: the Rig sends one event per pass naming the polecats it
		// started.
		if bead.Status.Phase != phaseBefore && phaseBefore != "" && !routinePhase(bead.Status.Phase) {
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
	limits, rigFound, err := r.rigLimits(ctx, bead.Spec.RigRef)
	if err != nil {
		return ctrl.Result{}, err
	}
	if limits.WorkTypes, err = r.workTypes(ctx, bead); err != nil {
		return ctrl.Result{}, err
	}
	mergeRequests := &gastownv1.MergeRequestList{}
	if err := r.List(ctx, mergeRequests, client.InNamespace(bead.Namespace), client.MatchingFields{mergeRequestBeadIndex: bead.Name}); err != nil {
		return ctrl.Result{}, err
	}
	src := &clusterBeads{ctx: ctx, c: r.Client, ns: bead.Namespace}
	st := dispatch.Evaluate(bead, polecats.Items, mergeRequests.Items, dispatch.NewGraph(src), limits, time.Now())
	if src.err != nil {
		return ctrl.Result{}, src.err
	}
	if !rigFound && st.Phase == gastownv1.BeadPhaseReady {
		st.Phase, st.Reason, st.Message = gastownv1.BeadPhaseOpen, gastownv1.RigNotFoundReason,
			fmt.Sprintf("rig %q not found: no rig dispatches this bead", bead.Spec.RigRef)
	}
	switch {
	case st.Phase != gastownv1.BeadPhaseReady:
		bead.Status.ReadySince = nil
	case bead.Status.Phase != gastownv1.BeadPhaseReady || bead.Status.ReadySince == nil:
		now := metav1.Now()
		bead.Status.ReadySince = &now
	}
	bead.Status.Phase = st.Phase
	bead.Status.Dispatch, bead.Status.PullRequest = st.Dispatch, st.PullRequest
	setBeadConditions(bead, st)
	if st.Latest != nil {
		bead.Status.Polecat = st.Latest.Name
		if res := st.Latest.Status.Result; res != nil {
			bead.Status.Result = redactedResult(res)
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
// failed or was rejected and waits for a person. An Open bead is no work of
// the operator's (an epic, a bead someone claimed or its file holds, a type
// it does not dispatch, no rig): Ready is False and says why, and nothing
// is reconciling.
func setBeadConditions(bead *gastownv1.Bead, st dispatch.State) {
	switch st.Phase {
	case gastownv1.BeadPhaseClosed:
		conditions.MarkTrue(bead, meta.ReadyCondition, st.Reason, "%s", st.Message)
		conditions.Delete(bead, meta.ReconcilingCondition)
		conditions.Delete(bead, meta.StalledCondition)
	case gastownv1.BeadPhaseFailed, gastownv1.BeadPhaseRejected:
		conditions.MarkStalled(bead, st.Reason, "%s", st.Message)
		conditions.Delete(bead, meta.ReconcilingCondition)
	case gastownv1.BeadPhaseOpen:
		conditions.Delete(bead, meta.StalledCondition)
		conditions.Delete(bead, meta.ReconcilingCondition)
		conditions.MarkFalse(bead, meta.ReadyCondition, st.Reason, "%s", st.Message)
	default:
		conditions.Delete(bead, meta.StalledCondition)
		conditions.MarkReconciling(bead, st.Reason, "%s", st.Message)
		conditions.MarkFalse(bead, meta.ReadyCondition, st.Reason, "%s", st.Message)
	}
}

// fullBead reads a bead from the API server, with the description and
// acceptance criteria that the manager's cached copy does not have
// (operator.CacheTransforms).
func fullBead(ctx context.Context, apiReader client.Reader, key types.NamespacedName) (*gastownv1.Bead, error) {
	bead := &gastownv1.Bead{}
	if err := apiReader.Get(ctx, key, bead); err != nil {
		return nil, err
	}
	return bead, nil
}

// clusterBeads is the readiness computation's view of the beads of one
// namespace, read from the cache by bead ID: the Bead object of an ID is
// the one named BeadObjectName(id) whose spec.id (or name) is the ID.
type clusterBeads struct {
	ctx context.Context
	c   client.Client
	ns  string
	err error
}

// Bead implements dispatch.Source.
func (s *clusterBeads) Bead(id string) (*gastownv1.BeadSpec, bool) {
	b := &gastownv1.Bead{}
	err := s.c.Get(s.ctx, types.NamespacedName{Namespace: s.ns, Name: gastownv1.BeadObjectName(id)}, b)
	if err != nil {
		if !apierrors.IsNotFound(err) && s.err == nil {
			s.err = err
		}
		return nil, false
	}
	if b.BeadID() != id || b.DeletionTimestamp != nil {
		return nil, false
	}
	spec := b.Spec
	spec.ID = id
	return &spec, true
}

// Children implements dispatch.Source.
func (s *clusterBeads) Children(id string) []*gastownv1.BeadSpec {
	list := &gastownv1.BeadList{}
	if err := s.c.List(s.ctx, list, client.InNamespace(s.ns), client.MatchingFields{beadParentIndex: id}); err != nil {
		if s.err == nil {
			s.err = err
		}
		return nil
	}
	out := make([]*gastownv1.BeadSpec, 0, len(list.Items))
	for i := range list.Items {
		spec := list.Items[i].Spec
		spec.ID = list.Items[i].BeadID()
		out = append(out, &spec)
	}
	return out
}

// workTypes are the types the bead's BeadStore dispatches.
func (r *BeadReconciler) workTypes(ctx context.Context, bead *gastownv1.Bead) ([]gastownv1.BeadType, error) {
	owner := metav1.GetControllerOf(bead)
	if owner == nil || owner.Kind != gastownv1.BeadStoreKind {
		return nil, nil
	}
	store := &gastownv1.BeadStore{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: bead.Namespace, Name: owner.Name}, store, readOnly); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return store.DispatchedTypes(), nil
}

// rigLimits returns the retry limits and agent policy of the bead's rig, and whether the
// rig exists (a bead without spec.rigRef has its own phase, Open).
func (r *BeadReconciler) rigLimits(ctx context.Context, name string) (dispatch.Rig, bool, error) {
	limits := dispatch.Rig{MaxRetries: gastownv1.DefaultMaxRetries, RetryBackoff: r.RetryBackoff, MaxBackoff: r.MaxRetryBackoff}
	if name == "" {
		return limits, true, nil
	}
	// Read, never changed: the cache's own copies, as for every bead of
	// an intake.
	rig := &gastownv1.Rig{}
	if err := r.Get(ctx, types.NamespacedName{Name: name}, rig, readOnly); err != nil {
		return limits, false, client.IgnoreNotFound(err)
	}
	limits.MaxRetries = rig.MaxRetries()
	policy := beads.PolicyOf(rig)
	limits.Policy = &policy
	return limits, true, nil
}

// Field indexes of the readiness computation: the beads of a parent, and
// the beads that wait for a spawner's children.
const (
	beadParentIndex   = ".spec.parents"
	beadWaitsForIndex = ".spec.waitsFor"
)

// SetupWithManager registers the reconciler with its watches.
func (r *BeadReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &gastownv1.Bead{}, beadParentIndex, func(o client.Object) []string {
		return o.(*gastownv1.Bead).Spec.Parents
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &gastownv1.Bead{}, beadWaitsForIndex, func(o client.Object) []string {
		return o.(*gastownv1.Bead).Spec.WaitsFor
	}); err != nil {
		return err
	}
	informer, err := mgr.GetCache().GetInformer(ctx, &gastownv1.Bead{})
	if err != nil {
		return err
	}
	if _, err := informer.AddEventHandler(r.writes.handler()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Its spec and annotations (the retry, the source error, reconcile
		// requests) are what a bead's phase is computed from; its status is
		// what the computation wrote, and a pass for that write would only
		// read it back.
		For(&gastownv1.Bead{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&gastownv1.Polecat{}, handler.EnqueueRequestsFromMapFunc(beadOfPolecat),
			builder.WithPredicates(polecatOutcomeChanged())).
		Watches(&gastownv1.MergeRequest{}, handler.EnqueueRequestsFromMapFunc(beadOfMergeRequest),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		// Its dependents read its spec and phase.
		Watches(&gastownv1.Bead{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(phaseChanged(beadPhase))).
		Watches(&gastownv1.BeadStore{}, handler.EnqueueRequestsFromMapFunc(r.beadsOfStore),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A rig that appears or goes, or whose agent policy or retry limit
		// changes, changes its beads' phases; its suspension and its
		// polecat limit do not (they are the Rig's to apply).
		Watches(&gastownv1.Rig{}, handler.EnqueueRequestsFromMapFunc(r.beadsOfRig),
			builder.WithPredicates(rigLimitsChanged())).
		WithOptions(opts).
		Complete(r)
}

// rigLimitsChanged passes a rig's creation and deletion, and the updates
// that change what rigLimits reads of it.
func rigLimitsChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, cur := e.ObjectOld.(*gastownv1.Rig), e.ObjectNew.(*gastownv1.Rig)
		return old.MaxRetries() != cur.MaxRetries() || !equality.Semantic.DeepEqual(beads.PolicyOf(old), beads.PolicyOf(cur))
	}}
}

// polecatOutcomeChanged passes a polecat's creation and deletion, and the
// updates that change what dispatch.Evaluate and the bead's status read of
// it: its spec, labels and annotations (attempt, spec hash, retry), its
// phase, result and completion, and its Ready condition (a failure's
// message). Its pod, attempts and progress conditions change far more often
// and say nothing to the bead.
func polecatOutcomeChanged() predicate.Predicate {
	return predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{},
		predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
			old, cur := e.ObjectOld.(*gastownv1.Polecat), e.ObjectNew.(*gastownv1.Polecat)
			oldReady, curReady := conditions.Get(old, meta.ReadyCondition), conditions.Get(cur, meta.ReadyCondition)
			return old.Status.Phase != cur.Status.Phase ||
				!equality.Semantic.DeepEqual(old.Status.Result, cur.Status.Result) ||
				!equality.Semantic.DeepEqual(old.Status.CompletedAt, cur.Status.CompletedAt) ||
				(oldReady == nil) != (curReady == nil) ||
				(oldReady != nil && (oldReady.Reason != curReady.Reason || oldReady.Message != curReady.Message))
		}})
}

func beadOfPolecat(_ context.Context, o client.Object) []reconcile.Request {
	pc := o.(*gastownv1.Polecat)
	if pc.Spec.BeadID == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: pc.Namespace, Name: pc.Spec.BeadID}}}
}

func beadOfMergeRequest(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*gastownv1.MergeRequest).Spec.BeadRef}}}
}

// beadsOfRig are a rig's beads: a rig that appears or goes changes their phase.
func (r *BeadReconciler) beadsOfRig(ctx context.Context, o client.Object) []reconcile.Request {
	return requestsByIndex(ctx, r.Client, &gastownv1.BeadList{}, "", beadRigIndex, o.GetName())
}

// dependents are the beads whose readiness o takes part in: those that
// depend on it (its closure unblocks them), its children (they are blocked
// while it is) and, as a child, the beads that wait for its parents'
// children.
func (r *BeadReconciler) dependents(ctx context.Context, o client.Object) []reconcile.Request {
	b := o.(*gastownv1.Bead)
	id := b.BeadID()
	reqs := requestsByIndex(ctx, r.Client, &gastownv1.BeadList{}, o.GetNamespace(), beadDependsIndex, id)
	reqs = append(reqs, requestsByIndex(ctx, r.Client, &gastownv1.BeadList{}, o.GetNamespace(), beadParentIndex, id)...)
	for _, p := range b.Spec.Parents {
		reqs = append(reqs, requestsByIndex(ctx, r.Client, &gastownv1.BeadList{}, o.GetNamespace(), beadWaitsForIndex, p)...)
	}
	return reqs
}

// beadsOfStore are the beads of a BeadStore whose spec changed: its
// workTypes decide their phase.
func (r *BeadReconciler) beadsOfStore(ctx context.Context, o client.Object) []reconcile.Request {
	return requestsByIndex(ctx, r.Client, &gastownv1.BeadList{}, o.GetNamespace(), beadRigIndex, o.(*gastownv1.BeadStore).Spec.RigRef)
}

// routinePhase: the phases a bead passes on its way to a polecat, which
// the BeadStore's and the Rig's summary events already tell.
func routinePhase(p gastownv1.BeadPhase) bool {
	switch p {
	case gastownv1.BeadPhaseOpen, gastownv1.BeadPhaseBlocked, gastownv1.BeadPhaseReady, gastownv1.BeadPhaseWorking:
		return true
	}
	return false
}
