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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
	"github.com/boshu2/gastown-operator/internal/refinery"
)

// The life of one bead's pull request: open it, gate it, act on reviews
// and conflicts, merge it, and record each step in the attempt's
// MergeRequest, whose status the Refinery alone writes.

// prState is one queued bead with its merge request, pull request and gate
// decision.
type prState struct {
	bead *gastownv1.Bead
	mr   *gastownv1.MergeRequest
	pr   *refinery.PullRequest
	gate refinery.GateResult
}

// advance opens, refreshes and gates one bead's pull request, launching
// revision or conflict polecats and updating the branch as the gate says.
// newRequest says the merge request was made in this pass.
func (r *RefineryReconciler) advance(ctx context.Context, provider *refinery.Vouched, ref *gastownv1.Refinery, rig *gastownv1.Rig, bead *gastownv1.Bead, mr *gastownv1.MergeRequest, newRequest bool, target string) (*prState, error) {
	if s := mr.Status.State; s == gastownv1.PullRequestMerged || s == gastownv1.PullRequestClosed {
		return nil, nil // recorded already; the bead's phase has not caught up yet
	}
	if mr.Status.Failure != "" && dispatch.Superseded(bead) {
		return nil, r.retire(ctx, provider, provider, bead, mr)
	}
	polecats := &gastownv1.PolecatList{}
	if err := r.List(ctx, polecats, client.InNamespace(bead.Namespace), client.MatchingFields{polecatBeadIndex: bead.Name}, readOnly); err != nil {
		return nil, err
	}
	if n := mr.Status.Number; n > 0 {
		// A revision or conflict polecat that ended pushed to the branch:
		// what was read of the pull request before may lack its commits.
		// (Completion times are kept to the second.)
		for i := range polecats.Items {
			pc := &polecats.Items[i]
			if end := pc.Status.CompletedAt; end != nil && (pc.Spec.Purpose == gastownv1.PurposeRevision || pc.Spec.Purpose == gastownv1.PurposeConflictFix) {
				provider.Forget(n, end.Add(time.Second))
			}
		}
	}
	pr, err := r.ensurePullRequest(ctx, provider, ref, bead, mr, newRequest, target)
	if err != nil || pr == nil {
		return nil, err
	}
	switch {
	case pr.Merged:
		return nil, r.recordMerge(ctx, provider, ref, bead, mr, pr, pr.MergeCommitSHA)
	case pr.State == refinery.StateClosed:
		// The branch goes too, so that the bead, once edited or retried, starts
		// a new one from the base branch.
		if ptrOr(ref.Spec.DeleteBranch, true) {
			if err := provider.DeleteBranch(ctx, pr.HeadBranch); err != nil {
				return nil, err
			}
		}
		// No event here: the bead's phase, Rejected, is its one event.
		gsmetrics.PullRequest(ref.Spec.RigRef, gsmetrics.PullRequestRejected, prKey(bead, pr))
		return nil, r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) { s.State = gastownv1.PullRequestClosed })
	}
	if approvals := ptrOr(ref.Spec.RequiredApprovals, 1); pr.Opened && approvals > 0 {
		// Opened in this pass: it has no review, so it cannot merge, and
		// GitHub has yet to compute its mergeability. The first delivery,
		// or the next poll, gates it.
		msg := "waiting for checks and 1 approval"
		if approvals > 1 {
			msg = fmt.Sprintf("waiting for checks and %d approvals", approvals)
		}
		gate := refinery.GateResult{Action: refinery.ActionWait, Message: msg}
		if err := r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) { s.Gate = gate.Message }); err != nil {
			return nil, err
		}
		return &prState{bead: bead, mr: mr, pr: pr, gate: gate}, nil
	}
	reviews, err := provider.Reviews(ctx, pr.Number)
	if err != nil {
		return nil, err
	}
	checks, err := provider.Checks(ctx, pr.HeadSHA, ref.Spec.RequiredChecks)
	if err != nil {
		return nil, err
	}
	status := &mr.Status.PullRequestStatus
	gate := refinery.Gate(refinery.GateInput{
		PR: pr, Reviews: reviews, Checks: checks,
		RequiredApprovals: int(ptrOr(ref.Spec.RequiredApprovals, 1)),
		AutoMerge:         ptrOr(ref.Spec.AutoMerge, true),
		HandledReviewID:   status.LastReviewID,
	})
	conflicting := gate.Action == refinery.ActionFixConflict
	for i := range polecats.Items {
		if pc := &polecats.Items[i]; dispatch.IsLive(pc) {
			gate = refinery.GateResult{Action: refinery.ActionWait, Message: "polecat " + pc.Name + " is working on the branch"}
			break
		}
	}
	if err := r.act(ctx, provider, ref, rig, bead, mr, pr, &gate); err != nil {
		return nil, err
	}
	if err := r.postNotice(ctx, provider, ref, mr, pr.Number, polecats.Items); err != nil {
		return nil, err
	}
	if err := r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) {
		s.HeadSHA, s.Gate = pr.HeadSHA, gate.Message
		if !conflicting {
			s.Failure = "" // resolved on the branch by hand
		}
	}); err != nil {
		return nil, err
	}
	return &prState{bead: bead, mr: mr, pr: pr, gate: gate}, nil
}

