package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	"github.com/boshu2/gastown-operator/internal/witness"
)

// Event reasons of the Witness, on the polecats it acts on.
const (
	RestartedReason = "Restarted"
	EscalatedReason = "Escalated"
	// EscalationTargetAnnotation on an Escalated event names who it is for
	// (spec.escalationTarget), for Flux Alerts to route on.
	EscalationTargetAnnotation = "target"
)

// WitnessReconciler checks a rig's live polecats every health check
// interval and on polecat changes: it restarts stuck ones while their
// restart budget lasts and escalates the rest.
type WitnessReconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
	// Clientset reads pod logs, which the controller-runtime client cannot.
	// Built from the manager's config when nil.
	Clientset kubernetes.Interface
	// Activity tells when a polecat last wrote output. Nil reads the agent
	// container's log through Clientset and a local run's log file; tests
	// set it, since envtest runs no kubelet to serve logs.
	Activity witness.Activity
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=witnesses,verbs=get;list;watch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=witnesses/status,verbs=patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=polecats,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beads,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile checks the rig's polecats once and acts on what it finds.
func (r *WitnessReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ctx = withReconcileStart(ctx)
	w := &gastownv1.Witness{}
	if err := r.Get(ctx, req.NamespacedName, w); err != nil {
		return ctrl.Result{}, ignoreGone(err, w, req)
	}
	patcher := newObjectPatcher(w, r.Client)
	before := readyOf(w)
	var ok *success
	defer func() {
		if err := patchStatus(ctx, patcher, w, nil, ok, nil); err != nil {
			retErr = errors.Join(retErr, err)
		}
		eventOnChange(r.EventRecorder, w, &before)
	}()
	if w.Spec.Suspend {
		ok = suspended("health checks are suspended")
		return ctrl.Result{}, nil
	}
	if err := r.check(ctx, w); err != nil {
		return ctrl.Result{}, err
	}
	if escalated := escalatedFindings(w.Status.Findings); len(escalated) > 0 {
		w.Status.Phase = gastownv1.WitnessPhaseDegraded
		conditions.MarkFalse(w, meta.ReadyCondition, escalated[0].Reason, "%s", escalationSummary(escalated))
	} else {
		w.Status.Phase = gastownv1.WitnessPhaseActive
		ok = &success{meta.ReconciliationSucceededReason, "no escalations outstanding"}
	}
	return requeuePoll(w.GetRequeueAfter()), nil
}

// check looks at each of the rig's polecats, acts on the live ones' findings
// and records the summary and findings in the status.
func (r *WitnessReconciler) check(ctx context.Context, w *gastownv1.Witness) error {
	// Read from the cache without a copy of each polecat (a check runs at
	// every burst of polecat events): restart changes a copy of its own.
	polecats := &gastownv1.PolecatList{}
	if err := r.List(ctx, polecats, client.InNamespace(w.Namespace), client.MatchingFields{polecatRigIndex: w.Spec.RigRef}, readOnly); err != nil {
		return err
	}
	sort.Slice(polecats.Items, func(i, j int) bool { return polecats.Items[i].Name < polecats.Items[j].Name })

	policy := witness.NewPolicy(w.Spec)
	previous := findingsByPolecat(w.Status.Findings)
	var summary gastownv1.PolecatsSummary
	var findings []gastownv1.WitnessFinding
	for i := range polecats.Items {
		pc := &polecats.Items[i]
		addToSummary(&summary, pc)
		if !dispatch.IsLive(pc) {
			continue
		}
		f, err := r.checkPolecat(ctx, w, policy, pc, previous[pc.Name])
		if err != nil {
			return fmt.Errorf("polecat %s: %w", pc.Name, err)
		}
		if f == nil {
			continue
		}
		if f.Reason == gastownv1.StuckReason {
			summary.Stuck++
		}
		findings = append(findings, *f)
	}
	// No check time is recorded: a check that finds what the last one did
	// writes nothing.
	w.Status.PolecatsSummary = summary
	w.Status.Findings = findings
	return nil
}

