package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/runtime/patch"
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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	"github.com/boshu2/gastown-operator/internal/gitops"
	"github.com/boshu2/gastown-operator/internal/refinery"
)

// DefaultGitHubTokenSecret is the secret a Refinery reads its token from
// when spec.github.tokenSecretRef is empty.
const DefaultGitHubTokenSecret = "github-token"

// RefineryReconciler takes the pushed branches of a rig's beads to merged
// pull requests (or, with the git provider, straight into the target).
type RefineryReconciler struct {
	client.Client
	EventRecorder kuberecorder.EventRecorder
	// GitHubRetry tunes the provider's retries of server errors.
	GitHubRetry refinery.RetryOptions

	mu        sync.Mutex
	providers map[types.NamespacedName]cachedProvider
}

// cachedProvider keeps a provider across reconciles: its ETag cache is what
// makes polling cheap.
type cachedProvider struct {
	key      string
	provider refinery.Provider
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=refineries,verbs=get;list;watch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=refineries/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beads/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=polecats,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

// setupError is a problem with the refinery's settings or secrets.
type setupError struct {
	reason string
	err    error
}

func (e *setupError) Error() string { return e.err.Error() }

// mergeStep is the outcome of one queue pass.
type mergeStep struct {
	requeue time.Duration
}

// Reconcile advances the rig's merge queue by one step per bead and merges
// at most one bead per target branch.
func (r *RefineryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ref := &gastownv1.Refinery{}
	if err := r.Get(ctx, req.NamespacedName, ref); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.providers, req.NamespacedName)
			r.mu.Unlock()
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patcher := patch.NewSerialPatcher(ref, r.Client)
	before := readyOf(ref)
	var ok *success
	defer func() {
		if v, ok := meta.ReconcileAnnotationValue(ref.GetAnnotations()); ok {
			ref.Status.SetLastHandledReconcileRequest(v)
		}
		if err := patchStatus(ctx, patcher, ref, nil, ok); err != nil {
			retErr = errors.Join(retErr, err)
		}
		ref.Status.Phase = refineryPhase(ref)
		if err := patcher.Patch(ctx, ref, patch.WithFieldOwner(FieldOwner)); err != nil {
			retErr = errors.Join(retErr, err)
		}
		eventOnChange(r.EventRecorder, ref, &before)
	}()
	markReconcilingNewGeneration(ref)
	if ref.Spec.Suspend {
		conditions.MarkFalse(ref, meta.ReadyCondition, meta.SuspendedReason, "the refinery is suspended")
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
		return requeueAfter(ref.GetRequeueAfter()), nil
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
		return requeueAfter(ref.GetRequeueAfter()), nil
	}
	return ctrl.Result{}, nil
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
	beads := &gastownv1.BeadList{}
	if err := r.List(ctx, beads, client.InNamespace(ref.Namespace), client.MatchingFields{beadRigIndex: ref.Spec.RigRef}); err != nil {
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
// first one whose gate passed.
func (r *RefineryReconciler) mergeWithGitHub(ctx context.Context, ref *gastownv1.Refinery, rig *gastownv1.Rig, queue []*gastownv1.Bead) (mergeStep, error) {
	if len(queue) == 0 {
		ref.Status.Queue, ref.Status.CurrentMerge = nil, ""
		return mergeStep{}, nil
	}
	provider, err := r.github(ctx, ref, rig)
	if err != nil {
		return mergeStep{}, &setupError{gastownv1.ProviderErrorReason, err}
	}
	target := targetBranch(ref, rig)
	var entries []gastownv1.RefineryQueueEntry
	var mergeable []*prState
	for _, bead := range queue {
		st, err := r.advance(ctx, provider, ref, rig, bead, target)
		if err != nil {
			return mergeStep{}, err
		}
		if st == nil {
			continue
		}
		entries = append(entries, gastownv1.RefineryQueueEntry{Bead: bead.Name, PullRequest: st.pr.Number, Gate: st.gate.Message})
		if st.gate.Action == refinery.ActionMerge {
			mergeable = append(mergeable, st)
		}
	}
	ref.Status.Queue, ref.Status.CurrentMerge = entries, ""
	if len(mergeable) == 0 {
		return mergeStep{}, nil
	}
	// One merge per pass: the rest are behind the new base afterwards and
	// get their branches updated and checked again.
	next := mergeable[0]
	ref.Status.CurrentMerge = next.bead.Name
	if err := r.mergePullRequest(ctx, provider, ref, next); err != nil {
		return mergeStep{}, err
	}
	return mergeStep{requeue: time.Second}, nil
}

// prState is one queued bead with its pull request and gate decision.
type prState struct {
	bead *gastownv1.Bead
	pr   *refinery.PullRequest
	gate refinery.GateResult
}

// advance opens, refreshes and gates one bead's pull request, launching
// revision or conflict polecats and updating the branch as the gate says.
func (r *RefineryReconciler) advance(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, rig *gastownv1.Rig, bead *gastownv1.Bead, target string) (*prState, error) {
	pr, err := r.ensurePullRequest(ctx, provider, ref, bead, target)
	if err != nil || pr == nil {
		return nil, err
	}
	switch {
	case pr.Merged:
		return nil, r.recordMerge(ctx, provider, ref, bead, pr, pr.MergeCommitSHA)
	case pr.State == refinery.StateClosed:
		// The branch goes too, so that the bead, once edited or retried, starts
		// a new one (a runner never overwrites a branch).
		if ptrOr(ref.Spec.DeleteBranch, true) {
			if err := provider.DeleteBranch(ctx, pr.HeadBranch); err != nil {
				return nil, err
			}
		}
		r.EventRecorder.Eventf(bead, corev1.EventTypeWarning, "Rejected", "pull request #%d was closed without merging", pr.Number)
		return nil, r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) { s.State = gastownv1.PullRequestClosed })
	}
	reviews, err := provider.Reviews(ctx, pr.Number)
	if err != nil {
		return nil, err
	}
	checks, err := provider.Checks(ctx, pr.HeadSHA, ref.Spec.RequiredChecks)
	if err != nil {
		return nil, err
	}
	status := bead.Status.PullRequest
	gate := refinery.Gate(refinery.GateInput{
		PR: pr, Reviews: reviews, Checks: checks,
		RequiredApprovals: int(ptrOr(ref.Spec.RequiredApprovals, 1)),
		AutoMerge:         ptrOr(ref.Spec.AutoMerge, true),
		HandledReviewID:   status.LastReviewID,
	})
	live, err := r.liveFollowUp(ctx, bead)
	if err != nil {
		return nil, err
	}
	if live != "" {
		gate = refinery.GateResult{Action: refinery.ActionWait, Message: "polecat " + live + " is working on the branch"}
	}
	if err := r.act(ctx, provider, ref, rig, bead, pr, &gate); err != nil {
		return nil, err
	}
	if err := r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) { s.HeadSHA, s.Gate = pr.HeadSHA, gate.Message }); err != nil {
		return nil, err
	}
	return &prState{bead: bead, pr: pr, gate: gate}, nil
}

