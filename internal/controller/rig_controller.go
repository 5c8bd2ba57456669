package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kuberecorder "k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
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
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/redact"
)

// RigReconciler resolves a rig's source, creates its BeadStore, Witness and
// Refinery when absent, and dispatches its ready beads to polecats.
type RigReconciler struct {
	client.Client
	// APIReader counts, uncached, the polecats of a rig about to get new
	// ones when Created says the cache may miss some: the rig's
	// maxPolecats must hold. Other decisions use the cache alone.
	APIReader client.Reader
	// Created is the polecats this manager created, shared with the
	// Refinery; nil trusts no cache and counts every creating pass from
	// the API server.
	Created       *CreatedPolecats
	EventRecorder kuberecorder.EventRecorder
	// NoCrossNamespaceRefs refuses sources outside the workers namespace.
	NoCrossNamespaceRefs bool
	// RetryBackoff is the wait before the first retry of a failed polecat;
	// it doubles per retry up to MaxRetryBackoff.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=rigs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=rigs/status,verbs=patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=rigs/finalizers;beads/finalizers,verbs=update
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beadstores;witnesses;refineries;polecats,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=mergerequests,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Reconcile resolves the rig and dispatches its ready beads.
func (r *RigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ctx = withReconcileStart(ctx)
	rig := &gastownv1.Rig{}
	if err := r.Get(ctx, req.NamespacedName, rig); err != nil {
		if apierrors.IsNotFound(err) {
			r.Created.Forget(req.Name)
		}
		return ctrl.Result{}, ignoreGone(err, rig, req)
	}
	patcher := newObjectPatcher(rig, r.Client)
	before := readyOf(rig)
	var ok *success
	defer func() {
		derivePhase := func() { rig.Status.Phase = rigPhase(rig) }
		if err := patchStatus(ctx, patcher, rig, []string{gastownv1.SourceReadyCondition}, ok, derivePhase); err != nil {
			retErr = errors.Join(retErr, err)
		}
		eventOnChange(r.EventRecorder, rig, &before)
	}()

	markReconcilingNewGeneration(rig)
	recordedURL, recordedBranch := rig.Status.GitURL, rig.Status.BaseBranch
	if err := r.resolveSource(ctx, rig); err != nil {
		return ctrl.Result{}, err
	}
	ns := rig.WorkersNamespace()
	if err := r.Get(ctx, types.NamespacedName{Name: ns}, &corev1.Namespace{}); err != nil {
		if apierrors.IsNotFound(err) {
			conditions.MarkFalse(rig, meta.ReadyCondition, gastownv1.NamespaceNotFoundReason,
				"workers namespace %q does not exist: create it (kubectl create namespace %s)", ns, ns)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if err := r.ensureChildren(ctx, rig); err != nil {
		return ctrl.Result{}, err
	}
	if rig.Spec.Suspend {
		// No dispatch, and none of its reading: the BeadStore (made above
		// for a new rig) still syncs the beads, the Refinery still merges.
		ok = suspended("dispatch is suspended")
		return ctrl.Result{}, nil
	}
	if !conditions.IsTrue(rig, gastownv1.SourceReadyCondition) {
		// No new polecats from a source that is gone or not fetched yet:
		// Ready says why (SourceReady), and the source's return wakes the
		// rig. Running polecats go on with the git URL recorded before.
		return ctrl.Result{}, nil
	}
	if rig.Status.GitURL != recordedURL || rig.Status.BaseBranch != recordedBranch {
		// A polecat reads the git URL and base branch from the rig's
		// status: it is made once this pass has written them, not before.
		return requeueAfter(time.Second), nil
	}
	plan, err := r.dispatch(ctx, rig)
	if err != nil {
		// Ready says why no polecat starts; the error retries with backoff.
		conditions.MarkFalse(rig, meta.ReadyCondition, gastownv1.DispatchFailedReason, "dispatch failed: %s", err)
		return ctrl.Result{}, err
	}
	ok = &success{meta.ReconciliationSucceededReason,
		fmt.Sprintf("%d polecats running, %d beads ready", rig.Status.PolecatCount, rig.Status.ReadyBeads)}
	if !plan.RetryAt.IsZero() {
		if wait := time.Until(plan.RetryAt); wait < rig.GetRequeueAfter() {
			return requeueAfter(max(wait, time.Second)), nil
		}
	}
	return requeuePoll(rig.GetRequeueAfter()), nil
}

func rigPhase(rig *gastownv1.Rig) string {
	switch {
	case rig.Spec.Suspend:
		return gastownv1.RigPhaseSuspended
	case conditions.IsReady(rig):
		return gastownv1.RigPhaseReady
	case conditions.Has(rig, meta.ReadyCondition):
		return gastownv1.RigPhaseDegraded
	default:
		return gastownv1.RigPhaseInitializing
	}
}

// resolveSource records the git URL, base branch and revision of the rig's
// source. A rig without a source uses its spec alone. A source that cannot
// be read (gone, refused, a failed GET) leaves the URL and branch recorded
// before: the polecats that run were made with them.
//
// A git URL with credentials in it (spec.gitURL, or the source's spec.url
// that the rig would copy) is never recorded: the rig is Stalled with
// reason InvalidSpec and a message naming the field, without the
// credentials, until the URL changes.
func (r *RigReconciler) resolveSource(ctx context.Context, rig *gastownv1.Rig) error {
	conditions.Delete(rig, meta.StalledCondition)
	if redact.URLHasCredentials(rig.Spec.GitURL) {
		rig.Status.GitURL = ""
		return stallCredentialsInURL(rig, "spec.gitURL", rig.Spec.GitURL)
	}
	// The rig's own URL and branch win over its source's, and need none.
	if rig.Spec.GitURL != "" {
		rig.Status.GitURL = rig.Spec.GitURL
	}
	if rig.Spec.Git.BaseBranch != "" {
		rig.Status.BaseBranch = rig.Spec.Git.BaseBranch
	}
	defer func() {
		if rig.Status.BaseBranch == "" {
			rig.Status.BaseBranch = gastownv1.DefaultBaseBranch
		}
	}()
	ref := rig.Spec.SourceRef
	if ref == nil {
		rig.Status.GitURL = rig.Spec.GitURL
		conditions.MarkTrue(rig, gastownv1.SourceReadyCondition, "NoSource", "no source: the rig runs polecats created by hand")
		return nil
	}
	if r.NoCrossNamespaceRefs && ref.Namespace != rig.WorkersNamespace() {
		conditions.MarkFalse(rig, gastownv1.SourceReadyCondition, gastownv1.CrossNamespaceRefReason,
			"source %s/%s is outside the workers namespace %s and the operator runs with --no-cross-namespace-refs",
			ref.Namespace, ref.Name, rig.WorkersNamespace())
		return nil
	}
	src := &sourcev1.GitRepository{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			conditions.MarkFalse(rig, gastownv1.SourceReadyCondition, gastownv1.SourceNotFoundReason,
				"GitRepository %s/%s not found", ref.Namespace, ref.Name)
			return nil
		}
		return err
	}
	if rig.Spec.GitURL == "" {
		if redact.URLHasCredentials(src.Spec.URL) {
			rig.Status.GitURL = ""
			return stallCredentialsInURL(rig, fmt.Sprintf("GitRepository %s/%s spec.url", ref.Namespace, ref.Name), src.Spec.URL)
		}
		rig.Status.GitURL = src.Spec.URL
	}
	if rig.Spec.Git.BaseBranch == "" {
		rig.Status.BaseBranch = ""
		if src.Spec.Reference != nil {
			rig.Status.BaseBranch = src.Spec.Reference.Branch
		}
	}
	artifact := src.GetArtifact()
	if artifact == nil {
		conditions.MarkFalse(rig, gastownv1.SourceReadyCondition, gastownv1.ArtifactNotReadyReason,
			"GitRepository %s/%s has no artifact yet", ref.Namespace, ref.Name)
		return nil
	}
	// Not its revision: the BeadStore records the one it synced, and a
	// revision of its own would be one more write per fetch.
	conditions.MarkTrue(rig, gastownv1.SourceReadyCondition, meta.SucceededReason, "GitRepository %s/%s has an artifact", ref.Namespace, ref.Name)
	return nil
}

// stallCredentialsInURL marks the rig Stalled for a git URL with
// credentials in field, and ends the reconcile: only a change of the URL
// (a watched generation change) can fix it.
func stallCredentialsInURL(rig *gastownv1.Rig, field, url string) error {
	err := polecat.CredentialsInURLError(field, url)
	conditions.Delete(rig, meta.ReconcilingCondition)
	conditions.MarkStalled(rig, gastownv1.InvalidSpecReason, "%s", err)
	conditions.MarkFalse(rig, gastownv1.SourceReadyCondition, gastownv1.InvalidSpecReason, "%s", err)
	return reconcile.TerminalError(err)
}

// rigChild is a per-rig object the rig creates when absent.
type rigChild struct {
	list  client.ObjectList
	index string
	obj   client.Object
}

// ensureChildren creates the rig's BeadStore, Witness and Refinery when the
// workers namespace has none for the rig. Existing ones are the user's to
// edit and are never overwritten.
func (r *RigReconciler) ensureChildren(ctx context.Context, rig *gastownv1.Rig) error {
	ns := rig.WorkersNamespace()
	children := []rigChild{
		{&gastownv1.WitnessList{}, witnessRigIndex, &gastownv1.Witness{Spec: gastownv1.WitnessSpec{RigRef: rig.Name}}},
		{&gastownv1.RefineryList{}, refineryRigIndex, &gastownv1.Refinery{Spec: gastownv1.RefinerySpec{RigRef: rig.Name}}},
	}
	if rig.Spec.SourceRef != nil {
		store := &gastownv1.BeadStore{Spec: gastownv1.BeadStoreSpec{RigRef: rig.Name}}
		if rig.Spec.BeadsPrefix != "" {
			store.Spec.Prefix = rig.Spec.BeadsPrefix + "-"
		}
		children = append(children, rigChild{&gastownv1.BeadStoreList{}, beadStoreRigIndex, store})
	}
	for _, c := range children {
		if err := r.List(ctx, c.list, client.InNamespace(ns), client.MatchingFields{c.index: rig.Name}); err != nil {
			return err
		}
		if apimeta.LenList(c.list) > 0 {
			continue
		}
		c.obj.SetName(rig.Name)
		c.obj.SetNamespace(ns)
		c.obj.SetLabels(map[string]string{gastownv1.RigLabel: rig.Name, gastownv1.ManagedByLabel: gastownv1.ManagedByValue})
		c.obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(rig, gastownv1.GroupVersion.WithKind(gastownv1.RigKind))})
		if err := r.Create(ctx, c.obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the rig's %T in %s: %w", c.obj, ns, err)
		}
		kind := strings.TrimPrefix(fmt.Sprintf("%T", c.obj), "*v1alpha1.")
		r.EventRecorder.Eventf(rig, corev1.EventTypeNormal, "Created", "created %s %s/%s", kind, ns, rig.Name)
	}
	return nil
}

