package dispatch

import (
	"slices"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Prerequisites returns, for each bead of specs by ID, the IDs of the other
// beads of specs that its readiness reads (Graph.Blockers and Hold): the
// beads it depends on, its parents, the beads it waits for and their
// children. A bead whose object is written before theirs would be taken for
// ready meanwhile: a bead that is missing blocks nothing.
func Prerequisites(specs []*gastownv1.BeadSpec) map[string][]string {
	present := make(map[string]bool, len(specs))
	children := map[string][]string{}
	for _, s := range specs {
		present[s.ID] = true
		for _, p := range s.Parents {
			children[p] = append(children[p], s.ID)
		}
	}
	out := make(map[string][]string, len(specs))
	for _, s := range specs {
		var pre []string
		add := func(id string) {
			if id != s.ID && present[id] && !slices.Contains(pre, id) {
				pre = append(pre, id)
			}
		}
		for _, id := range s.DependsOn {
			add(id)
		}
		for _, id := range s.Parents {
			add(id)
		}
		for _, id := range s.WaitsFor {
			add(id)
			for _, c := range children[id] {
				add(c)
			}
		}
		if len(pre) > 0 {
			out[s.ID] = pre
		}
	}
	return out
}

// Waves orders ids so that each comes in a later wave than its
// prerequisites (only those among ids count), each wave sorted. The beads
// of a cycle, which no order satisfies, and those that wait on them come
// last, in one wave.
func Waves(ids []string, prerequisites map[string][]string) [][]string {
	in := make(map[string]bool, len(ids))
	for _, id := range ids {
		in[id] = true
	}
	waiting := make(map[string]int, len(ids))
	dependents := map[string][]string{}
	for _, id := range ids {
		for _, p := range prerequisites[id] {
			if in[p] && p != id {
				waiting[id]++
				dependents[p] = append(dependents[p], id)
			}
		}
	}
	var wave []string
	for _, id := range ids {
		if waiting[id] == 0 {
			wave = append(wave, id)
		}
	}
	var waves [][]string
	placed := 0
	for len(wave) > 0 {
		slices.Sort(wave)
		waves = append(waves, wave)
		placed += len(wave)
		var next []string
		for _, id := range wave {
			for _, d := range dependents[id] {
				if waiting[d]--; waiting[d] == 0 {
					next = append(next, d)
				}
			}
		}
		wave = next
	}
	if placed < len(ids) {
		var cycle []string
		for _, id := range ids {
			if waiting[id] > 0 {
				cycle = append(cycle, id)
			}
		}
		slices.Sort(cycle)
		waves = append(waves, cycle)
	}
	return waves
}
