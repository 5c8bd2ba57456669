package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	corev1 "k8s.io/api/core/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/source"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	"github.com/boshu2/gastown-operator/internal/gitops"
	"github.com/boshu2/gastown-operator/internal/refinery"
	"github.com/boshu2/gastown-operator/internal/witness"
)

// DefaultGitHubTokenSecret is the secret a Refinery reads its token from
// when spec.github.tokenSecretRef is empty.
const DefaultGitHubTokenSecret = "github-token"

// RefineryReconciler takes the pushed branches of a rig's beads to merged
// pull requests (or, with the git provider, straight into the target).
type RefineryReconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
	// APIReader reads what the cache does not have, or may not have yet:
	// a bead's text for its pull request's body, and the rig's polecats
	// before a follow-up polecat is created when the cache does not show
	// all those Created holds, so that maxPolecats holds.
	APIReader client.Reader
	// Created is the polecats this manager created, shared with the Rig.
	Created *CreatedPolecats
	// GitHubRetry tunes the provider's retries of server errors.
	GitHubRetry refinery.RetryOptions
	// Wake, when set, is where the webhook receiver (--webhook-addr) asks
	// for a Refinery's reconcile; Refineries with a webhook then poll
	// WebhookPollFactor times slower.
	Wake chan event.GenericEvent

	mu        sync.Mutex
	providers map[types.NamespacedName]cachedProvider
	// lanes let one merge at a time into each repository's target branch,
	// across Refineries; laneFree wakes those that found a lane taken.
	lanes    refinery.Lanes[types.NamespacedName]
	laneFree chan event.GenericEvent
	// mrWrites holds back a pass that would read a merge request from
	// before its own last write of it: a delivery that wakes the
	// Refinery right after a merge would otherwise find the pull request
	// open in the cache and record the merge (and delete the branch)
	// again.
	mrWrites ownWrites
}

