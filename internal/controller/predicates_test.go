package controller

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/event"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
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
