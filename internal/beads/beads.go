// Package beads reads bead files: the Bead and Convoy manifests a project
// commits under its BeadStore path, or the issues.jsonl of the beads (bd)
// tool. It validates them as the API server would, plus the rules only a
// whole set of files can check (duplicate IDs, unknown dependencies, cycles),
// and reports every problem as FILE:LINE: message. It also closes a bead in
// its file, changing nothing else in it.
//
// The package has no Kubernetes client: the BeadStore reconciler and
// `kubectl gt validate` share it.
package beads

import (
	"fmt"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// DefaultMaxFileSize bounds the size of a bead manifest when
// Options.MaxFileSize is not set.
const DefaultMaxFileSize int64 = 1 << 20

// DefaultMaxJSONLSize bounds the size of an issues.jsonl when
// Options.MaxJSONLSize is not set: the most the BeadStore unpacks of an
// artifact, so that any issues.jsonl Flux delivers is read.
const DefaultMaxJSONLSize int64 = 200 << 20

// MaxIDLength is the longest bead ID: it is a label value on the bead's
// objects. Object names are derived from it (see
// gastownv1.BeadObjectName), and fit whatever its length.
const MaxIDLength = 63

// Bead is one bead read from a file.
type Bead struct {
	// ID is the bead ID: metadata.name in a manifest, id in issues.jsonl.
	ID string
	// Spec is what the API server would store for the bead: defaults
	// applied, SourcePath set to File, RigRef empty.
	Spec gastownv1.BeadSpec
	// Labels and Annotations are the manifest's metadata.labels and
	// metadata.annotations, to be put on the Bead object.
	Labels      map[string]string
	Annotations map[string]string
	// File is the slash path of the file, relative to the root Load read.
	File string
	// Line is the line of the bead's ID in File.
	Line int
	// FieldLines are the lines of the fields under spec.agent and
	// spec.resources, by path (spec.agent.env[0].valueFrom), for the
	// messages of a Policy; nil when the bead sets neither.
	FieldLines map[string]int
}

// Convoy is one convoy read from a manifest.
type Convoy struct {
	// ID is metadata.name.
	ID string
	// Spec as the API server would store it; RigRef empty.
	Spec gastownv1.ConvoySpec
	// Labels and Annotations are the manifest's metadata.
	Labels      map[string]string
	Annotations map[string]string
	// File is the slash path of the file, relative to the root Load read.
	File string
	// Line is the line of the convoy's ID in File.
	Line int
}

// Error is a problem in a bead file.
type Error struct {
	// File is the slash path of the file, relative to the root Load read.
	File string
	// Line is the line at fault, from 1. Problems with a whole file (too
	// large, unreadable) are reported at line 1.
	Line int
	// Message says what is wrong, naming the field or ID at fault.
	Message string
}

// Error formats the problem as FILE:LINE: message, the form editors and CI
// systems link to.
func (e Error) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
}

// Options say how Load reads bead files.
type Options struct {
	// Format of the files: manifests when empty.
	Format gastownv1.BeadFormat
	// Prefix every bead ID must start with, such as "gt-"; any when empty.
	Prefix string
	// MaxFileSize bounds the size of one manifest file: DefaultMaxFileSize
	// when zero.
	MaxFileSize int64
	// MaxJSONLSize bounds the size of issues.jsonl: DefaultMaxJSONLSize when
	// zero.
	MaxJSONLSize int64
}

// Set is everything Load read: the items of every file, including broken
// ones, and the problems found.
type Set struct {
	// Beads and Convoys of every file, sorted by File and Line. Items of
	// broken files are included so that references to them resolve; use
	// Good for the items that may be applied.
	Beads   []Bead
	Convoys []Convoy
	// Errors sorted by File and Line.
	Errors []Error
	// Warnings sorted by File and Line: problems that stop no bead, such
	// as an issues.jsonl's duplicated ID or a dependency on an issue that
	// is not in the file.
	Warnings []Error
	// Files are the bead files read, sorted.
	Files []string
	// BrokenFiles are the files whose items must not be applied: files with
	// an error, and files whose beads take part in a duplicate ID or a
	// dependency cycle reported in another file.
	BrokenFiles map[string]bool
	// BrokenBeads are the IDs of beads whose own line is broken in an
	// issues.jsonl, whose file is not broken: only they are not applied.
	// The value is the line.
	BrokenBeads map[string]int
}

// Good returns the beads and convoys of the files that are not broken,
// less the broken lines of an issues.jsonl: the Set's own, not copies of
// thousands of beads.
func (s *Set) Good() ([]*Bead, []*Convoy) {
	beads := make([]*Bead, 0, len(s.Beads))
	for i := range s.Beads {
		b := &s.Beads[i]
		if _, broken := s.BrokenBeads[b.ID]; !broken && !s.BrokenFiles[b.File] {
			beads = append(beads, b)
		}
	}
	var convoys []*Convoy
	for i := range s.Convoys {
		if c := &s.Convoys[i]; !s.BrokenFiles[c.File] {
			convoys = append(convoys, c)
		}
	}
	return beads, convoys
}

// fileErrors collects the errors of one file, up to maxErrorsPerFile.
type fileErrors struct {
	file string
	list []Error
	// count counts every error, recorded or not.
	count int
}

func (e *fileErrors) add(line int, format string, args ...any) {
	e.count++
	switch {
	case len(e.list) > maxErrorsPerFile:
		return
	case len(e.list) == maxErrorsPerFile:
		format, args = "too many errors; fix the ones above first", nil
	}
	e.list = append(e.list, Error{File: e.file, Line: firstPositive(line), Message: fmt.Sprintf(format, args...)})
}