// cachedProvider keeps a provider across reconciles: its ETag cache is what
// makes polling cheap, and what it remembers between webhook deliveries
// what makes webhooks cheaper still.
type cachedProvider struct {
	key      string
	repo     string // the API and repository, as a merge lane names them
	provider *refinery.Vouched
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=refineries,verbs=get;list;watch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=refineries/status,verbs=patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=mergerequests,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=mergerequests/status,verbs=patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=polecats,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// setupError is a problem with the refinery's settings or secrets.
type setupError struct {
	reason string
	err    error
}

func (e *setupError) Error() string { return e.err.Error() }

// mergeabilityPoll is how soon a pull request whose mergeability GitHub
// is computing is read again.
const mergeabilityPoll = 2 * time.Second

// mergeStep is the outcome of one queue pass.
type mergeStep struct {
	requeue time.Duration
}

// Reconcile advances the rig's merge queue by one step per bead and merges
// at most one bead per target branch.
func (r *RefineryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ctx = withReconcileStart(ctx)
	ref := &gastownv1.Refinery{}
	if err := r.Get(ctx, req.NamespacedName, ref); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.providers, req.NamespacedName)
			r.mu.Unlock()
		}
		return ctrl.Result{}, ignoreGone(err, ref, req)
	}
	patcher := newObjectPatcher(ref, r.Client)
	before := readyOf(ref)
	var ok *success
	defer func() {
		derivePhase := func() { ref.Status.Phase = refineryPhase(ref) }
		if err := patchStatus(ctx, patcher, ref, nil, ok, derivePhase); err != nil {
			retErr = errors.Join(retErr, err)
		}
		eventOnChange(r.EventRecorder, ref, &before)
	}()
	markReconcilingNewGeneration(ref)
	if ref.Spec.Suspend {
		ok = suspended("the refinery is suspended")
		return ctrl.Result{}, nil
	}
	rig := &gastownv1.Rig{}
	if err := r.Get(ctx, types.NamespacedName{Name: ref.Spec.RigRef}, rig); err != nil {
		if apierrors.IsNotFound(err) {
			conditions.MarkFalse(ref, meta.ReadyCondition, gastownv1.RigNotFoundReason, "rig %q not found", ref.Spec.RigRef)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	queue, err := r.queue(ctx, ref)
	if err != nil {
		return ctrl.Result{}, err
	}
	conditions.Delete(ref, meta.StalledCondition)

	var step mergeStep
	if ref.Spec.Provider == gastownv1.ProviderGit {
		step, err = r.mergeWithGit(ctx, ref, rig, queue)
	} else {
		step, err = r.mergeWithGitHub(ctx, ref, rig, queue)
	}
	var limited *refinery.RateLimitedError
	var setup *setupError
	switch {
	case errors.As(err, &limited):
		conditions.MarkFalse(ref, meta.ReadyCondition, gastownv1.RateLimitedReason, "%s", err)
		return requeueAfter(limited.RetryAfter + time.Second), nil
	case errors.As(err, &setup):
		// A secret or setting the user must fix; the poll retries it.
		conditions.MarkFalse(ref, meta.ReadyCondition, setup.reason, "%s", setup.err)
		return requeuePoll(ref.GetRequeueAfter()), nil
	case err != nil:
		// The forge failed after the provider's retries: say so, and retry
		// with the work queue's backoff.
		conditions.MarkFalse(ref, meta.ReadyCondition, gastownv1.ProviderErrorReason, "%s", err)
		return ctrl.Result{}, err
	}
	ok = &success{meta.ReconciliationSucceededReason,
		fmt.Sprintf("%d in queue, %d merged", ref.Status.QueueLength, ref.Status.MergesSummary.Succeeded)}
	if step.requeue > 0 {
		return requeueAfter(step.requeue), nil
	}
	if ref.Status.QueueLength > 0 {
		return requeuePoll(r.pollInterval(ref)), nil
	}
	return ctrl.Result{}, nil
}

// pollInterval is how often a queue with pull requests is polled: the
// spec's pollInterval, or a slow fallback when webhooks wake the Refinery.
func (r *RefineryReconciler) pollInterval(ref *gastownv1.Refinery) time.Duration {
	if r.webhooks(ref) {
		return gastownv1.WebhookPollFactor * ref.GetRequeueAfter()
	}
	return ref.GetRequeueAfter()
}

// webhooks says whether the repository's deliveries reach the Refinery.
func (r *RefineryReconciler) webhooks(ref *gastownv1.Refinery) bool {
	return r.Wake != nil && ref.Spec.GitHub != nil && ref.Spec.GitHub.WebhookSecretRef != nil
}

// Observe takes a verified webhook delivery for a Refinery: its provider
// forgets what the delivery says changed. The caller then wakes it.
func (r *RefineryReconciler) Observe(key types.NamespacedName, hook *refinery.Webhook) {
	r.mu.Lock()
	c, ok := r.providers[key]
	r.mu.Unlock()
	if ok {
		c.provider.Observe(hook)
	}
}

func refineryPhase(ref *gastownv1.Refinery) string {
	switch {
	case conditions.IsFalse(ref, meta.ReadyCondition) && !conditions.HasAnyReason(ref, meta.ReadyCondition, meta.SuspendedReason, gastownv1.RateLimitedReason):
		return gastownv1.RefineryPhaseError
	case ref.Status.QueueLength > 0:
		return gastownv1.RefineryPhaseProcessing
	default:
		return gastownv1.RefineryPhaseIdle
	}
}

// queue returns the rig's beads with pushed work that is not merged yet,
// highest priority first, then oldest, and records the merge summary.
func (r *RefineryReconciler) queue(ctx context.Context, ref *gastownv1.Refinery) ([]*gastownv1.Bead, error) {
	// The beads it counts only, not the rig's thousands.
	beads := &gastownv1.BeadList{}
	if err := r.List(ctx, beads, client.InNamespace(ref.Namespace), client.MatchingFields{beadReviewIndex: ref.Spec.RigRef}, readOnly); err != nil {
		return nil, err
	}
	var queue []*gastownv1.Bead
	var merged, failed int32
	for i := range beads.Items {
		b := &beads.Items[i]
		pr := b.Status.PullRequest
		switch {
		case pr != nil && pr.State == gastownv1.PullRequestMerged:
			merged++
		case b.Status.Phase == gastownv1.BeadPhaseFailed && pr != nil && pr.State == gastownv1.PullRequestOpen && pr.Failure != "":
			// Given up on a conflict: resolved on the branch by hand, it
			// still merges.
			queue = append(queue, b)
		case b.Status.Phase == gastownv1.BeadPhaseFailed && pr != nil, b.Status.Phase == gastownv1.BeadPhaseRejected:
			failed++
		case b.Status.Phase == gastownv1.BeadPhaseInReview:
			queue = append(queue, b)
		}
	}
	sort.SliceStable(queue, func(i, j int) bool {
		a, b := queue[i], queue[j]
		if pa, pb := a.Spec.PriorityValue(), b.Spec.PriorityValue(); pa != pb {
			return pa < pb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	ref.Status.QueueLength = int32(len(queue))
	ref.Status.MergesSummary = gastownv1.MergesSummary{
		Total: merged + failed + int32(len(queue)), Succeeded: merged, Failed: failed, Pending: int32(len(queue)),
	}
	return queue, nil
}

// targetBranch is where the rig's work merges.
func targetBranch(ref *gastownv1.Refinery, rig *gastownv1.Rig) string {
	switch {
	case ref.Spec.TargetBranch != "":
		return ref.Spec.TargetBranch
	case rig.Status.BaseBranch != "":
		return rig.Status.BaseBranch
	default:
		return gastownv1.DefaultBaseBranch
	}
}

// mergeWithGitHub advances each queued bead's pull request and merges the
// first one whose gate passed. A bead whose pull request the forge fails
// on (after the provider's retries) says so in its queue entry and stops
// no other: the pass goes on, and its error, returned at the end, retries
// the Refinery with backoff. A rate limit or a setup error stops the pass:
// every bead would meet it.
func (r *RefineryReconciler) mergeWithGitHub(ctx context.Context, ref *gastownv1.Refinery, rig *gastownv1.Rig, queue []*gastownv1.Bead) (mergeStep, error) {
	if len(queue) == 0 {
		ref.Status.Queue, ref.Status.CurrentMerge = nil, ""
		return mergeStep{}, nil
	}
	provider, repo, err := r.github(ctx, ref, rig)
	if err != nil {
		return mergeStep{}, &setupError{gastownv1.ProviderErrorReason, err}
	}
	// Between deliveries, what the provider read stays good for half the
	// fallback poll: each poll reads everything again.
	if r.webhooks(ref) {
		provider.SetMaxAge(r.pollInterval(ref) / 2)
	} else {
		provider.SetMaxAge(0)
	}
	target := targetBranch(ref, rig)
	var entries []gastownv1.RefineryQueueEntry
	var mergeable []*prState
	var step mergeStep
	var failed []error
	lastPass := map[string]gastownv1.RefineryQueueEntry{}
	for _, e := range ref.Status.Queue {
		lastPass[e.Bead] = e
	}
	for _, bead := range queue {
		mr, created, err := r.mergeRequest(ctx, ref, bead)
		if err != nil {
			return mergeStep{}, err
		}
		if mr == nil {
			// Not in the cache yet, or not with the last pass's write:
			// next pass. Its entry stays as the last pass left it.
			step.requeue = time.Second
			if e, ok := lastPass[bead.BeadID()]; ok {
				entries = append(entries, e)
			}
			continue
		}
		st, err := r.advance(ctx, provider, ref, rig, bead, mr, created, target)
		var limited *refinery.RateLimitedError
		var setup *setupError
		switch {
		case errors.As(err, &limited), errors.As(err, &setup):
			return mergeStep{}, err
		case err != nil:
			failed = append(failed, fmt.Errorf("bead %s: %w", bead.BeadID(), err))
			entries = append(entries, gastownv1.RefineryQueueEntry{Bead: bead.BeadID(), PullRequest: mr.Status.Number,
				Gate: "the forge failed, retried with backoff: " + err.Error()})
			continue
		}
		if st == nil {
			continue
		}
		if st.gate.Message == refinery.GateComputingMergeability {
			// GitHub computes it in the background and tells no one.
			step.requeue = mergeabilityPoll
		}
		entries = append(entries, gastownv1.RefineryQueueEntry{Bead: bead.BeadID(), PullRequest: st.pr.Number, Gate: st.gate.Message})
		if st.gate.Action == refinery.ActionMerge {
			mergeable = append(mergeable, st)
		}
	}
	ref.Status.Queue, ref.Status.CurrentMerge = entries, ""
	if len(mergeable) == 0 {
		return step, errors.Join(failed...)
	}
	// One merge per pass: the rest are behind the new base afterwards and
	// get their branches updated and checked again. Another Refinery's
	// merge into the same branch goes first; its end wakes this one.
	next := mergeable[0]
	lane, me := repo+"|"+target, client.ObjectKeyFromObject(ref)
	if holder, ok := r.lanes.Enter(lane, me); !ok {
		msg := fmt.Sprintf("ready to merge; waiting for refinery %s to merge into %s", holder, target)
		for i := range entries {
			if entries[i].Bead == next.bead.BeadID() {
				entries[i].Gate = msg
			}
		}
		return step, errors.Join(append(failed, r.setPR(ctx, next.mr, func(s *gastownv1.MergeRequestStatus) { s.Gate = msg }))...)
	}
	defer r.laneLeft(lane, me)
	ref.Status.CurrentMerge = next.bead.BeadID()
	if err := r.mergePullRequest(ctx, provider, ref, next); err != nil {
		return mergeStep{}, errors.Join(append(failed, err)...)
	}
	return mergeStep{requeue: time.Second}, errors.Join(failed...)
}

// laneLeft frees a merge lane and wakes the Refineries that waited for it.
func (r *RefineryReconciler) laneLeft(lane string, holder types.NamespacedName) {
	for _, w := range r.lanes.Leave(lane, holder) {
		ev := event.GenericEvent{Object: &gastownv1.Refinery{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.Name}}}
		go func() { r.laneFree <- ev }() // never hold the lane's reconcile on the queue
	}
}

// github returns the rig's GitHub provider, reusing the previous one while
// its settings and token are unchanged, and names its repository.
func (r *RefineryReconciler) github(ctx context.Context, ref *gastownv1.Refinery, rig *gastownv1.Rig) (*refinery.Vouched, string, error) {
	spec := ref.Spec.GitHub
	if spec == nil {
		spec = &gastownv1.GitHubSpec{}
	}
	owner, repo := spec.Owner, spec.Repo
	if owner == "" || repo == "" {
		o, rp, err := refinery.ParseRepoURL(rig.Status.GitURL)
		if err != nil {
			return nil, "", fmt.Errorf("spec.github.owner and repo are empty and the rig's git URL gives none: %w", err)
		}
		owner, repo = o, rp
	}
	opts := refinery.GitHubOptions{BaseURL: spec.BaseURL, Owner: owner, Repo: repo, Retry: r.GitHubRetry}
	credential, err := r.githubCredential(ctx, ref, &opts)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(credential)
	repoKey := strings.TrimSuffix(orDefault(spec.BaseURL, "https://api.github.com/"), "/") + "/" + owner + "/" + repo
	cacheKey := repoKey + "|" + hex.EncodeToString(sum[:])

	r.mu.Lock()
	defer r.mu.Unlock()
	refKey := client.ObjectKeyFromObject(ref)
	if c, ok := r.providers[refKey]; ok && c.key == cacheKey {
		return c.provider, c.repo, nil
	}
	gh, err := refinery.NewGitHub(opts)
	if err != nil {
		return nil, "", err
	}
	if r.providers == nil {
		r.providers = map[types.NamespacedName]cachedProvider{}
	}
	p := refinery.NewVouched(gh)
	r.providers[refKey] = cachedProvider{key: cacheKey, repo: repoKey, provider: p}
	return p, repoKey, nil
}

// Keys of spec.github.appSecretRef, as Flux's source-controller names them.
const (
	githubAppIDKey             = "githubAppID"
	githubAppInstallationIDKey = "githubAppInstallationID"
	githubAppPrivateKeyKey     = "githubAppPrivateKey"
)

// githubCredential reads the Refinery's token, or its GitHub App's
// credentials, into opts, and returns what identifies them. Each is a GET
// of one secret: the manager's client does not cache Secrets, and the
// operator may not list or watch them.
func (r *RefineryReconciler) githubCredential(ctx context.Context, ref *gastownv1.Refinery, opts *refinery.GitHubOptions) ([]byte, error) {
	spec := ref.Spec.GitHub
	if spec != nil && spec.AppSecretRef != nil {
		name := spec.AppSecretRef.Name
		secret := &corev1.Secret{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: name}, secret); err != nil {
			return nil, fmt.Errorf("reading the GitHub App's credentials from secret %s/%s (spec.github.appSecretRef): %w", ref.Namespace, name, err)
		}
		app := &refinery.GitHubApp{PrivateKey: secret.Data[githubAppPrivateKeyKey]}
		for key, into := range map[string]*int64{githubAppIDKey: &app.AppID, githubAppInstallationIDKey: &app.InstallationID} {
			v, err := strconv.ParseInt(strings.TrimSpace(string(secret.Data[key])), 10, 64)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("secret %s/%s needs key %q with the GitHub App's number", ref.Namespace, name, key)
			}
			*into = v
		}
		if len(app.PrivateKey) == 0 {
			return nil, fmt.Errorf("secret %s/%s has no key %q with the GitHub App's private key", ref.Namespace, name, githubAppPrivateKeyKey)
		}
		opts.App = app
		return append(append(secret.Data[githubAppIDKey], secret.Data[githubAppInstallationIDKey]...), app.PrivateKey...), nil
	}
	name, key := DefaultGitHubTokenSecret, gastownv1.DefaultTokenSecretKey
	if spec != nil && spec.TokenSecretRef != nil {
		name = spec.TokenSecretRef.Name
		if spec.TokenSecretRef.Key != "" {
			key = spec.TokenSecretRef.Key
		}
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: name}, secret); err != nil {
		return nil, fmt.Errorf("reading the GitHub token from secret %s/%s (spec.github.tokenSecretRef): %w", ref.Namespace, name, err)
	}
	opts.Token = string(secret.Data[key])
	if opts.Token == "" {
		return nil, fmt.Errorf("secret %s/%s has no key %q with the GitHub token", ref.Namespace, name, key)
	}
	return []byte(opts.Token), nil
}