// act carries out the gate's decision short of merging; it may rewrite the
// gate's message with what it did.
func (r *RefineryReconciler) act(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, rig *gastownv1.Rig, bead *gastownv1.Bead, mr *gastownv1.MergeRequest, pr *refinery.PullRequest, gate *refinery.GateResult) error {
	status := &mr.Status.PullRequestStatus
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
		name := followUpName(mr, "rev", n)
		if err := r.followUp(ctx, rig, bead, name, gastownv1.PurposeRevision, pr.HeadBranch, task); errors.Is(err, errNoSlot) {
			gate.Action, gate.Message = refinery.ActionWait, fmt.Sprintf("%s; the revision %s", gate.Message, waitsFor(err))
			return nil
		} else if err != nil {
			return err
		}
		gate.Message = "revision polecat " + name + " launched for the review of " + gate.ChangesRequested.User
		return r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) {
			s.Revisions, s.LastReviewID = n, gate.ChangesRequested.ID
		})
	case refinery.ActionWait:
		// A revision that finished: ask its reviewers to look again.
		if gate.ChangesRequested != nil && status.Revisions > status.ReviewRequested {
			if err := provider.RequestReviewers(ctx, pr.Number, gate.Reviewers); err != nil {
				return err
			}
			r.EventRecorder.Eventf(bead, corev1.EventTypeNormal, "ReviewRequested", "asked %v to review revision %d", gate.Reviewers, status.Revisions)
			return r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) { s.ReviewRequested = s.Revisions })
		}
	case refinery.ActionUpdateBranch:
		msg, err := updateBranch(ctx, provider, pr)
		if err != nil {
			return err
		}
		gate.Action, gate.Message = refinery.ActionWait, msg
	case refinery.ActionFixConflict:
		comment := func(body string) error { return provider.Comment(ctx, pr.Number, body) }
		return r.fixConflict(ctx, comment, ref, rig, bead, mr, pr.BaseBranch, pr.HeadBranch, gate)
	}
	return nil
}

// retire closes a failed attempt's pull request (when prs, the forge, is
// set) and deletes its branch, once the bead changed: the bead's next
// attempt starts on a fresh branch and pull request.
func (r *RefineryReconciler) retire(ctx context.Context, branches branchDeleter, prs refinery.Provider, bead *gastownv1.Bead, mr *gastownv1.MergeRequest) error {
	n := mr.Status.Number
	if prs == nil {
		n = 0
	}
	if n > 0 {
		if err := prs.ClosePullRequest(ctx, n); err != nil {
			return err
		}
	}
	if err := branches.DeleteBranch(ctx, mr.Spec.HeadBranch); err != nil {
		return err
	}
	if err := r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) { s.State = gastownv1.PullRequestClosed }); err != nil {
		return err
	}
	what := "branch " + mr.Spec.HeadBranch
	if n > 0 {
		what = fmt.Sprintf("pull request #%d", n)
		// After the record, so that a restart never says it twice.
		if err := prs.Comment(ctx, n, "Gas Town refinery: the bead changed since this attempt failed; a new attempt follows on a new pull request."); err != nil {
			log.FromContext(ctx).Error(err, "commenting on a superseded pull request", "pullRequest", n)
		}
	}
	r.EventRecorder.Eventf(bead, corev1.EventTypeNormal, "Superseded", "closed %s of the failed attempt %s: the bead changed", what, mr.Name)
	return nil
}