// dispatch creates a polecat for every ready bead within the rig's limits.
func (r *RigReconciler) dispatch(ctx context.Context, rig *gastownv1.Rig) (dispatch.Plan, error) {
	ns := rig.WorkersNamespace()
	beads := &gastownv1.BeadList{}
	if err := r.List(ctx, beads, client.InNamespace(ns), client.MatchingFields{beadRigIndex: rig.Name}, readOnly); err != nil {
		return dispatch.Plan{}, err
	}
	convoys := &gastownv1.ConvoyList{}
	if err := r.List(ctx, convoys, client.InNamespace(ns), client.MatchingFields{convoyRigIndex: rig.Name}, readOnly); err != nil {
		return dispatch.Plan{}, err
	}
	polecats := &gastownv1.PolecatList{}
	if err := r.List(ctx, polecats, client.InNamespace(ns), client.MatchingFields{polecatRigIndex: rig.Name}, readOnly); err != nil {
		return dispatch.Plan{}, err
	}
	mergeRequests := &gastownv1.MergeRequestList{}
	if err := r.List(ctx, mergeRequests, client.InNamespace(ns), client.MatchingFields{mergeRequestRigIndex: rig.Name}, readOnly); err != nil {
		return dispatch.Plan{}, err
	}
	limits := r.limits(rig)
	// Other rigs may share the workers namespace: their polecats' and
	// beads' names are held too.
	limits.PolecatExists = r.existsIn(ctx, ns, &gastownv1.Polecat{})
	limits.BeadExists = r.existsIn(ctx, ns, &gastownv1.Bead{})
	stores := &gastownv1.BeadStoreList{}
	if err := r.List(ctx, stores, client.InNamespace(ns), client.MatchingFields{beadStoreRigIndex: rig.Name}); err != nil {
		return dispatch.Plan{}, err
	}
	if len(stores.Items) > 0 {
		limits.WorkTypes = stores.Items[0].DispatchedTypes()
	}
	plan := dispatch.Decide(limits, beads.Items, polecats.Items, mergeRequests.Items, convoys.Items, time.Now())
	if len(plan.Create) > 0 {
		// Count again, and create, with the rig's creates held: from the
		// cache when it shows every polecat this manager made, else from
		// the API server. Deterministic names already rule out a twin;
		// this keeps the limits.
		unlock := r.Created.Lock(rig.Name)
		defer unlock()
		live, err := r.Created.Live(ctx, r.Client, r.APIReader, rig.Name, ns)
		if err != nil {
			return dispatch.Plan{}, err
		}
		plan = dispatch.Decide(limits, beads.Items, live, mergeRequests.Items, convoys.Items, time.Now())
	}

	// Copies of the beads to dispatch only: the list of every bead of the
	// rig is let go before the polecats are created.
	byName := make(map[string]*gastownv1.Bead, len(plan.Create))
	for _, d := range plan.Create {
		byName[d.Bead] = nil
	}
	for i := range beads.Items {
		if _, ok := byName[beads.Items[i].Name]; ok {
			bead := beads.Items[i]
			byName[bead.Name] = &bead
		}
	}
	var started []string
	for _, d := range plan.Create {
		made, err := r.createPolecat(ctx, rig, byName[d.Bead], d)
		if err != nil {
			return plan, err
		}
		if made {
			started = append(started, d.Polecat)
		}
	}
	created := len(plan.Create)
	if created > 0 {
		now := metav1.Now()
		rig.Status.LastDispatchTime = &now
	}
	if len(started) > 0 {
		// One event per pass, not one per bead: each bead's own phase
		// event (Working) names its polecat.
		r.EventRecorder.Eventf(rig, corev1.EventTypeNormal, "Dispatched", "started %d polecats: %s", len(started), listOf(started, 10))
	}
	rig.Status.PolecatCount = int32(plan.Running + created)
	rig.Status.ReadyBeads = int32(plan.Ready - created)
	return plan, nil
}

