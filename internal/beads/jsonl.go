package beads

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// JSONLFile is the name of the beads tool's export in its directory.
const JSONLFile = "issues.jsonl"

// jsonlIssue holds the fields of a bd issue that make a bead. bd writes many
// more (created_at, assignee, notes, ...); they are ignored.
type jsonlIssue struct {
	ID                 string            `json:"id"`
	Title              string            `json:"title"`
	Description        string            `json:"description"`
	AcceptanceCriteria string            `json:"acceptance_criteria"`
	Status             string            `json:"status"`
	Priority           *int32            `json:"priority"`
	IssueType          string            `json:"issue_type"`
	Labels             []string          `json:"labels"`
	Dependencies       []jsonlDependency `json:"dependencies"`
	Ephemeral          bool              `json:"ephemeral"`
	UpdatedAt          string            `json:"updated_at"`
}

type jsonlDependency struct {
	IssueID     string `json:"issue_id"`
	DependsOnID string `json:"depends_on_id"`
	Type        string `json:"type"`
	// Metadata of a waits-for dependency names its gate; bd writes it as a
	// JSON object or as a string holding one.
	Metadata json.RawMessage `json:"metadata"`
}

// bd's status of a deleted issue: no bead, and a dependency on it is
// satisfied.
const tombstoneStatus = "tombstone"

// bd's dependency types, by what they do to readiness.
const (
	depBlocks            = "blocks"
	depConditionalBlocks = "conditional-blocks"
	depParentChild       = "parent-child"
	depWaitsFor          = "waits-for"
	// externalPrefix marks a dependency on an issue of another repository
	// (external:<project>:<id>): bd does not follow it either.
	externalPrefix = "external:"
)

// ParseJSONL reads the beads of an issues.jsonl written by the beads (bd)
// tool, one JSON object a line. A line with an error is reported and its
// bead left out; every other line makes a bead. Deleted issues
// (tombstones) make none. Checks across lines (duplicate IDs, dependencies)
// are Load's.
func ParseJSONL(file string, data []byte) ([]Bead, []Error) {
	p := parseJSONL(file, data)
	var good []Bead
	for _, b := range p.beads {
		if !p.brokenLines[b.Line] {
			good = append(good, b.Bead)
		}
	}
	return good, p.errs
}

func parseJSONL(file string, data []byte) parsedFile {
	errs := &fileErrors{file: file}
	p := parsedFile{brokenLines: map[int]bool{}, tombstones: map[string]bool{}}
	line := 0
	for len(data) > 0 {
		line++
		text := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			text, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		before := errs.count
		b, ok := parseIssue(errs, &p, file, line, text)
		if ok {
			p.beads = append(p.beads, b)
		}
		if errs.count > before {
			p.brokenLines[line] = true
		}
	}
	p.errs = errs.list
	return p
}