// act carries out the gate's decision short of merging; it may rewrite the
// gate's message with what it did.
func (r *RefineryReconciler) act(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, rig *gastownv1.Rig, bead *gastownv1.Bead, pr *refinery.PullRequest, gate *refinery.GateResult) error {
	status := bead.Status.PullRequest
	switch gate.Action {
	case refinery.ActionRevise:
		if status.Revisions >= ptrOr(ref.Spec.MaxRevisions, gastownv1.DefaultMaxRevisions) {
			gate.Action, gate.Message = refinery.ActionWait, fmt.Sprintf("%s; the %d revisions allowed are used up, a person must take over", gate.Message, status.Revisions)
			return nil
		}
		comments, err := provider.ReviewComments(ctx, pr.Number, gate.ChangesRequested.ID)
		if err != nil {
			return err
		}
		task := refinery.RevisionTask(pr.Number, *gate.ChangesRequested, comments)
		n := status.Revisions + 1
		name := fmt.Sprintf("%s-rev-%d", bead.Name, n)
		if err := r.followUp(ctx, rig, bead, name, gastownv1.PurposeRevision, pr.HeadBranch, task); err != nil {
			return err
		}
		gate.Message = "revision polecat " + name + " launched for the review of " + gate.ChangesRequested.User
		return r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) {
			s.Revisions, s.LastReviewID = n, gate.ChangesRequested.ID
		})
	case refinery.ActionWait:
		// A revision that finished: ask its reviewers to look again.
		if gate.ChangesRequested != nil && status.Revisions > status.ReviewRequested {
			if err := provider.RequestReviewers(ctx, pr.Number, gate.Reviewers); err != nil {
				return err
			}
			r.EventRecorder.Eventf(bead, corev1.EventTypeNormal, "ReviewRequested", "asked %v to review revision %d", gate.Reviewers, status.Revisions)
			return r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) { s.ReviewRequested = s.Revisions })
		}
	case refinery.ActionUpdateBranch:
		if err := provider.UpdateBranch(ctx, pr.Number, pr.HeadSHA); err != nil && !errors.Is(err, refinery.ErrHeadChanged) {
			return err
		}
		gate.Action, gate.Message = refinery.ActionWait, "updating the branch with "+pr.BaseBranch+"; checks run again"
	case refinery.ActionFixConflict:
		comment := func(body string) error { return provider.Comment(ctx, pr.Number, body) }
		return r.fixConflict(ctx, comment, ref, rig, bead, pr.BaseBranch, pr.HeadBranch, gate)
	}
	return nil
}