func (r *RigReconciler) limits(rig *gastownv1.Rig) dispatch.Rig {
	policy := beads.PolicyOf(rig)
	return dispatch.Rig{
		MaxPolecats:  rig.MaxPolecats(),
		MaxRetries:   rig.MaxRetries(),
		RetryBackoff: r.RetryBackoff,
		MaxBackoff:   r.MaxRetryBackoff,
		Policy:       &policy,
	}
}

// existsIn says, from the cache, whether an object of obj's kind holds a
// name in namespace ns.
func (r *RigReconciler) existsIn(ctx context.Context, ns string, obj client.Object) func(string) bool {
	return func(name string) bool {
		return r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj) == nil
	}
}

// createPolecat creates the decided polecat, owned by its bead; its
// annotations are the dispatch record the Bead controller reads. A polecat
// that already exists under the decided name is adopted when it is a run
// of the bead (an earlier reconcile's, not yet in the cache); anyone
// else's is an error, and the next decision, once the cache shows it,
// passes its name by.
func (r *RigReconciler) createPolecat(ctx context.Context, rig *gastownv1.Rig, bead *gastownv1.Bead, d dispatch.Decision) (bool, error) {
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Polecat,
			// The Polecat controller's finalizer from the start: one write
			// fewer than adding it on the first reconcile.
			Finalizers: []string{gastownv1.GastownFinalizer},
			Namespace:  bead.Namespace,
			Labels: map[string]string{
				gastownv1.RigLabel:       rig.Name,
				gastownv1.BeadLabel:      bead.BeadID(),
				gastownv1.PolecatLabel:   d.Polecat,
				gastownv1.ManagedByLabel: gastownv1.ManagedByValue,
			},
			Annotations: map[string]string{
				dispatch.SpecHashAnnotation: d.SpecHash,
				dispatch.RetryAnnotation:    d.Retry,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(bead, gastownv1.GroupVersion.WithKind(gastownv1.BeadKind))},
		},
		Spec: gastownv1.PolecatSpec{
			Rig: rig.Name,
			// The Bead object's name; the bead ID is its spec.id and the
			// polecat's bead label.
			BeadID:        bead.Name,
			DesiredState:  gastownv1.DesiredWorking,
			ExecutionMode: rig.Spec.Settings.ExecutionMode,
			Purpose:       gastownv1.PurposeWork,
		},
	}
	if since := bead.Status.ReadySince; since != nil {
		pc.Annotations[dispatch.ReadySinceAnnotation] = since.UTC().Format(time.RFC3339)
	}
	err := r.Create(ctx, pc)
	if apierrors.IsAlreadyExists(err) {
		holder := &gastownv1.Polecat{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pc), holder); err != nil {
			return false, fmt.Errorf("reading polecat %s, which exists, for bead %s: %w", d.Polecat, bead.Name, err)
		}
		if !metav1.IsControlledBy(holder, bead) || !dispatch.IsDispatched(holder) {
			return false, fmt.Errorf("polecat %s, bead %s's next run, is taken by bead %s of rig %s: the next pass names another",
				d.Polecat, bead.Name, holder.Spec.BeadID, holder.Spec.Rig)
		}
	} else if err != nil {
		return false, fmt.Errorf("creating polecat %s for bead %s: %w", d.Polecat, bead.Name, err)
	}
	r.Created.Add(rig.Name, d.Polecat)
	return err == nil, nil
}

