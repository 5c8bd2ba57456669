package beads

import (
	"fmt"
	"strings"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// newJSONLSet checks the lines of one issues.jsonl against each other. Each
// line stands alone, as in bd: a broken line is left out and the rest of the
// file is applied. A duplicated ID keeps its newer copy (bd's updated_at,
// the later line on a tie), with a warning naming both lines. A dependency
// on an issue that is not in the file, or in another repository, blocks
// nothing (as in bd) and is a warning; one on a deleted issue (a tombstone)
// is satisfied.
func newJSONLSet(files []string, p parsedFile, prefix string) *Set {
	broken := map[int]bool{}
	for line := range p.brokenLines {
		broken[line] = true
	}
	errs := append([]Error(nil), p.errs...)
	warnings := append([]Error(nil), p.warnings...)
	file := ""
	if len(files) > 0 {
		file = files[0]
	}
	errAt := func(line int, format string, args ...any) {
		errs = append(errs, Error{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
		broken[line] = true
	}
	warnAt := func(line int, format string, args ...any) {
		warnings = append(warnings, Error{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
	}

	// Duplicates: the newer copy wins.
	kept := map[string]int{} // ID -> index in p.beads of the copy kept
	var order []string
	for i, b := range p.beads {
		j, dup := kept[b.ID]
		if !dup {
			kept[b.ID] = i
			order = append(order, b.ID)
			continue
		}
		old := p.beads[j]
		winner, loser := b, old
		if newer(b.updatedAt, old.updatedAt) {
			winner, loser = old, b
		}
		warnAt(b.Line, "duplicate bead ID %q (also on line %d): the copy on line %d is used, its updated_at %s being newer than %s on line %d",
			clip(b.ID), old.Line, winner.Line, quoteOrNone(winner.updatedAt), quoteOrNone(loser.updatedAt), loser.Line)
		if winner.Line == b.Line {
			kept[b.ID] = i
		}
	}
	items := make([]beadItem, 0, len(order))
	for _, id := range order {
		items = append(items, p.beads[kept[id]])
	}

	names := map[string]string{} // object name -> ID
	for _, b := range items {
		if broken[b.Line] {
			continue
		}
		if prefix != "" && !strings.HasPrefix(b.ID, prefix) {
			errAt(b.Line, "bead ID %q does not start with the prefix %q", clip(b.ID), prefix)
			continue
		}
		name := gastownv1.BeadObjectName(b.ID)
		if other, taken := names[name]; taken {
			errAt(b.Line, "bead ID %q maps to the object name %q of bead %q: rename one of them", clip(b.ID), name, clip(other))
			continue
		}
		names[name] = b.ID
	}

	ids := map[string]int{}
	for i, b := range items {
		ids[b.ID] = i
	}
	for _, b := range items {
		if broken[b.Line] {
			continue
		}
		check := func(id, what string) {
			_, known := ids[id]
			switch {
			case id == b.ID:
				warnAt(b.Line, "bead %q has a %s on itself; it is ignored", clip(b.ID), what)
			case strings.HasPrefix(id, externalPrefix):
				warnAt(b.Line, "bead %q has a %s on %q in another repository; it is not followed and blocks nothing", clip(b.ID), what, clip(id))
			case !known && !p.tombstones[id]:
				warnAt(b.Line, "bead %q has a %s on %q, which is not in the file; it blocks nothing", clip(b.ID), what, clip(id))
			}
		}
		for _, id := range b.Spec.DependsOn {
			check(id, "blocking dependency")
		}
		for _, id := range b.Spec.Parents {
			check(id, "parent-child dependency")
		}
		for _, id := range b.Spec.WaitsFor {
			check(id, "waits-for dependency")
		}
	}
	// A cycle of blocking dependencies holds its beads for ever, in bd as
	// here: a warning, at the first bead on it.
	var cross crossResult
	cross.broken = map[string]bool{}
	checkCycles(&cross, items, ids)
	warnings = append(warnings, cross.errs...)

	sortErrors(errs)
	sortErrors(warnings)
	set := &Set{
		Beads:       beadsOf(items),
		Errors:      errs,
		Warnings:    warnings,
		Files:       files,
		BrokenFiles: map[string]bool{},
		BrokenBeads: map[string]int{},
	}
	for _, b := range items {
		if broken[b.Line] {
			set.BrokenBeads[b.ID] = b.Line
		}
	}
	for _, br := range p.brokenIDs {
		if _, ok := ids[br.id]; !ok {
			set.BrokenBeads[br.id] = br.line
		}
	}
	for _, e := range errs {
		if e.Line == 1 && len(p.beads) == 0 && len(p.brokenLines) == 0 {
			// A file that could not be read at all.
			set.BrokenFiles[e.File] = true
		}
	}
	return set
}

// newer says whether bd timestamp b is later than a. Timestamps that do
// not parse compare as text.
func newer(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	if errA == nil && errB == nil {
		return tb.After(ta)
	}
	return b > a
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return `"` + s + `"`
}