// updateBranch merges the target into the pull request's branch, so that
// its checks run again on it, and says so for the gate.
func updateBranch(ctx context.Context, provider refinery.Provider, pr *refinery.PullRequest) (string, error) {
	if err := provider.UpdateBranch(ctx, pr.Number, pr.HeadSHA); err != nil && !errors.Is(err, refinery.ErrHeadChanged) {
		return "", err
	}
	return "updating the branch with " + pr.BaseBranch + "; checks run again", nil
}

// fixConflict launches a conflict-resolution polecat, or fails the bead
// (with a pull request comment, when there is a pull request) when the
// fixes allowed are used up.
func (r *RefineryReconciler) fixConflict(ctx context.Context, comment func(string) error, ref *gastownv1.Refinery, rig *gastownv1.Rig, bead *gastownv1.Bead, mr *gastownv1.MergeRequest, base, head string, gate *refinery.GateResult) error {
	status := &mr.Status.PullRequestStatus
	if status.ConflictFixes >= ptrOr(ref.Spec.MaxConflictFixes, gastownv1.DefaultMaxConflictFixes) {
		why := fmt.Sprintf("the branch still conflicts with %s after %d conflict fixes; resolve it on the branch and the refinery merges it, or edit the bead or set %s to start over",
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
		return r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) { s.Failure = why })
	}
	n := status.ConflictFixes + 1
	name := followUpName(mr, "fix", n)
	if err := r.followUp(ctx, rig, bead, name, gastownv1.PurposeConflictFix, head, ""); errors.Is(err, errNoSlot) {
		gate.Action, gate.Message = refinery.ActionWait, "the branch conflicts with "+base+"; the conflict fix "+waitsFor(err)
		return nil
	} else if err != nil {
		return err
	}
	gate.Action, gate.Message = refinery.ActionWait, "conflict polecat "+name+" is redoing the work on "+base
	return r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) { s.ConflictFixes = n })
}

// ensurePullRequest returns the attempt's pull request, opening it if there
// is none. Unless the merge request was made in this pass (so no earlier
// pass can have opened one for it), it looks the pull request up by head
// branch before opening one, so that a restart between opening and
// recording never opens a second. A retry after a lost answer finds it
// too: GitHub refuses a second open pull request for one head.
func (r *RefineryReconciler) ensurePullRequest(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, bead *gastownv1.Bead, mr *gastownv1.MergeRequest, newRequest bool, target string) (*refinery.PullRequest, error) {
	if n := mr.Status.Number; n > 0 {
		return provider.GetPullRequest(ctx, n)
	}
	branch := mr.Spec.HeadBranch
	var pr *refinery.PullRequest
	if !newRequest {
		var err error
		if pr, err = provider.FindPullRequest(ctx, branch); err != nil {
			return nil, err
		}
	}
	// A closed or merged pull request of an earlier attempt on the same
	// branch (another head) is not this attempt's: recording its merge
	// would close the new work unmerged.
	if pr != nil && pr.State != refinery.StateOpen && pr.HeadSHA != bead.Status.Commit {
		pr = nil
	}
	if pr == nil {
		info := r.beadInfo(ctx, bead)
		full, err := fullBead(ctx, r.APIReader, client.ObjectKeyFromObject(bead))
		if err != nil {
			return nil, err
		}
		info.Description, info.Acceptance = full.Spec.Description, full.Spec.Acceptance
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
		gsmetrics.PullRequest(ref.Spec.RigRef, gsmetrics.PullRequestOpened, prKey(bead, pr))
	}
	state := gastownv1.PullRequestOpen
	if pr.Merged {
		state = gastownv1.PullRequestMerged
	}
	return pr, r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) {
		s.Number, s.URL, s.State, s.HeadBranch, s.HeadSHA = pr.Number, pr.URL, state, pr.HeadBranch, pr.HeadSHA
	})
}