// listOf joins names, the first max of them and how many more.
func listOf(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// SetupWithManager registers the reconciler with its watches.
func (r *RigReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&gastownv1.Rig{}, builder.WithPredicates(primaryPredicate())).
		// The rig makes its children when they are missing and leaves
		// them to their own controllers (and users) after: their status is
		// nothing to it; their deletion is, and the BeadStore's spec (the
		// types it dispatches).
		Owns(&gastownv1.BeadStore{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&gastownv1.Witness{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&gastownv1.Refinery{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.rigsForSource),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, sourceRevisionChanged{}))).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.rigsForNamespace),
			builder.WithPredicates(createOrDelete())).
		// What dispatch reads of beads, polecats and convoys is their spec
		// and phase; a burst of changes (a new revision's beads, polecats
		// finishing) is one reconcile.
		Watches(&gastownv1.Bead{}, r.coalesced(func(o client.Object) string { return o.(*gastownv1.Bead).Spec.RigRef }),
			builder.WithPredicates(phaseChanged(beadPhase))).
		Watches(&gastownv1.Polecat{}, r.coalesced(func(o client.Object) string { return o.(*gastownv1.Polecat).Spec.Rig }),
			builder.WithPredicates(phaseChanged(polecatPhase))).
		Watches(&gastownv1.Convoy{}, r.coalesced(func(o client.Object) string { return o.(*gastownv1.Convoy).Spec.RigRef }),
			builder.WithPredicates(phaseChanged(func(o client.Object) string { return string(o.(*gastownv1.Convoy).Status.Phase) }))).
		WithOptions(opts).
		Complete(r)
}

