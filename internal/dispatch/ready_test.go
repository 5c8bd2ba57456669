package dispatch

import (
	"strings"
	"testing"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// spec builds a bead spec: "id status type" and options.
func spec(id string, status gastownv1.BeadFileStatus, typ gastownv1.BeadType, opts ...func(*gastownv1.BeadSpec)) *gastownv1.BeadSpec {
	s := &gastownv1.BeadSpec{ID: id, Title: id, Status: status, Type: typ}
	for _, o := range opts {
		o(s)
	}
	return s
}

func blocks(ids ...string) func(*gastownv1.BeadSpec) {
	return func(s *gastownv1.BeadSpec) { s.DependsOn = ids }
}
func parents(ids ...string) func(*gastownv1.BeadSpec) {
	return func(s *gastownv1.BeadSpec) { s.Parents = ids }
}
func waitsFor(id string, any bool) func(*gastownv1.BeadSpec) {
	return func(s *gastownv1.BeadSpec) {
		s.WaitsFor = []string{id}
		if any {
			s.WaitsForAny = []string{id}
		}
	}
}
func priority(p int32) func(*gastownv1.BeadSpec) {
	return func(s *gastownv1.BeadSpec) { s.Priority = &p }
}

const (
	open   = gastownv1.BeadOpen
	closed = gastownv1.BeadClosed
)

func TestReadyFollowsBd(t *testing.T) {
	tests := []struct {
		name  string
		specs []*gastownv1.BeadSpec
		types []gastownv1.BeadType
		want  string
	}{
		{name: "an open blocker holds; a closed or pinned one does not",
			specs: []*gastownv1.BeadSpec{spec("a", open, "task", blocks("b")), spec("b", open, "task"),
				spec("c", open, "task", blocks("d")), spec("d", closed, "task"),
				spec("e", open, "task", blocks("f")), spec("f", gastownv1.BeadPinned, "task")},
			want: "b c e"},
		{name: "every active status holds its dependents",
			specs: []*gastownv1.BeadSpec{spec("a", open, "task", blocks("b", "c", "d", "e")), spec("b", gastownv1.BeadInProgress, "task"),
				spec("c", gastownv1.BeadHooked, "task"), spec("d", gastownv1.BeadBlocked, "task"), spec("e", gastownv1.BeadDeferred, "task"),
				spec("x", open, "task", blocks("e"))},
			want: ""},
		{name: "missing and external targets block nothing",
			specs: []*gastownv1.BeadSpec{spec("a", open, "task", blocks("gone", "external:beads:bd-1"))},
			want:  "a"},
		{name: "an open epic does not hold its children; the epic is not dispatched",
			specs: []*gastownv1.BeadSpec{spec("e", open, "epic"), spec("e.1", open, "task", parents("e")), spec("e.2", open, "bug", parents("e"))},
			want:  "e.1 e.2"},
		{name: "a child of a blocked parent is blocked, down the whole tree",
			specs: []*gastownv1.BeadSpec{spec("g", open, "task"), spec("e", open, "epic", blocks("g")),
				spec("e.1", open, "epic", parents("e")), spec("e.1.1", open, "task", parents("e.1")),
				spec("other", open, "task", parents("unknown"))},
			want: "g other"},
		{name: "one blocked parent of two is enough",
			specs: []*gastownv1.BeadSpec{spec("p1", open, "epic"), spec("p2", open, "epic", blocks("x")), spec("x", open, "chore"),
				spec("c", open, "task", parents("p1", "p2"))},
			want: "x"},
		{name: "a parent that is only in progress holds nothing",
			specs: []*gastownv1.BeadSpec{spec("p", gastownv1.BeadInProgress, "feature"), spec("c", open, "task", parents("p"))},
			want:  "c"},
		{name: "a deferred parent holds its children, as bd's ready work does",
			specs: []*gastownv1.BeadSpec{spec("p", gastownv1.BeadDeferred, "epic"), spec("c", open, "task", parents("p"))},
			want:  ""},
		{name: "claimed and held statuses are not dispatched",
			specs: []*gastownv1.BeadSpec{spec("a", gastownv1.BeadInProgress, "task"), spec("b", gastownv1.BeadHooked, "task"),
				spec("c", gastownv1.BeadBlocked, "task"), spec("d", gastownv1.BeadDeferred, "task"), spec("e", gastownv1.BeadPinned, "task"),
				spec("f", closed, "task"), spec("g", open, "task")},
			want: "g"},
		{name: "workflow and identity types are never dispatched but still hold their dependents",
			specs: []*gastownv1.BeadSpec{spec("gate", open, "gate"), spec("mr", open, "merge-request"), spec("m", open, "molecule"),
				spec("a", open, "task", blocks("gate")), spec("b", open, "task", blocks("mr"))},
			want: ""},
		{name: "a BeadStore may widen the work types",
			specs: []*gastownv1.BeadSpec{spec("e", open, "epic"), spec("d", open, "decision"), spec("t", open, "task")},
			types: []gastownv1.BeadType{"task", "epic"}, want: "e t"},
		{name: "ephemeral beads are not work",
			specs: []*gastownv1.BeadSpec{spec("w", open, "task", func(s *gastownv1.BeadSpec) { s.Ephemeral = true })},
			want:  ""},
		{name: "waits-for holds while the spawner has an active child",
			specs: []*gastownv1.BeadSpec{spec("s", closed, "molecule"), spec("s.1", open, "task", parents("s")), spec("s.2", closed, "task", parents("s")),
				spec("all", open, "task", waitsFor("s", false)), spec("any", open, "task", waitsFor("s", true))},
			want: "any s.1"},
		{name: "waits-for opens when every child is closed",
			specs: []*gastownv1.BeadSpec{spec("s", open, "molecule"), spec("s.1", closed, "task", parents("s")), spec("w", open, "task", waitsFor("s", false))},
			want:  "w"},
		{name: "dispatch order: priority, then ID",
			specs: []*gastownv1.BeadSpec{spec("b", open, "task", priority(2)), spec("a", open, "task", priority(2)), spec("z", open, "bug", priority(0))},
			want:  "z a b"},
		{name: "a parent cycle does not loop",
			specs: []*gastownv1.BeadSpec{spec("a", open, "task", parents("b")), spec("b", open, "task", parents("a"))},
			want:  "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range Ready(tt.specs, tt.types) {
				got = append(got, s.ID)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("ready %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestEvaluateExplainsHolds(t *testing.T) {
	tests := []struct {
		name   string
		spec   gastownv1.BeadSpec
		others []gastownv1.Bead
		phase  gastownv1.BeadPhase
		reason string
		msg    string
	}{
		{name: "in progress", spec: gastownv1.BeadSpec{Status: gastownv1.BeadInProgress}, phase: gastownv1.BeadPhaseOpen, reason: ClaimedReason, msg: "someone is on it"},
		{name: "epic", spec: gastownv1.BeadSpec{Type: "epic"}, phase: gastownv1.BeadPhaseOpen, reason: EpicReason, msg: "its children are"},
		{name: "gate", spec: gastownv1.BeadSpec{Type: "gate"}, phase: gastownv1.BeadPhaseOpen, reason: NotWorkReason, msg: "type gate is not dispatched"},
		{name: "blocked epic", spec: gastownv1.BeadSpec{Type: "epic", DependsOn: []string{"gt-x"}}, others: []gastownv1.Bead{bead("gt-x")},
			phase: gastownv1.BeadPhaseBlocked, msg: "waiting for gt-x to close"},
		{name: "child of a blocked parent", spec: gastownv1.BeadSpec{Parents: []string{"gt-e"}},
			others: []gastownv1.Bead{bead("gt-e", func(b *gastownv1.Bead) { b.Spec.Type = "epic"; b.Spec.DependsOn = []string{"gt-x"} }), bead("gt-x")},
			phase:  gastownv1.BeadPhaseBlocked, msg: "blocked by parent gt-e (blocked)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bead("gt-a")
			tt.spec.Title, tt.spec.RigRef = "A", b.Spec.RigRef
			if tt.spec.Status == "" {
				tt.spec.Status = open
			}
			b.Spec = tt.spec
			st := Evaluate(&b, nil, nil, NewGraph(SourceOfBeads(append([]gastownv1.Bead{b}, tt.others...))), defaultRig, t0)
			if st.Phase != tt.phase || (tt.reason != "" && st.Reason != tt.reason) || !strings.Contains(st.Message, tt.msg) {
				t.Errorf("got %s %s %q, want %s %s %q", st.Phase, st.Reason, st.Message, tt.phase, tt.reason, tt.msg)
			}
		})
	}
}