// beadInfo is what a pull request's title and body say of the bead, but
// its text, which the cached bead does not have.
func (r *RefineryReconciler) beadInfo(ctx context.Context, bead *gastownv1.Bead) refinery.BeadInfo {
	info := refinery.BeadInfo{ID: bead.BeadID(), Rig: bead.Spec.RigRef, Title: bead.Spec.Title, Polecat: bead.Status.Polecat}
	if res := bead.Status.Result; res != nil {
		info.Summary, info.CostUSD, info.InputTokens, info.OutputTokens = res.Summary, res.CostUSD, res.InputTokens, res.OutputTokens
	}
	pc := &gastownv1.Polecat{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: bead.Namespace, Name: bead.Status.Polecat}, pc); err == nil {
		info.Agent = string(pc.Status.Agent)
	}
	return info
}

// mergePullRequest merges the pull request at the head the gate passed.
// GitHub refuses the merge if the head moved, or the pull request was
// closed, merged or made a draft since: the next pass reads it again.
func (r *RefineryReconciler) mergePullRequest(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, st *prState) error {
	fresh := st.pr
	// Right before the merge, so that the base it was checked against is
	// the one it merges into: a head that lacks the target's latest
	// commits is updated and tested again first.
	if ref.Spec.UpdateBranch != gastownv1.UpdateBranchWhenRequired {
		behind, err := provider.Behind(ctx, fresh.BaseBranch, fresh.HeadSHA)
		if err != nil {
			return err
		}
		if behind {
			msg, err := updateBranch(ctx, provider, fresh)
			if err != nil {
				return err
			}
			return r.setPR(ctx, st.mr, func(s *gastownv1.MergeRequestStatus) { s.Gate = msg })
		}
	}
	title := fmt.Sprintf("%s (#%d)", refinery.PullRequestTitle(r.beadInfo(ctx, st.bead)), fresh.Number)
	message := fmt.Sprintf("Bead: %s\nPolecat: %s\n", st.bead.BeadID(), st.bead.Status.Polecat)
	sha, err := provider.Merge(ctx, fresh.Number, fresh.HeadSHA, string(ref.Spec.MergeMethod), title, message)
	switch {
	case errors.Is(err, refinery.ErrMergeQueueRequired):
		return r.setPR(ctx, st.mr, func(s *gastownv1.MergeRequestStatus) {
			s.Gate = "the target branch requires GitHub's merge queue; add the pull request to the queue or lift the rule"
		})
	case errors.Is(err, refinery.ErrHeadChanged), errors.Is(err, refinery.ErrNotMergeable):
		return nil // gate it again next pass
	case err != nil:
		return err
	}
	return r.recordMerge(ctx, provider, ref, st.bead, st.mr, fresh, sha)
}

// branchDeleter deletes a branch: the GitHub provider and the git merger.
type branchDeleter interface {
	DeleteBranch(ctx context.Context, branch string) error
}

// recordMerge records a merged pull request and deletes its branch.
func (r *RefineryReconciler) recordMerge(ctx context.Context, provider branchDeleter, ref *gastownv1.Refinery, bead *gastownv1.Bead, mr *gastownv1.MergeRequest, pr *refinery.PullRequest, sha string) error {
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
	// No event here: the bead's phase, Merged, is its one event.
	gsmetrics.PullRequest(ref.Spec.RigRef, gsmetrics.PullRequestMerged, prKey(bead, pr)+"@"+sha)
	return r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) {
		s.State, s.MergeCommit, s.MergedAt, s.Gate = gastownv1.PullRequestMerged, sha, &now, ""
		s.BeadGeneration, s.BeadRetry = bead.Generation, bead.Annotations[gastownv1.RetryAnnotation]
		if s.HeadBranch == "" {
			s.HeadBranch = pr.HeadBranch
		}
	})
}

// prKey names a bead's pull request (or merged branch) for the metrics:
// an event seen again for it is not counted again.
func prKey(bead *gastownv1.Bead, pr *refinery.PullRequest) string {
	return string(bead.UID) + "/" + prLabel(pr)
}