// dispatchDelay is how long a rig waits after a bead, polecat or convoy
// event before it dispatches: the events of the wait are one reconcile.
const dispatchDelay = 500 * time.Millisecond

// summaryDelay is how long the Witness waits after a polecat event: its
// status sums up many polecats, and a dispatch of hundreds is a few writes
// of it, not one a second.
const summaryDelay = 3 * time.Second

// coalesced enqueues the rig an object names, dispatchDelay after the
// event. A suspended rig dispatches nothing and is not woken: its resume
// is a spec change, and its pass then reads everything.
func (r *RigReconciler) coalesced(rigName func(client.Object) string) handler.EventHandler {
	return coalescedRequests(dispatchDelay, func(ctx context.Context, o client.Object) []reconcile.Request {
		n := rigName(o)
		if n == "" {
			return nil
		}
		rig := &gastownv1.Rig{}
		if err := r.Get(ctx, types.NamespacedName{Name: n}, rig, client.UnsafeDisableDeepCopy); err == nil && rig.Spec.Suspend {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: n}}}
	})
}

// coalescedRequests enqueues the requests of an event delay after it; the
// queue keeps one entry per object, so a burst of events is one reconcile.
func coalescedRequests(delay time.Duration, requests handler.MapFunc) handler.EventHandler {
	add := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range requests(ctx, o) {
			q.AddAfter(req, delay)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
	}
}

// phaseChanged passes creations, deletions, spec changes and changes of
// the phase.
func phaseChanged(phase func(client.Object) string) predicate.Predicate {
	return predicate.Or(predicate.GenerationChangedPredicate{}, predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool { return phase(e.ObjectOld) != phase(e.ObjectNew) },
	})
}

// beadPhase is a bead's phase, for phaseChanged.
func beadPhase(o client.Object) string { return string(o.(*gastownv1.Bead).Status.Phase) }

// polecatPhase is a polecat's phase, for phaseChanged.
func polecatPhase(o client.Object) string { return string(o.(*gastownv1.Polecat).Status.Phase) }

// createOrDelete passes creations and deletions only.
func createOrDelete() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(event.UpdateEvent) bool { return false }}
}

func (r *RigReconciler) rigsForSource(ctx context.Context, o client.Object) []reconcile.Request {
	return requestsByIndex(ctx, r.Client, &gastownv1.RigList{}, "", rigSourceIndex, o.GetNamespace()+"/"+o.GetName())
}

func (r *RigReconciler) rigsForNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	rigs := &gastownv1.RigList{}
	if err := r.List(ctx, rigs); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range rigs.Items {
		if rigs.Items[i].WorkersNamespace() == o.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: rigs.Items[i].Name}})
		}
	}
	return reqs
}