// fixConflict launches a conflict-resolution polecat, or fails the bead
// (with a pull request comment, when there is a pull request) when the
// fixes allowed are used up.
func (r *RefineryReconciler) fixConflict(ctx context.Context, comment func(string) error, ref *gastownv1.Refinery, rig *gastownv1.Rig, bead *gastownv1.Bead, base, head string, gate *refinery.GateResult) error {
	status := bead.Status.PullRequest
	if status.ConflictFixes >= ptrOr(ref.Spec.MaxConflictFixes, gastownv1.DefaultMaxConflictFixes) {
		why := fmt.Sprintf("the branch still conflicts with %s after %d conflict fixes; resolve it by hand, then edit the bead or set %s",
			base, status.ConflictFixes, gastownv1.RetryAnnotation)
		if status.Failure == "" {
			if comment != nil {
				if err := comment("Gas Town refinery: " + why + "."); err != nil {
					return err
				}
			}
			r.EventRecorder.Eventf(bead, corev1.EventTypeWarning, gastownv1.MergeConflictReason, "%s", why)
		}
		gate.Action, gate.Message = refinery.ActionWait, why
		return r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) { s.Failure = why })
	}
	n := status.ConflictFixes + 1
	name := fmt.Sprintf("%s-fix-%d", bead.Name, n)
	if err := r.followUp(ctx, rig, bead, name, gastownv1.PurposeConflictFix, head, ""); err != nil {
		return err
	}
	gate.Action, gate.Message = refinery.ActionWait, "conflict polecat "+name+" is redoing the work on "+base
	return r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) { s.ConflictFixes = n })
}

// ensurePullRequest returns the bead's pull request, opening it if there is
// none. It looks the pull request up by head branch before opening one, so
// that a restart between opening and recording never opens a second.
func (r *RefineryReconciler) ensurePullRequest(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, bead *gastownv1.Bead, target string) (*refinery.PullRequest, error) {
	if s := bead.Status.PullRequest; s != nil && s.Number > 0 {
		return provider.GetPullRequest(ctx, s.Number)
	}
	branch, commit := bead.Status.Branch, bead.Status.Commit
	if branch == "" {
		return nil, nil // the bead controller has not recorded the push yet
	}
	pr, err := provider.FindPullRequest(ctx, branch)
	if err != nil {
		return nil, err
	}
	// A closed pull request of an earlier run (another head) does not count.
	if pr != nil && pr.State == refinery.StateClosed && pr.HeadSHA != commit {
		pr = nil
	}
	if pr == nil {
		info := r.beadInfo(ctx, bead)
		pr, err = provider.CreatePullRequest(ctx, refinery.NewPullRequest{
			Title: refinery.PullRequestTitle(info), Body: refinery.PullRequestBody(info),
			Head: branch, Base: target, Labels: ref.Spec.Labels,
		})
		if pr == nil {
			return nil, err
		}
		if err != nil {
			r.EventRecorder.Eventf(bead, corev1.EventTypeWarning, gastownv1.ProviderErrorReason, "pull request #%d opened, but: %s", pr.Number, err)
		}
		r.EventRecorder.Eventf(bead, corev1.EventTypeNormal, "PullRequestOpened", "opened pull request #%d %s", pr.Number, pr.URL)
	}
	state := gastownv1.PullRequestOpen
	if pr.Merged {
		state = gastownv1.PullRequestMerged
	}
	return pr, r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) {
		s.Number, s.URL, s.State, s.HeadBranch, s.HeadSHA = pr.Number, pr.URL, state, pr.HeadBranch, pr.HeadSHA
	})
}