// mergeWithGit merges the first queued branch straight into the target.
func (r *RefineryReconciler) mergeWithGit(ctx context.Context, ref *gastownv1.Refinery, rig *gastownv1.Rig, queue []*gastownv1.Bead) (mergeStep, error) {
	var entries []gastownv1.RefineryQueueEntry
	var next *gastownv1.Bead
	var mr *gastownv1.MergeRequest
	for _, b := range queue {
		if b.Status.Branch == "" {
			continue
		}
		entries = append(entries, gastownv1.RefineryQueueEntry{Bead: b.BeadID(), Gate: "waiting to merge"})
		if next == nil {
			next = b
		}
	}
	ref.Status.Queue, ref.Status.CurrentMerge = entries, ""
	if next == nil {
		return mergeStep{}, nil
	}
	mr, _, err := r.mergeRequest(ctx, ref, next)
	if err != nil || mr == nil {
		return mergeStep{requeue: time.Second}, err
	}
	ref.Status.CurrentMerge = next.BeadID()
	auth, err := r.gitAuth(ctx, ref, rig)
	if err != nil {
		return mergeStep{}, &setupError{gastownv1.SecretNotFoundReason, err}
	}
	merger := refinery.NewGitMerger(rig.Status.GitURL, auth)
	if mr.Status.Failure != "" && dispatch.Superseded(next) {
		return mergeStep{requeue: time.Second}, r.retire(ctx, merger, nil, next, mr)
	}
	author := object.Signature{Name: rig.Spec.Git.AuthorName, Email: rig.Spec.Git.AuthorEmail, When: time.Now()}
	message := fmt.Sprintf("%s: %s\n\nBead: %s\nPolecat: %s\n", next.Name, next.Spec.Title, next.Name, next.Status.Polecat)
	sha, err := merger.Merge(ctx, next.Status.Branch, targetBranch(ref, rig), string(ref.Spec.MergeMethod), message, author)
	switch {
	case errors.Is(err, refinery.ErrTargetMoved):
		return mergeStep{requeue: time.Second}, nil
	case errors.Is(err, refinery.ErrConflict):
		gate := &refinery.GateResult{Action: refinery.ActionFixConflict}
		return mergeStep{}, r.fixConflict(ctx, nil, ref, rig, next, mr, targetBranch(ref, rig), next.Status.Branch, gate)
	case err != nil:
		return mergeStep{}, err
	}
	return mergeStep{requeue: time.Second}, r.recordMerge(ctx, merger, ref, next, mr, &refinery.PullRequest{HeadBranch: next.Status.Branch}, sha)
}

