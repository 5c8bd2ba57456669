package controller

import (
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

func TestReviewBeadPassesTheBeadsTheRefineryCounts(t *testing.T) {
	bead := func(phase gastownv1.BeadPhase, pr *gastownv1.PullRequestStatus) *gastownv1.Bead {
		b := &gastownv1.Bead{}
		b.Status.Phase, b.Status.PullRequest = phase, pr
		return b
	}
	open := &gastownv1.PullRequestStatus{Number: 7, State: gastownv1.PullRequestOpen}
	p := reviewBead()
	for _, tc := range []struct {
		name     string
		old, new *gastownv1.Bead
		want     bool
	}{
		{"synced", bead("", nil), bead(gastownv1.BeadPhaseOpen, nil), false},
		{"dispatched", bead(gastownv1.BeadPhaseReady, nil), bead(gastownv1.BeadPhaseWorking, nil), false},
		{"pushed", bead(gastownv1.BeadPhaseWorking, nil), bead(gastownv1.BeadPhaseInReview, nil), true},
		{"revised", bead(gastownv1.BeadPhaseInReview, open), bead(gastownv1.BeadPhaseWorking, open), true},
		{"merged", bead(gastownv1.BeadPhaseInReview, open), bead(gastownv1.BeadPhaseMerged, open), true},
		{"failed without a pull request", bead(gastownv1.BeadPhaseWorking, nil), bead(gastownv1.BeadPhaseFailed, nil), true},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: update passed = %v, want %v", tc.name, got, tc.want)
		}
	}
	if p.Create(event.CreateEvent{Object: bead("", nil)}) {
		t.Error("a new bead, not yet in review, passed")
	}
	if !p.Delete(event.DeleteEvent{Object: bead(gastownv1.BeadPhaseInReview, open)}) {
		t.Error("a bead deleted in review did not pass")
	}
}

func TestRigLimitsChangedPassesWhatChangesABeadsPhase(t *testing.T) {
	rig := func(edit func(*gastownv1.Rig)) *gastownv1.Rig {
		r := &gastownv1.Rig{}
		r.Name = "r"
		edit(r)
		return r
	}
	base := rig(func(*gastownv1.Rig) {})
	p := rigLimitsChanged()
	for _, tc := range []struct {
		name string
		new  *gastownv1.Rig
		want bool
	}{
		{"suspended", rig(func(r *gastownv1.Rig) { r.Spec.Suspend = true }), false},
		{"more polecats", rig(func(r *gastownv1.Rig) { r.Spec.Settings.MaxPolecats = 50 }), false},
		{"fewer retries", rig(func(r *gastownv1.Rig) { r.Spec.Settings.MaxRetries = new(int32(1)) }), true},
		{"another agent", rig(func(r *gastownv1.Rig) { r.Spec.Agent = gastownv1.AgentOpenCode }), true},
		{"an agent policy", rig(func(r *gastownv1.Rig) {
			r.Spec.AgentPolicy = &gastownv1.AgentPolicy{Images: []string{"registry.example.com/agent:1"}}
		}), true},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: update passed = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !p.Create(event.CreateEvent{Object: base}) || !p.Delete(event.DeleteEvent{Object: base}) {
		t.Error("a rig's creation and deletion must pass")
	}
}

func TestPolecatOutcomeChangedPassesWhatABeadReads(t *testing.T) {
	polecat := func(edit func(*gastownv1.Polecat)) *gastownv1.Polecat {
		pc := &gastownv1.Polecat{}
		pc.Name, pc.Generation = "bd-1-1", 1
		pc.Spec.BeadID = "bd-1"
		pc.Status.Phase = gastownv1.PolecatPhaseWorking
		pc.Status.Conditions = []metav1.Condition{{Type: meta.ReadyCondition, Status: metav1.ConditionUnknown, Reason: "Progressing", Message: "the agent works"}}
		edit(pc)
		return pc
	}
	base := polecat(func(*gastownv1.Polecat) {})
	now := metav1.Now()
	p := polecatOutcomeChanged()
	for _, tc := range []struct {
		name string
		new  *gastownv1.Polecat
		want bool
	}{
		{"resynced", polecat(func(*gastownv1.Polecat) {}), false},
		{"its pod named", polecat(func(pc *gastownv1.Polecat) { pc.Status.PodName = "bd-1-1-abcde" }), false},
		{"a restart counted", polecat(func(pc *gastownv1.Polecat) { pc.Status.Attempts = 2 }), false},
		{"its pod ready", polecat(func(pc *gastownv1.Polecat) {
			pc.Status.Conditions = append(pc.Status.Conditions, metav1.Condition{Type: gastownv1.PodReadyCondition, Status: metav1.ConditionTrue})
		}), false},
		{"finished", polecat(func(pc *gastownv1.Polecat) { pc.Status.Phase = gastownv1.PolecatPhaseSucceeded }), true},
		{"a result", polecat(func(pc *gastownv1.Polecat) {
			pc.Status.Result = &gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, Branch: "polecat/bd-1"}
		}), true},
		{"completed", polecat(func(pc *gastownv1.Polecat) { pc.Status.CompletedAt = &now }), true},
		{"a failure's message", polecat(func(pc *gastownv1.Polecat) { pc.Status.Conditions[0].Message = "the pod was evicted" }), true},
		{"a retry", polecat(func(pc *gastownv1.Polecat) { pc.Annotations = map[string]string{dispatch.RetryAnnotation: "1"} }), true},
		{"its spec", polecat(func(pc *gastownv1.Polecat) { pc.Generation = 2; pc.Spec.DesiredState = gastownv1.DesiredTerminated }), true},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: update passed = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !p.Create(event.CreateEvent{Object: base}) || !p.Delete(event.DeleteEvent{Object: base}) {
		t.Error("a polecat's creation and deletion must pass")
	}
}
