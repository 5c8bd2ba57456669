package beads

import (
	"fmt"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"slices"
	"strings"
)

// crossResult is what the checks across files found.
type crossResult struct {
	errs []Error
	// broken are files whose items take part in a problem reported in
	// another file: the other copy of a duplicate ID, the other beads of a
	// dependency cycle.
	broken map[string]bool
}

func (r *crossResult) add(file string, line int, format string, args ...any) {
	r.errs = append(r.errs, Error{File: file, Line: firstPositive(line), Message: fmt.Sprintf(format, args...)})
}

// crossValidate runs the checks that need every file: ID prefix, duplicate
// IDs, dependencies and tracked beads that name no bead, and dependency
// cycles. Beads and convoys come sorted by file and line, so a duplicate is
// reported at its later copy. Items of files with errors of their own take
// part: a bead in a broken file still exists.
func crossValidate(beads []beadItem, convoys []convoyItem, prefix string) crossResult {
	r := crossResult{broken: map[string]bool{}}
	for _, b := range beads {
		if prefix != "" && !strings.HasPrefix(b.ID, prefix) {
			r.add(b.File, b.Line, "bead ID %q does not start with the prefix %q", clip(b.ID), prefix)
		}
	}
	beadIDs := checkDuplicates(&r, "bead", beads, func(b beadItem) (string, string, int) { return b.ID, b.File, b.Line })
	checkObjectNames(&r, beads, beadIDs)
	checkDuplicates(&r, "convoy", convoys, func(c convoyItem) (string, string, int) { return c.ID, c.File, c.Line })
	checkDependencies(&r, beads, beadIDs)
	checkCycles(&r, beads, beadIDs)
	for _, c := range convoys {
		for i, id := range c.Spec.TrackedBeads {
			if _, ok := beadIDs[id]; !ok {
				r.add(c.File, c.trackedLines[i], "spec.trackedBeads: unknown bead %q", clip(id))
			}
		}
	}
	return r
}

// checkDuplicates reports every copy of an ID after the first, naming where
// the first is, and marks the files of both broken. It returns the index of
// the first item with each ID.
func checkDuplicates[T any](r *crossResult, noun string, items []T, key func(T) (id, file string, line int)) map[string]int {
	first := map[string]int{}
	for i, it := range items {
		id, file, line := key(it)
		j, dup := first[id]
		if !dup {
			first[id] = i
			continue
		}
		_, firstFile, firstLine := key(items[j])
		r.add(file, line, "duplicate %s ID %q (also defined at %s:%d)", noun, clip(id), firstFile, firstLine)
		r.broken[file], r.broken[firstFile] = true, true
	}
	return first
}

// checkObjectNames reports distinct bead IDs that map to one object name,
// which the hash in the name makes all but impossible, at the later bead.
func checkObjectNames(r *crossResult, beads []beadItem, first map[string]int) {
	names := map[string]int{}
	for i, b := range beads {
		if first[b.ID] != i {
			continue // a duplicate, reported already
		}
		name := gastownv1.BeadObjectName(b.ID)
		j, taken := names[name]
		if !taken {
			names[name] = i
			continue
		}
		other := beads[j]
		r.add(b.File, b.Line, "bead ID %q maps to the object name %q of bead %q (%s:%d): rename one of them", clip(b.ID), name, clip(other.ID), other.File, other.Line)
		r.broken[b.File], r.broken[other.File] = true, true
	}
}

func checkDependencies(r *crossResult, beads []beadItem, ids map[string]int) {
	for _, b := range beads {
		for i, dep := range b.Spec.DependsOn {
			_, known := ids[dep]
			switch {
			case dep == b.ID:
				r.add(b.File, b.depLines[i], "%s: bead %q depends on itself", b.depField, clip(dep))
			case !known:
				r.add(b.File, b.depLines[i], "%s: unknown bead %q", b.depField, clip(dep))
			}
		}
		for _, ref := range b.refs {
			switch _, known := ids[ref.id]; {
			case ref.id == b.ID:
				r.add(b.File, ref.line, "%s: bead %q names itself", ref.field, clip(ref.id))
			case !known:
				r.add(b.File, ref.line, "%s: unknown bead %q", ref.field, clip(ref.id))
			}
		}
	}
}