// checkPolecat asks the policy about one live polecat and acts on the
// finding. previous is the polecat's finding from the last check.
func (r *WitnessReconciler) checkPolecat(ctx context.Context, w *gastownv1.Witness, policy witness.Policy,
	pc *gastownv1.Polecat, previous *gastownv1.WitnessFinding) (*gastownv1.WitnessFinding, error) {
	pod, err := r.podOf(ctx, pc)
	if err != nil {
		return nil, err
	}
	if witness.AlreadyRestarted(pc, pod) {
		// Counted already: make sure it goes, and judge the next pod.
		return nil, r.deletePod(ctx, pod)
	}
	obs := witness.Observation{Polecat: pc, Pod: pod, Now: time.Now()}
	if witness.Running(pc, pod) {
		obs.LastOutput = r.lastOutput(ctx, pc, pod)
	}
	f := policy.Check(obs)
	if f == nil {
		return nil, nil
	}
	switch f.Action {
	case witness.Restart:
		err = r.restart(ctx, pc, pod, f, policy.MaxRestarts)
	case witness.Escalate:
		if !alreadyEscalated(previous, f) {
			err = r.escalate(ctx, w, pc, f)
		}
	}
	since := metav1.NewTime(f.Since)
	return &gastownv1.WitnessFinding{Polecat: pc.Name, Reason: f.Reason, Message: f.Message,
		Action: f.Action.Done(), Since: &since}, err
}

// podOf returns the polecat's pod, or nil when it has none (a local run,
// or between pods).
func (r *WitnessReconciler) podOf(ctx context.Context, pc *gastownv1.Polecat) (*corev1.Pod, error) {
	if pc.Spec.ExecutionMode == gastownv1.ExecutionModeLocal {
		return nil, nil
	}
	name := pc.Status.PodName
	if name == "" {
		name = pc.PodName()
	}
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: pc.Namespace, Name: name}, pod); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(pod, pc) {
		return nil, nil // not the polecat's; the Polecat controller says so
	}
	return pod, nil
}

// lastOutput is when the polecat last wrote output. A log that cannot be
// read counts as fresh output: restarting a working agent because its
// kubelet is unreachable would do more harm than missing a stuck one.
func (r *WitnessReconciler) lastOutput(ctx context.Context, pc *gastownv1.Polecat, pod *corev1.Pod) time.Time {
	t, err := r.Activity.LastOutput(ctx, pc, pod)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("cannot read the polecat's output; not judging it stuck", "polecat", pc.Name, "error", err.Error())
		return time.Now()
	}
	return t
}

// restart counts the restart on the polecat, then deletes its pod; the
// Polecat controller creates the next one and counts status.attempts.
// Counting first, with the pod's UID and an optimistic lock, means a
// restart is never counted twice nor done uncounted: a failed delete is
// retried through AlreadyRestarted.
func (r *WitnessReconciler) restart(ctx context.Context, pc *gastownv1.Polecat, pod *corev1.Pod, f *witness.Finding, maxRestarts int32) error {
	n := witness.Restarts(pc) + 1
	// pc is the cache's: the count goes on a copy.
	counted := pc.DeepCopy()
	if counted.Annotations == nil {
		counted.Annotations = map[string]string{}
	}
	counted.Annotations[witness.RestartsAnnotation] = strconv.Itoa(int(n))
	counted.Annotations[witness.RestartedPodAnnotation] = string(pod.UID)
	if err := r.Patch(ctx, counted, client.MergeFromWithOptions(pc, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner)); err != nil {
		return fmt.Errorf("counting the restart: %w", err)
	}
	if err := r.deletePod(ctx, pod); err != nil {
		return err
	}
	r.EventRecorder.Eventf(pc, corev1.EventTypeNormal, RestartedReason, "deleted pod %s (restart %d of %d): %s",
		pod.Name, n, maxRestarts, f.Message)
	return nil
}

// deletePod deletes exactly this pod, not a successor under the same name.
func (r *WitnessReconciler) deletePod(ctx context.Context, pod *corev1.Pod) error {
	err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
	return nil
}