func (r *RefineryReconciler) beadInfo(ctx context.Context, bead *gastownv1.Bead) refinery.BeadInfo {
	info := refinery.BeadInfo{ID: bead.Name, Rig: bead.Spec.RigRef, Title: bead.Spec.Title,
		Description: bead.Spec.Description, Acceptance: bead.Spec.Acceptance, Polecat: bead.Status.Polecat}
	if res := bead.Status.Result; res != nil {
		info.Summary, info.CostUSD, info.InputTokens, info.OutputTokens = res.Summary, res.CostUSD, res.InputTokens, res.OutputTokens
	}
	pc := &gastownv1.Polecat{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: bead.Namespace, Name: bead.Status.Polecat}, pc); err == nil {
		info.Agent = string(pc.Status.Agent)
	}
	return info
}

// mergePullRequest re-reads the pull request and merges it at the head the
// gate passed.
func (r *RefineryReconciler) mergePullRequest(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, st *prState) error {
	fresh, err := provider.GetPullRequest(ctx, st.pr.Number)
	if err != nil {
		return err
	}
	if fresh.Merged {
		return r.recordMerge(ctx, provider, ref, st.bead, fresh, fresh.MergeCommitSHA)
	}
	if fresh.HeadSHA != st.pr.HeadSHA || fresh.State != refinery.StateOpen {
		return nil // changed under us: gate it again next pass
	}
	title := fmt.Sprintf("%s (#%d)", refinery.PullRequestTitle(r.beadInfo(ctx, st.bead)), fresh.Number)
	message := fmt.Sprintf("Bead: %s\nPolecat: %s\n", st.bead.Name, st.bead.Status.Polecat)
	sha, err := provider.Merge(ctx, fresh.Number, fresh.HeadSHA, string(ref.Spec.MergeMethod), title, message)
	switch {
	case errors.Is(err, refinery.ErrMergeQueueRequired):
		return r.setPR(ctx, st.bead, func(s *gastownv1.PullRequestStatus) {
			s.Gate = "the target branch requires GitHub's merge queue; add the pull request to the queue or lift the rule"
		})
	case errors.Is(err, refinery.ErrHeadChanged), errors.Is(err, refinery.ErrNotMergeable):
		return nil // gate it again next pass
	case err != nil:
		return err
	}
	return r.recordMerge(ctx, provider, ref, st.bead, fresh, sha)
}

// recordMerge records a merged pull request and deletes its branch.
func (r *RefineryReconciler) recordMerge(ctx context.Context, provider interface {
	DeleteBranch(context.Context, string) error
}, ref *gastownv1.Refinery, bead *gastownv1.Bead, pr *refinery.PullRequest, sha string) error {
	if ptrOr(ref.Spec.DeleteBranch, true) {
		if err := provider.DeleteBranch(ctx, pr.HeadBranch); err != nil {
			return err
		}
	}
	now := metav1.Now()
	if !pr.MergedAt.IsZero() {
		now = metav1.NewTime(pr.MergedAt)
	}
	ref.Status.LastMergeTime = &now
	r.EventRecorder.Eventf(bead, corev1.EventTypeNormal, "Merged", "merged %s as %s", prLabel(pr), sha)
	return r.setPR(ctx, bead, func(s *gastownv1.PullRequestStatus) {
		s.State, s.MergeCommit, s.MergedAt, s.Gate = gastownv1.PullRequestMerged, sha, &now, ""
		if s.HeadBranch == "" {
			s.HeadBranch = pr.HeadBranch
		}
	})
}