// gitAuth reads the git credentials of the git provider.
func (r *RefineryReconciler) gitAuth(ctx context.Context, ref *gastownv1.Refinery, rig *gastownv1.Rig) (transport.AuthMethod, error) {
	name := ""
	switch {
	case ref.Spec.GitSecretRef != nil:
		name = ref.Spec.GitSecretRef.Name
	case rig.Spec.Kubernetes.GitSecretRef != nil:
		name = rig.Spec.Kubernetes.GitSecretRef.Name
	default:
		return nil, nil // anonymous, e.g. a local git server
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: name}, secret); err != nil {
		return nil, fmt.Errorf("reading git credentials from secret %s/%s: %w", ref.Namespace, name, err)
	}
	return gitops.AuthFromSecret(rig.Status.GitURL, secret.Data)
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// SetupWithManager registers the reconciler with its watches.
func (r *RefineryReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.laneFree = make(chan event.GenericEvent)
	informer, err := mgr.GetCache().GetInformer(context.Background(), &gastownv1.MergeRequest{})
	if err != nil {
		return err
	}
	if _, err := informer.AddEventHandler(r.mrWrites.handler()); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		WatchesRawSource(source.Channel(r.laneFree, &handler.EnqueueRequestForObject{}))
	if r.Wake != nil {
		b = b.WatchesRawSource(source.Channel(r.Wake, &handler.EnqueueRequestForObject{}))
	}
	return b.
		For(&gastownv1.Refinery{}, builder.WithPredicates(primaryPredicate())).
		// The queue is the rig's beads in review: their phase and spec are
		// what it reads of them (the pull requests it records itself); a
		// burst of changes is one reconcile.
		Watches(&gastownv1.Bead{}, coalescedRequests(dispatchDelay, r.refineriesOf(func(o client.Object) string { return o.(*gastownv1.Bead).Spec.RigRef })),
			builder.WithPredicates(phaseChanged(beadPhase), reviewBead())).
		Watches(&gastownv1.Polecat{}, coalescedRequests(dispatchDelay, r.refineriesOf(func(o client.Object) string { return o.(*gastownv1.Polecat).Spec.Rig })),
			builder.WithPredicates(phaseChanged(polecatPhase))).
		// The Witness's escalations go on the pull requests (postNotice).
		Watches(&gastownv1.Witness{}, coalescedRequests(dispatchDelay, r.refineriesOf(func(o client.Object) string { return o.(*gastownv1.Witness).Spec.RigRef })),
			builder.WithPredicates(phaseChanged(escalations))).
		WithOptions(opts).
		Complete(r)
}