// checkCycles reports each group of beads that depend on each other in a
// circle once, as one cycle through the group's first bead, and marks the
// file of every bead in the group broken: none of them could ever be ready.
// Self-dependencies are reported by checkDependencies.
func checkCycles(r *crossResult, beads []beadItem, ids map[string]int) {
	g := newDependencyGraph(beads, ids)
	for _, group := range g.stronglyConnected() {
		if len(group) < 2 {
			continue
		}
		inGroup := map[int]bool{}
		for _, v := range group {
			inGroup[v] = true
		}
		start := slices.Min(group) // nodes are numbered in file order
		cycle := g.shortestCycle(start, inGroup)
		from := g.beadOf(cycle[0], cycle[1], beads)
		r.add(from.File, from.depLineTo(g.ids[cycle[1]]), "dependency cycle: %s", g.describeCycle(cycle))
		for _, b := range beads {
			if inGroup[ids[b.ID]] {
				r.broken[b.File] = true
			}
		}
	}
}

// depLineTo returns the line of the dependency on id.
func (b beadItem) depLineTo(id string) int {
	if i := slices.Index(b.Spec.DependsOn, id); i >= 0 {
		return b.depLines[i]
	}
	return b.Line
}

// dependencyGraph has a node per bead ID, numbered by the first bead with
// that ID, and an edge from a bead to each known bead it depends on.
type dependencyGraph struct {
	ids   []string // node → bead ID
	edges [][]int  // node → the nodes it depends on, in file order
}

func newDependencyGraph(beads []beadItem, ids map[string]int) *dependencyGraph {
	g := &dependencyGraph{ids: make([]string, len(beads)), edges: make([][]int, len(beads))}
	for i, b := range beads {
		g.ids[i] = b.ID
		node := ids[b.ID]
		for _, dep := range b.Spec.DependsOn {
			if to, ok := ids[dep]; ok && to != node && !slices.Contains(g.edges[node], to) {
				g.edges[node] = append(g.edges[node], to)
			}
		}
	}
	return g
}

// stronglyConnected returns the strongly connected components of the graph
// (Tarjan's algorithm): the groups of beads that all wait for each other.
func (g *dependencyGraph) stronglyConnected() [][]int {
	n := len(g.ids)
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var groups [][]int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.edges[v] {
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var group []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			group = append(group, w)
			if w == v {
				break
			}
		}
		groups = append(groups, group)
	}
	for v := range n {
		if index[v] < 0 {
			visit(v)
		}
	}
	return groups
}

// shortestCycle returns a shortest path from start back to start through
// the nodes of group, start included at both ends.
func (g *dependencyGraph) shortestCycle(start int, group map[int]bool) []int {
	prev := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.edges[v] {
			if w == start {
				return append(g.pathTo(v, start, prev), start)
			}
			if _, seen := prev[w]; !seen && group[w] {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []int{start, start} // not reached: every node of a group is on a cycle
}

// pathTo returns the path from start to v that prev records.
func (g *dependencyGraph) pathTo(v, start int, prev map[int]int) []int {
	path := []int{v}
	for v != start {
		v = prev[v]
		path = append(path, v)
	}
	slices.Reverse(path)
	return path
}

// maxCycleNames bounds the beads a cycle's message names.
const maxCycleNames = 10

// describeCycle names the beads of a cycle, as "gt-a -> gt-b -> gt-a".
func (g *dependencyGraph) describeCycle(cycle []int) string {
	var names []string
	for _, v := range cycle {
		names = append(names, clip(g.ids[v]))
	}
	if len(names) <= maxCycleNames+1 {
		return strings.Join(names, " -> ")
	}
	more := len(names) - 1 - maxCycleNames
	return fmt.Sprintf("%s -> ... (%d more) -> %s", strings.Join(names[:maxCycleNames], " -> "), more, names[0])
}

// beadOf returns the first bead with the ID of node from that depends on
// node to.
func (g *dependencyGraph) beadOf(from, to int, beads []beadItem) beadItem {
	for _, b := range beads {
		if b.ID == g.ids[from] && slices.Contains(b.Spec.DependsOn, g.ids[to]) {
			return b
		}
	}
	return beads[from]
}
