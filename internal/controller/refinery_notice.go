package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	"github.com/boshu2/gastown-operator/internal/refinery"
	"github.com/boshu2/gastown-operator/internal/witness"
)

// postNotice keeps the Refinery's one standing comment on the pull request
// up to date with what needs a person there: follow-up polecats that
// failed on its branch and the Witness's escalations of the bead's
// polecats. The comment is edited in place, and only when what it says
// changed.
func (r *RefineryReconciler) postNotice(ctx context.Context, provider refinery.Provider, ref *gastownv1.Refinery, mr *gastownv1.MergeRequest, number int, polecats []gastownv1.Polecat) error {
	notice, err := r.notice(ctx, ref, polecats)
	if err != nil || notice == "" || notice == mr.Status.Notice {
		return err
	}
	id, err := provider.Notice(ctx, number, mr.Status.NoticeCommentID, notice)
	if err != nil {
		return err
	}
	return r.setPR(ctx, mr, func(s *gastownv1.MergeRequestStatus) { s.Notice, s.NoticeCommentID = notice, id })
}

// notice is the comment's text: empty while nothing needs a person.
func (r *RefineryReconciler) notice(ctx context.Context, ref *gastownv1.Refinery, polecats []gastownv1.Polecat) (string, error) {
	var lines []string
	mine := map[string]bool{}
	for i := range polecats {
		pc := &polecats[i]
		mine[pc.Name] = true
		followUp := pc.Spec.Purpose == gastownv1.PurposeRevision || pc.Spec.Purpose == gastownv1.PurposeConflictFix
		if followUp && (pc.Status.Phase == gastownv1.PolecatPhaseFailed || pc.Status.Phase == gastownv1.PolecatPhaseTerminated) {
			lines = append(lines, fmt.Sprintf("- polecat `%s` (%s) %s: %s", pc.Name, strings.ToLower(string(pc.Spec.Purpose)), strings.ToLower(string(pc.Status.Phase)), dispatch.Failure(pc)))
		}
	}
	witnesses := &gastownv1.WitnessList{}
	if err := r.List(ctx, witnesses, client.InNamespace(ref.Namespace), client.MatchingFields{witnessRigIndex: ref.Spec.RigRef}, readOnly); err != nil {
		return "", err
	}
	for _, w := range witnesses.Items {
		for _, f := range w.Status.Findings {
			if mine[f.Polecat] && f.Action == witness.Escalate.Done() {
				lines = append(lines, fmt.Sprintf("- polecat `%s`: %s, %s; the Witness escalated it", f.Polecat, f.Reason, f.Message))
			}
		}
	}
	if len(lines) == 0 {
		return "", nil
	}
	sort.Strings(lines)
	return "**Gas Town refinery**: the work on this pull request needs a person.\n\n" + strings.Join(lines, "\n") + "\n", nil
}