// inReview says whether the Refinery's queue or merge summary counts the
// bead: in review, merged, failed, rejected, or with a pull request.
func inReview(b *gastownv1.Bead) bool {
	switch b.Status.Phase {
	case gastownv1.BeadPhaseInReview, gastownv1.BeadPhaseMerged, gastownv1.BeadPhaseFailed, gastownv1.BeadPhaseRejected:
		return true
	}
	return b.Status.PullRequest != nil
}

// reviewBead passes the events of beads the Refinery counts, before or
// after the change: a bead that is only being synced or dispatched (the
// intake of thousands) wakes no Refinery.
func reviewBead() predicate.Predicate {
	counted := func(o client.Object) bool { return inReview(o.(*gastownv1.Bead)) }
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return counted(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return counted(e.ObjectOld) || counted(e.ObjectNew) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return counted(e.Object) },
		GenericFunc: func(e event.GenericEvent) bool { return counted(e.Object) },
	}
}

// escalations names the polecats a Witness escalated, and why.
func escalations(o client.Object) string {
	var out []string
	for _, f := range o.(*gastownv1.Witness).Status.Findings {
		if f.Action == witness.Escalate.Done() {
			out = append(out, f.Polecat+"/"+f.Reason)
		}
	}
	return strings.Join(out, ",")
}

func (r *RefineryReconciler) refineriesOf(rigName func(client.Object) string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return requestsByIndex(ctx, r.Client, &gastownv1.RefineryList{}, o.GetNamespace(), refineryRigIndex, rigName(o))
	}
}
