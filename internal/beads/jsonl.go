package beads

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
}

type jsonlDependency struct {
	IssueID     string `json:"issue_id"`
	DependsOnID string `json:"depends_on_id"`
	Type        string `json:"type"`
}

// bd statuses that close a bead: closed, and tombstone, bd's mark for a
// deleted issue, which must never be dispatched.
var closedJSONLStatuses = []string{"closed", "tombstone"}

// bd dependency types that make one issue wait for another.
var blockingDependencyTypes = []string{"blocks", "parent-child"}

// ParseJSONL reads the beads of an issues.jsonl written by the beads (bd)
// tool, one JSON object a line. Issues whose issue_type is not a bead type
// (bd's messages, molecules, gates, ...) are not work items and are skipped.
// As ParseManifests, it returns the beads of lines with errors too.
func ParseJSONL(file string, data []byte) ([]Bead, []Error) {
	p := parseJSONL(file, data)
	return beadsOf(p.beads), p.errs
}

func parseJSONL(file string, data []byte) parsedFile {
	errs := &fileErrors{file: file}
	var beads []beadItem
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if b, ok := parseIssue(errs, file, i+1, line); ok {
			beads = append(beads, b)
		}
	}
	return parsedFile{beads: beads, errs: errs.list}
}

// parseIssue reads one line. It returns false for lines that hold no bead.
func parseIssue(errs *fileErrors, file string, line int, text []byte) (beadItem, bool) {
	var issue jsonlIssue
	if err := json.Unmarshal(text, &issue); err != nil {
		errs.add(line, "%s", jsonProblem(err))
		return beadItem{}, false
	}
	if issue.IssueType != "" && !slices.Contains(beadTypes, issue.IssueType) {
		return beadItem{}, false
	}
	spec := gastownv1.BeadSpec{
		Title:       issue.Title,
		Description: issue.Description,
		Acceptance:  issue.AcceptanceCriteria,
		Type:        gastownv1.BeadType(issue.IssueType),
		Priority:    issue.Priority,
		Status:      gastownv1.BeadOpen,
		Labels:      issue.Labels,
		SourcePath:  file,
	}
	if spec.Type == "" {
		spec.Type = defaultBeadType
	}
	if slices.Contains(closedJSONLStatuses, issue.Status) {
		spec.Status = gastownv1.BeadClosed
	}
	for _, dep := range issue.Dependencies {
		if slices.Contains(blockingDependencyTypes, dep.Type) && !slices.Contains(spec.DependsOn, dep.DependsOnID) {
			spec.DependsOn = append(spec.DependsOn, dep.DependsOnID)
		}
	}
	checkIssue(errs, line, issue, &spec)
	if issue.ID == "" {
		return beadItem{}, false
	}
	item := beadItem{Bead: Bead{ID: issue.ID, Spec: spec, File: file, Line: line}, depField: "dependencies"}
	for range spec.DependsOn {
		item.depLines = append(item.depLines, line)
	}
	return item, true
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