func prLabel(pr *refinery.PullRequest) string {
	if pr.Number > 0 {
		return fmt.Sprintf("pull request #%d", pr.Number)
	}
	return "branch " + pr.HeadBranch
}

// mergeRequest returns the merge request of the bead's latest attempt,
// creating it (created) when the Refinery first takes the attempt's push
// into its queue; nil while the Bead controller has not recorded the push,
// or the cache has not seen a merge request created in an earlier pass, or
// the last write of it.
func (r *RefineryReconciler) mergeRequest(ctx context.Context, ref *gastownv1.Refinery, bead *gastownv1.Bead) (mr *gastownv1.MergeRequest, created bool, err error) {
	d := bead.Status.Dispatch
	if d == nil || bead.Status.Branch == "" {
		return nil, false, nil
	}
	mr = &gastownv1.MergeRequest{}
	err = r.Get(ctx, types.NamespacedName{Namespace: bead.Namespace, Name: d.Polecat}, mr)
	if err == nil && r.mrWrites.pending(mr) {
		return nil, false, nil
	}
	if err == nil || !apierrors.IsNotFound(err) {
		return mr, false, err
	}
	mr = &gastownv1.MergeRequest{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Polecat, Namespace: bead.Namespace,
			Labels: map[string]string{
				gastownv1.RigLabel: ref.Spec.RigRef, gastownv1.BeadLabel: bead.BeadID(),
				gastownv1.PolecatLabel: d.Polecat, gastownv1.ManagedByLabel: gastownv1.ManagedByValue,
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(bead, gastownv1.GroupVersion.WithKind(gastownv1.BeadKind))},
		},
		Spec: gastownv1.MergeRequestSpec{BeadRef: bead.Name, RigRef: ref.Spec.RigRef, Polecat: d.Polecat, HeadBranch: bead.Status.Branch},
	}
	if err := r.Create(ctx, mr); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("creating merge request %s/%s: %w", mr.Namespace, mr.Name, err)
	}
	return mr, true, nil
}

// setPR patches the merge request's status, and its conditions with it.
func (r *RefineryReconciler) setPR(ctx context.Context, mr *gastownv1.MergeRequest, mutate func(*gastownv1.MergeRequestStatus)) error {
	orig := mr.DeepCopy()
	s := &mr.Status
	if s.State == "" {
		s.State = gastownv1.PullRequestOpen
	}
	mutate(s)
	mr.Status.ObservedGeneration = mr.Generation
	switch {
	case s.State == gastownv1.PullRequestMerged:
		conditions.MarkTrue(mr, meta.ReadyCondition, gastownv1.PullRequestMergedReason, "merged as %s", s.MergeCommit)
		conditions.Delete(mr, meta.StalledCondition)
	case s.State == gastownv1.PullRequestClosed:
		conditions.MarkStalled(mr, gastownv1.PullRequestClosedReason, "closed without merging")
		conditions.MarkFalse(mr, meta.ReadyCondition, gastownv1.PullRequestClosedReason, "closed without merging")
	case s.Failure != "":
		conditions.MarkStalled(mr, gastownv1.MergeConflictReason, "%s", s.Failure)
		conditions.MarkFalse(mr, meta.ReadyCondition, gastownv1.MergeConflictReason, "%s", s.Failure)
	default:
		msg := orDefault(s.Gate, "in the queue")
		conditions.MarkFalse(mr, meta.ReadyCondition, gastownv1.PullRequestOpenReason, "%s", msg)
		conditions.Delete(mr, meta.StalledCondition)
	}
	if equality.Semantic.DeepEqual(orig.Status, mr.Status) {
		return nil // a poll that learned nothing writes nothing
	}
	if err := r.Status().Patch(ctx, mr, client.MergeFrom(orig)); err != nil {
		return err
	}
	r.mrWrites.wrote(ctx, r.Client, orig.ResourceVersion, mr)
	return nil
}