// escalate tells people about the polecat through Warning events on it and
// on its bead; through the Flux recorder they reach notification-controller
// too, with the escalation target for Alerts to route on.
func (r *WitnessReconciler) escalate(ctx context.Context, w *gastownv1.Witness, pc *gastownv1.Polecat, f *witness.Finding) error {
	target := map[string]string{EscalationTargetAnnotation: w.Spec.EscalationTarget}
	r.EventRecorder.AnnotatedEventf(pc, target, corev1.EventTypeWarning, EscalatedReason, "%s: %s", f.Reason, f.Message)
	if pc.Spec.BeadID == "" {
		return nil
	}
	bead := &gastownv1.Bead{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: pc.Namespace, Name: pc.Spec.BeadID}, bead); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.EventRecorder.AnnotatedEventf(bead, target, corev1.EventTypeWarning, EscalatedReason, "polecat %s: %s: %s", pc.Name, f.Reason, f.Message)
	return nil
}

// alreadyEscalated says whether the last check escalated the same problem,
// so that a problem that lasts is escalated once, not every interval.
func alreadyEscalated(previous *gastownv1.WitnessFinding, f *witness.Finding) bool {
	return previous != nil && previous.Action == witness.Escalate.Done() && previous.Reason == f.Reason
}

func findingsByPolecat(findings []gastownv1.WitnessFinding) map[string]*gastownv1.WitnessFinding {
	m := make(map[string]*gastownv1.WitnessFinding, len(findings))
	for i := range findings {
		m[findings[i].Polecat] = &findings[i]
	}
	return m
}

// addToSummary counts a polecat whose pod runs.
func addToSummary(s *gastownv1.PolecatsSummary, pc *gastownv1.Polecat) {
	if pc.Status.Phase == gastownv1.PolecatPhaseWorking {
		s.Running++
	}
}

func escalatedFindings(findings []gastownv1.WitnessFinding) []gastownv1.WitnessFinding {
	var out []gastownv1.WitnessFinding
	for _, f := range findings {
		if f.Action == witness.Escalate.Done() {
			out = append(out, f)
		}
	}
	return out
}

// escalationSummary is the Ready message of outstanding escalations.
func escalationSummary(escalated []gastownv1.WitnessFinding) string {
	parts := make([]string, 0, len(escalated))
	for _, f := range escalated {
		parts = append(parts, fmt.Sprintf("polecat %s: %s", f.Polecat, f.Message))
	}
	return fmt.Sprintf("%d escalated: %s", len(escalated), strings.Join(parts, "; "))
}

// SetupWithManager registers the reconciler: it wakes on its own spec
// changes, on changes of its rig's polecats, and every health check
// interval.
func (r *WitnessReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.Activity == nil {
		if r.Clientset == nil {
			cs, err := kubernetes.NewForConfig(mgr.GetConfig())
			if err != nil {
				return err
			}
			r.Clientset = cs
		}
		r.Activity = witness.Logs{Clientset: r.Clientset}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&gastownv1.Witness{}, builder.WithPredicates(primaryPredicate())).
		// A burst of polecats starting or finishing is one check.
		Watches(&gastownv1.Polecat{}, coalescedRequests(summaryDelay, r.witnessesOfPolecat),
			builder.WithPredicates(polecatPhaseChanged{})).
		WithOptions(opts).
		Complete(r)
}

// witnessesOfPolecat maps a polecat to its rig's Witness.
func (r *WitnessReconciler) witnessesOfPolecat(ctx context.Context, o client.Object) []reconcile.Request {
	pc, ok := o.(*gastownv1.Polecat)
	if !ok {
		return nil
	}
	list := &gastownv1.WitnessList{}
	if err := r.List(ctx, list, client.InNamespace(pc.Namespace), client.MatchingFields{witnessRigIndex: pc.Spec.Rig}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// polecatPhaseChanged passes polecats that come, go or change phase: every
// check reads the logs of all running polecats of the rig, so status churn
// and the Witness's own annotations should not trigger one.
type polecatPhaseChanged struct{ predicate.Funcs }

func (polecatPhaseChanged) Update(e event.UpdateEvent) bool {
	oldPC, ok1 := e.ObjectOld.(*gastownv1.Polecat)
	newPC, ok2 := e.ObjectNew.(*gastownv1.Polecat)
	return ok1 && ok2 && oldPC.Status.Phase != newPC.Status.Phase
}