// parseIssue reads one line. It returns false for lines that hold no bead.
func parseIssue(errs *fileErrors, p *parsedFile, file string, line int, text []byte) (beadItem, bool) {
	var issue jsonlIssue
	if err := json.Unmarshal(text, &issue); err != nil {
		errs.add(line, "%s", jsonProblem(err))
		if issue.ID != "" {
			// A value of the wrong type: the rest was read, the ID too.
			p.brokenIDs = append(p.brokenIDs, brokenID{issue.ID, line})
		}
		return beadItem{}, false
	}
	if issue.Status == tombstoneStatus {
		if issue.ID != "" {
			p.tombstones[issue.ID] = true
		}
		return beadItem{}, false
	}
	spec := gastownv1.BeadSpec{
		ID:          issue.ID,
		Title:       issue.Title,
		Description: issue.Description,
		Acceptance:  issue.AcceptanceCriteria,
		Type:        gastownv1.BeadType(issue.IssueType),
		Priority:    issue.Priority,
		Status:      gastownv1.BeadFileStatus(issue.Status),
		Labels:      issue.Labels,
		Ephemeral:   issue.Ephemeral,
		SourcePath:  file,
	}
	if spec.Type == "" {
		spec.Type = defaultBeadType
	}
	if spec.Status == "" {
		spec.Status = defaultBeadStatus
	}
	item := beadItem{Bead: Bead{ID: issue.ID, File: file, Line: line}, depField: "dependencies", updatedAt: issue.UpdatedAt}
	for _, dep := range issue.Dependencies {
		id := dep.DependsOnID
		switch dep.Type {
		case depBlocks, depConditionalBlocks:
			if !slices.Contains(spec.DependsOn, id) {
				spec.DependsOn = append(spec.DependsOn, id)
				item.depLines = append(item.depLines, line)
			}
		case depParentChild:
			if !slices.Contains(spec.Parents, id) {
				spec.Parents = append(spec.Parents, id)
				item.refs = append(item.refs, ref{id: id, field: "parent-child dependency", line: line})
			}
		case depWaitsFor:
			if !slices.Contains(spec.WaitsFor, id) {
				spec.WaitsFor = append(spec.WaitsFor, id)
				item.refs = append(item.refs, ref{id: id, field: "waits-for dependency", line: line})
				if waitsForAny(dep.Metadata) {
					spec.WaitsForAny = append(spec.WaitsForAny, id)
				}
			}
		}
		// Other types (related, relates-to, discovered-from, tracks, ...)
		// never block, in bd as here.
	}
	checkIssue(errs, line, issue, &spec)
	if issue.ID == "" {
		return beadItem{}, false
	}
	item.Spec = spec
	return item, true
}

// waitsForAny says whether a waits-for dependency's metadata names the
// any-children gate.
func waitsForAny(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var meta struct {
		Gate string `json:"gate"`
	}
	return json.Unmarshal(raw, &meta) == nil && meta.Gate == "any-children"
}

// checkIssue checks what the API server would reject and applies its
// defaults.
func checkIssue(errs *fileErrors, line int, issue jsonlIssue, spec *gastownv1.BeadSpec) {
	if issue.ID == "" {
		errs.add(line, "id is required")
	} else if problem := beadIDRule.problem(issue.ID); problem != "" {
		errs.add(line, "%s", problem)
	}
	if n := utf8.RuneCountInString(issue.Title); n == 0 {
		errs.add(line, "title is required")
	} else if n > maxTitleLength {
		errs.add(line, "title is %d characters long; the limit is %d", n, maxTitleLength)
	}
	if spec.Priority == nil {
		p := int32(gastownv1.DefaultPriority)
		spec.Priority = &p
	} else if p := *spec.Priority; p < minPriority || p > maxPriority {
		errs.add(line, "priority: %d is out of range: use 0 (highest) to 4", p)
	}
	if !slices.Contains(beadTypes, string(spec.Type)) {
		errs.add(line, "issue_type: %q is not one of %s", clip(string(spec.Type)), strings.Join(beadTypes, ", "))
	}
	if !slices.Contains(beadStatuses, string(spec.Status)) {
		errs.add(line, "status: %q is not one of %s, %s", clip(string(spec.Status)), strings.Join(beadStatuses, ", "), tombstoneStatus)
	}
}

// jsonProblem turns a JSON decoding error into a message naming the field
// or column at fault.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at column %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("expected a JSON object, got %s", jsonValueName(typ.Value))
	case errors.As(err, &typ):
		return fmt.Sprintf("%s: expected %s, got %s", typ.Field, jsonTypeName(typ.Type), jsonValueName(typ.Value))
	default:
		return "invalid JSON: " + err.Error()
	}
}

// jsonValueName names the kind of a JSON value as encoding/json reports it
// ("string", "number", "array", ...).
func jsonValueName(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "number":
		return "a number"
	default:
		return v
	}
}

// jsonTypeName names what a field of Go type t holds in JSON.
func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "a list"
	default:
		return "an object"
	}
}
