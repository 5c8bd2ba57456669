package dispatch

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Reasons a bead that is not blocked is still not dispatched, for its Ready
// condition.
const (
	// ClaimedReason: the file says someone is on it (in_progress, hooked).
	ClaimedReason = "Claimed"
	// HeldReason: the file holds it (blocked, deferred, pinned), or its
	// parent is deferred.
	HeldReason = "Held"
	// EpicReason: an epic is not dispatched; its children are.
	EpicReason = "Epic"
	// NotWorkReason: a type the BeadStore does not dispatch (bd's workflow
	// and identity types, or one left out of spec.workTypes), or an
	// ephemeral bead.
	NotWorkReason = "NotWork"
)

// Source gives the readiness computation the beads it looks at, by bead ID.
type Source interface {
	// Bead returns the spec of the bead with the ID, or false when the rig
	// has none (a missing dependency blocks nothing, as in bd).
	Bead(id string) (*gastownv1.BeadSpec, bool)
	// Children returns the specs of the beads that list id in their
	// parents. Only waits-for gates ask for them.
	Children(id string) []*gastownv1.BeadSpec
}

// MapSource is a Source over specs in memory, keyed by spec.ID.
type MapSource struct {
	byID     map[string]*gastownv1.BeadSpec
	children map[string][]*gastownv1.BeadSpec
}

// NewMapSource indexes specs by their ID and by their parents.
func NewMapSource(specs []*gastownv1.BeadSpec) *MapSource {
	m := &MapSource{byID: make(map[string]*gastownv1.BeadSpec, len(specs)), children: map[string][]*gastownv1.BeadSpec{}}
	for _, s := range specs {
		m.byID[s.ID] = s
		for _, p := range s.Parents {
			m.children[p] = append(m.children[p], s)
		}
	}
	return m
}

// Bead implements Source.
func (m *MapSource) Bead(id string) (*gastownv1.BeadSpec, bool) {
	s, ok := m.byID[id]
	return s, ok
}

// Children implements Source.
func (m *MapSource) Children(id string) []*gastownv1.BeadSpec { return m.children[id] }

// SourceOfBeads is a MapSource over Bead objects, spec.id filled in from
// the name for beads without one.
func SourceOfBeads(beads []gastownv1.Bead) *MapSource {
	specs := make([]*gastownv1.BeadSpec, len(beads))
	for i := range beads {
		specs[i] = &beads[i].Spec
		if specs[i].ID == "" {
			s := beads[i].Spec
			s.ID = beads[i].Name
			specs[i] = &s
		}
	}
	return NewMapSource(specs)
}

// Graph computes which beads are blocked, as bd's blocked computation does
// (beads' internal/storage/issueops): a bead that is not closed or pinned
// is blocked
//   - by a blocks or conditional-blocks dependency (spec.dependsOn) on a
//     bead that exists and is active (not closed or pinned; deleted
//     issues have no bead, so a dependency on one is satisfied);
//   - when one of its parents (parent-child) is blocked, up the whole
//     tree; an open parent alone holds nothing;
//   - by a waits-for gate on a bead with an active child; with the
//     any-children gate, only until one child is closed.
//
// Other dependency types never block. Results are remembered: a Graph is
// for one decision.
type Graph struct {
	src     Source
	blocked map[string]int8 // 0 unknown, 1 computing, 2 blocked, 3 not
}

// NewGraph returns a Graph over src.
func NewGraph(src Source) *Graph { return &Graph{src: src, blocked: map[string]int8{}} }

// Blockers returns what blocks spec, in words ("gt-a", "parent gt-e is
// blocked"), or nil when nothing does.
func (g *Graph) Blockers(spec *gastownv1.BeadSpec) []string {
	if !spec.Status.Active() {
		return nil
	}
	var out []string
	for _, id := range spec.DependsOn {
		if t, ok := g.src.Bead(id); ok && id != spec.ID && t.Status.Active() {
			out = append(out, id)
		}
	}
	for _, id := range spec.Parents {
		if id != spec.ID && g.isBlocked(id) {
			out = append(out, "parent "+id+" (blocked)")
		}
	}
	for _, id := range spec.WaitsFor {
		if g.gateShut(id, slices.Contains(spec.WaitsForAny, id)) {
			out = append(out, "the children of "+id)
		}
	}
	return out
}