// hasSlot says whether the rig's limits leave room for one more polecat of
// the bead, with the rig's creates held (Created.Lock), counting its
// polecats as the Rig does before it creates one.
func (r *RefineryReconciler) hasSlot(ctx context.Context, rig *gastownv1.Rig, bead *gastownv1.Bead) (bool, error) {
	ns := rig.WorkersNamespace()
	polecats, err := r.Created.Live(ctx, r.Client, r.APIReader, rig.Name, ns)
	if err != nil {
		return false, err
	}
	convoys := &gastownv1.ConvoyList{}
	if err := r.List(ctx, convoys, client.InNamespace(ns), client.MatchingFields{convoyRigIndex: rig.Name}, readOnly); err != nil {
		return false, err
	}
	return dispatch.HasSlot(dispatch.Rig{MaxPolecats: rig.MaxPolecats()}, bead.BeadID(), polecats, convoys.Items), nil
}

// followUpName names an attempt's nth revision ("rev") or conflict fix
// ("fix") after its merge request, which has the name of the attempt's
// dispatched polecat: gt-a-rev-1 for the bead's first attempt, gt-a-2-rev-1
// for its second, so that a later attempt's follow-ups never take the
// names, and so the existing polecats, of an earlier one's.
func followUpName(mr *gastownv1.MergeRequest, kind string, n int32) string {
	return fmt.Sprintf("%s-%s-%d", mr.Name, kind, n)
}

// errNoSlot: the rig's maxPolecats, or a convoy's parallelism, leaves no
// room for a follow-up polecat now; errRigSuspended (one of them): the rig
// starts no polecats while it is suspended.
var (
	errNoSlot       = errors.New("no polecat slot")
	errRigSuspended = fmt.Errorf("%w: the rig is suspended", errNoSlot)
)

// waitsFor says what a follow-up that could not start waits for.
func waitsFor(err error) string {
	if errors.Is(err, errRigSuspended) {
		return "waits for the rig to resume (spec.suspend)"
	}
	return "waits for a polecat slot"
}

// followUpHeld says whether the polecat that holds a follow-up's name is
// that follow-up, made in an earlier pass (nil), or another's: another
// bead's, a person's, or a polecat of another purpose, which the follow-up
// must not take for its own.
func followUpHeld(holder *gastownv1.Polecat, bead *gastownv1.Bead, purpose gastownv1.PolecatPurpose) error {
	if !metav1.IsControlledBy(holder, bead) || holder.Spec.BeadID != bead.Name || holder.Spec.Purpose != purpose {
		return fmt.Errorf("polecat %s/%s exists for bead %q (purpose %q), not as %s's %s", holder.Namespace, holder.Name,
			holder.Spec.BeadID, holder.Spec.Purpose, bead.Name, purpose)
	}
	return nil
}

// followUp creates a revision or conflict polecat on the bead's branch, if
// it does not exist yet and the rig, not suspended, has a slot for it
// (errNoSlot if not).
func (r *RefineryReconciler) followUp(ctx context.Context, rig *gastownv1.Rig, bead *gastownv1.Bead, name string, purpose gastownv1.PolecatPurpose, branch, task string) error {
	key := types.NamespacedName{Namespace: bead.Namespace, Name: name}
	existing := &gastownv1.Polecat{}
	if err := r.Get(ctx, key, existing); err == nil {
		return followUpHeld(existing, bead, purpose) // made in an earlier pass, or another's
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	if rig.Spec.Suspend {
		return errRigSuspended
	}
	defer r.Created.Lock(rig.Name)()
	ok, err := r.hasSlot(ctx, rig, bead)
	if err != nil {
		return err
	}
	if !ok {
		return errNoSlot
	}
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: bead.Namespace,
			Labels: map[string]string{
				gastownv1.RigLabel: rig.Name, gastownv1.BeadLabel: bead.BeadID(),
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
	if err := r.Create(ctx, pc); apierrors.IsAlreadyExists(err) {
		// The cache had not seen it: made in an earlier pass, or another's.
		if err := r.APIReader.Get(ctx, key, existing); err != nil {
			return err
		}
		return followUpHeld(existing, bead, purpose)
	} else if err != nil {
		return fmt.Errorf("creating polecat %s: %w", name, err)
	}
	r.Created.Add(rig.Name, name)
	r.EventRecorder.Eventf(bead, corev1.EventTypeNormal, "FollowUp", "%s polecat %s started on %s", purpose, name, branch)
	return nil
}