func prLabel(pr *refinery.PullRequest) string {
	if pr.Number > 0 {
		return fmt.Sprintf("pull request #%d", pr.Number)
	}
	return "branch " + pr.HeadBranch
}

// setPR patches the bead's status.pullRequest.
func (r *RefineryReconciler) setPR(ctx context.Context, bead *gastownv1.Bead, mutate func(*gastownv1.PullRequestStatus)) error {
	orig := bead.DeepCopy()
	if bead.Status.PullRequest == nil {
		bead.Status.PullRequest = &gastownv1.PullRequestStatus{State: gastownv1.PullRequestOpen}
	}
	mutate(bead.Status.PullRequest)
	return r.Status().Patch(ctx, bead, client.MergeFrom(orig))
}

// liveFollowUp names a live polecat of the bead, if any.
func (r *RefineryReconciler) liveFollowUp(ctx context.Context, bead *gastownv1.Bead) (string, error) {
	list := &gastownv1.PolecatList{}
	if err := r.List(ctx, list, client.InNamespace(bead.Namespace), client.MatchingFields{polecatBeadIndex: bead.Name}); err != nil {
		return "", err
	}
	for i := range list.Items {
		if dispatch.IsLive(&list.Items[i]) {
			return list.Items[i].Name, nil
		}
	}
	return "", nil
}

// followUp creates a revision or conflict polecat on the bead's branch.
func (r *RefineryReconciler) followUp(ctx context.Context, rig *gastownv1.Rig, bead *gastownv1.Bead, name string, purpose gastownv1.PolecatPurpose, branch, task string) error {
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: bead.Namespace,
			Labels: map[string]string{
				gastownv1.RigLabel: rig.Name, gastownv1.BeadLabel: bead.Name,
				gastownv1.PolecatLabel: name, gastownv1.ManagedByLabel: gastownv1.ManagedByValue,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(bead, gastownv1.GroupVersion.WithKind(gastownv1.BeadKind))},
		},
		Spec: gastownv1.PolecatSpec{
			Rig: rig.Name, BeadID: bead.Name, DesiredState: gastownv1.DesiredWorking,
			ExecutionMode: rig.Spec.Settings.ExecutionMode, Purpose: purpose, TaskDescription: task,
			Kubernetes: &gastownv1.PolecatKubernetes{WorkBranch: branch},
		},
	}
	if err := r.Create(ctx, pc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating polecat %s: %w", name, err)
	}
	r.EventRecorder.Eventf(bead, corev1.EventTypeNormal, "FollowUp", "%s polecat %s started on %s", purpose, name, branch)
	return nil
}

// github returns the rig's GitHub provider, reusing the previous one while
// its settings and token are unchanged.
func (r *RefineryReconciler) github(ctx context.Context, ref *gastownv1.Refinery, rig *gastownv1.Rig) (refinery.Provider, error) {
	spec := ref.Spec.GitHub
	if spec == nil {
		spec = &gastownv1.GitHubSpec{}
	}
	owner, repo := spec.Owner, spec.Repo
	if owner == "" || repo == "" {
		o, rp, err := refinery.ParseRepoURL(rig.Status.GitURL)
		if err != nil {
			return nil, fmt.Errorf("spec.github.owner and repo are empty and the rig's git URL gives none: %w", err)
		}
		owner, repo = o, rp
	}
	secretName, key := DefaultGitHubTokenSecret, gastownv1.DefaultTokenSecretKey
	if s := spec.TokenSecretRef; s != nil {
		secretName = s.Name
		if s.Key != "" {
			key = s.Key
		}
	}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: secretName}, secret); err != nil {
		return nil, fmt.Errorf("reading the GitHub token from secret %s/%s (spec.github.tokenSecretRef): %w", ref.Namespace, secretName, err)
	}
	token := string(secret.Data[key])
	if token == "" {
		return nil, fmt.Errorf("secret %s/%s has no key %q with the GitHub token", ref.Namespace, secretName, key)
	}
	sum := sha256.Sum256([]byte(token))
	cacheKey := spec.BaseURL + "|" + owner + "/" + repo + "|" + hex.EncodeToString(sum[:])

	r.mu.Lock()
	defer r.mu.Unlock()
	refKey := client.ObjectKeyFromObject(ref)
	if c, ok := r.providers[refKey]; ok && c.key == cacheKey {
		return c.provider, nil
	}
	p, err := refinery.NewGitHub(refinery.GitHubOptions{BaseURL: spec.BaseURL, Owner: owner, Repo: repo, Token: token, Retry: r.GitHubRetry})
	if err != nil {
		return nil, err
	}
	if r.providers == nil {
		r.providers = map[types.NamespacedName]cachedProvider{}
	}
	r.providers[refKey] = cachedProvider{key: cacheKey, provider: p}
	return p, nil
}