// IsBlocked says whether the bead with the ID is blocked; a bead that does
// not exist is not.
func (g *Graph) IsBlocked(id string) bool { return g.isBlocked(id) }

func (g *Graph) isBlocked(id string) bool {
	switch g.blocked[id] {
	case 1:
		return false // a parent cycle: bd's fixpoint leaves it unblocked
	case 2:
		return true
	case 3:
		return false
	}
	spec, ok := g.src.Bead(id)
	if !ok {
		g.blocked[id] = 3
		return false
	}
	g.blocked[id] = 1
	blocked := len(g.Blockers(spec)) > 0
	g.blocked[id] = 3
	if blocked {
		g.blocked[id] = 2
	}
	return blocked
}

// gateShut says whether a waits-for gate on spawner holds: one of its
// children is active, and with any-children none of them is closed.
func (g *Graph) gateShut(spawner string, any bool) bool {
	active, closed := false, false
	for _, c := range g.src.Children(spawner) {
		switch {
		case c.Status == gastownv1.BeadClosed:
			closed = true
		case c.Status.Active():
			active = true
		}
	}
	return active && !(any && closed)
}

// Hold says why a bead that is not blocked is not dispatched, as a reason
// and a message, or returns "" when it is work to dispatch: an open,
// non-ephemeral bead of one of workTypes (DefaultWorkTypes when empty),
// whose parents are not deferred. It follows bd's ready work: bd offers
// open (and in_progress) issues that are not ephemeral and whose parents
// are not deferred; in_progress and hooked are left out here because
// someone, or a local Gas Town agent, is on them.
func Hold(spec *gastownv1.BeadSpec, workTypes []gastownv1.BeadType, src Source) (reason, message string) {
	if len(workTypes) == 0 {
		workTypes = gastownv1.DefaultWorkTypes
	}
	switch spec.Status {
	case gastownv1.BeadOpen, "":
	case gastownv1.BeadInProgress, gastownv1.BeadHooked:
		return ClaimedReason, fmt.Sprintf("status %s in the file: someone is on it already", spec.Status)
	case gastownv1.BeadClosed:
		return "Closed", "the bead is closed in git"
	default:
		return HeldReason, fmt.Sprintf("status %s in the file holds it", spec.Status)
	}
	if spec.Ephemeral {
		return NotWorkReason, "an ephemeral bead is not work: it is never dispatched"
	}
	typ := spec.Type
	if typ == "" {
		typ = "task"
	}
	if !slices.Contains(workTypes, typ) {
		if typ == "epic" {
			return EpicReason, "an epic is not dispatched: its children are; it is done when it is closed in its file (bd close, or bd epic close-eligible once its children are closed)"
		}
		return NotWorkReason, fmt.Sprintf("type %s is not dispatched (dispatched types: %s)", typ, joinTypes(workTypes))
	}
	if src != nil {
		for _, id := range spec.Parents {
			if p, ok := src.Bead(id); ok && p.Status == gastownv1.BeadDeferred {
				return HeldReason, fmt.Sprintf("parent %s is deferred", id)
			}
		}
	}
	return "", ""
}

func joinTypes(types []gastownv1.BeadType) string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Ready returns the specs that would be dispatched now, were there slots
// and no polecats yet, in dispatch order: priority, then ID. It is what
// `kubectl gt ready` prints, the rule the dispatcher follows.
func Ready(specs []*gastownv1.BeadSpec, workTypes []gastownv1.BeadType) []*gastownv1.BeadSpec {
	src := NewMapSource(specs)
	g := NewGraph(src)
	var out []*gastownv1.BeadSpec
	for _, s := range specs {
		if reason, _ := Hold(s, workTypes, src); reason != "" {
			continue
		}
		if len(g.Blockers(s)) > 0 {
			continue
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if pi, pj := out[i].PriorityValue(), out[j].PriorityValue(); pi != pj {
			return pi < pj
		}
		return out[i].ID < out[j].ID
	})
	return out
}