// mergeWithGit merges the first queued branch straight into the target.
func (r *RefineryReconciler) mergeWithGit(ctx context.Context, ref *gastownv1.Refinery, rig *gastownv1.Rig, queue []*gastownv1.Bead) (mergeStep, error) {
	var entries []gastownv1.RefineryQueueEntry
	var next *gastownv1.Bead
	for _, b := range queue {
		if b.Status.Branch == "" {
			continue
		}
		entries = append(entries, gastownv1.RefineryQueueEntry{Bead: b.Name, Gate: "waiting to merge"})
		if next == nil {
			next = b
		}
	}
	ref.Status.Queue, ref.Status.CurrentMerge = entries, ""
	if next == nil {
		return mergeStep{}, nil
	}
	ref.Status.CurrentMerge = next.Name
	auth, err := r.gitAuth(ctx, ref, rig)
	if err != nil {
		return mergeStep{}, &setupError{gastownv1.SecretNotFoundReason, err}
	}
	merger := refinery.NewGitMerger(rig.Status.GitURL, auth)
	author := object.Signature{Name: rig.Spec.Git.AuthorName, Email: rig.Spec.Git.AuthorEmail, When: time.Now()}
	message := fmt.Sprintf("%s: %s\n\nBead: %s\nPolecat: %s\n", next.Name, next.Spec.Title, next.Name, next.Status.Polecat)
	sha, err := merger.Merge(ctx, next.Status.Branch, targetBranch(ref, rig), string(ref.Spec.MergeMethod), message, author)
	switch {
	case errors.Is(err, refinery.ErrTargetMoved):
		return mergeStep{requeue: time.Second}, nil
	case errors.Is(err, refinery.ErrConflict):
		if next.Status.PullRequest == nil {
			if err := r.setPR(ctx, next, func(s *gastownv1.PullRequestStatus) { s.HeadBranch = next.Status.Branch }); err != nil {
				return mergeStep{}, err
			}
		}
		gate := &refinery.GateResult{Action: refinery.ActionFixConflict}
		return mergeStep{}, r.fixConflict(ctx, nil, ref, rig, next, targetBranch(ref, rig), next.Status.Branch, gate)
	case err != nil:
		return mergeStep{}, err
	}
	return mergeStep{requeue: time.Second}, r.recordMerge(ctx, merger, ref, next, &refinery.PullRequest{HeadBranch: next.Status.Branch}, sha)
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
	return ctrl.NewControllerManagedBy(mgr).
		For(&gastownv1.Refinery{}, builder.WithPredicates(primaryPredicate())).
		Watches(&gastownv1.Bead{}, handler.EnqueueRequestsFromMapFunc(r.refineriesOf(func(o client.Object) string { return o.(*gastownv1.Bead).Spec.RigRef }))).
		Watches(&gastownv1.Polecat{}, handler.EnqueueRequestsFromMapFunc(r.refineriesOf(func(o client.Object) string { return o.(*gastownv1.Polecat).Spec.Rig }))).
		WithOptions(opts).
		Complete(r)
}

func (r *RefineryReconciler) refineriesOf(rigName func(client.Object) string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return requestsByIndex(ctx, r.Client, &gastownv1.RefineryList{}, o.GetNamespace(), refineryRigIndex, rigName(o))
	}
}
