package beads

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// objectMeta is the metadata a bead file may set: the operator owns the
// rest (namespace, owner references, finalizers).
type objectMeta struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type beadManifest struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   objectMeta         `json:"metadata"`
	Spec       gastownv1.BeadSpec `json:"spec"`
}

type convoyManifest struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Metadata   objectMeta           `json:"metadata"`
	Spec       gastownv1.ConvoySpec `json:"spec"`
}

// metadataHint explains unknown fields in metadata, where people reach for
// the namespace first.
var metadataHint = map[string]string{
	"metadata": ": metadata allows only name, labels and annotations",
}

// beadItem is a bead with the lines of its dependencies, for the checks
// that need every file.
type beadItem struct {
	Bead
	depLines []int
	// depField names the dependencies where the file writes them.
	depField string
	// refs are the other beads it names: its parent and what it waits for.
	refs []ref
	// updatedAt is bd's updated_at, to pick the newer copy of an ID.
	updatedAt string
}

// ref is a bead named by another, and where.
type ref struct {
	id, field string
	line      int
}

// convoyItem is a convoy with the lines of its tracked beads.
type convoyItem struct {
	Convoy
	trackedLines []int
}

// parsedFile is what one file holds.
type parsedFile struct {
	beads   []beadItem
	convoys []convoyItem
	errs    []Error
	// Of an issues.jsonl: warnings, the lines with errors (left out, the
	// rest of the file is applied) and the IDs of deleted issues.
	warnings    []Error
	brokenLines map[int]bool
	brokenIDs   []brokenID
	tombstones  map[string]bool
}

// brokenID is the ID read from a broken line.
type brokenID struct {
	id   string
	line int
}

// ParseManifests reads the Bead and Convoy documents of one YAML file. It
// returns the items whose ID could be read even when their document has
// errors, so that references to them resolve; a caller must not apply the
// items of a file with errors. Checks that need every file (duplicate IDs,
// dependencies, prefix) are Load's.
func ParseManifests(file string, data []byte) ([]Bead, []Convoy, []Error) {
	p := parseManifests(file, data)
	return beadsOf(p.beads), convoysOf(p.convoys), p.errs
}

func parseManifests(file string, data []byte) parsedFile {
	errs := &fileErrors{file: file}
	p := &manifestParser{errs: errs}
	if line, problem := checkText(data); problem != "" {
		errs.add(line, "%s", problem)
		return parsedFile{errs: errs.list}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	lastLine := 1
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := syntaxError(err, data, lastLine)
			errs.add(line, "invalid YAML: %s", msg)
			break // the parser cannot resume after a syntax error
		}
		lastLine = doc.Line
		p.document(file, &doc)
	}
	sortErrors(errs.list)
	return parsedFile{beads: p.beads, convoys: p.convoys, errs: errs.list}
}

var (
	yamlLineRE      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// parserProblems are the YAML parser's errors, as opposed to its scanner's.
// The parser reports their line counted from 0, the scanner from 1.
var parserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"found undefined tag handle",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

// syntaxError splits a YAML syntax error into its line and message. Errors
// without a line are put at fallback.
func syntaxError(err error, data []byte, fallback int) (int, string) {
	if m := unknownAnchorRE.FindStringSubmatch(err.Error()); m != nil {
		return firstPositive(lineOf(data, "*"+m[1]), fallback), fmt.Sprintf("unknown anchor %q referenced", m[1])
	}
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return fallback, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	line, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return fallback, m[2]
	}
	if slices.Contains(parserProblems, m[2]) {
		line++
	}
	return firstPositive(line, fallback), m[2]
}

// lineOf returns the line of the first occurrence of s in data, or 0.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	line := 1
	for j := range i {
		line += breakAt(data, j)
	}
	return line
}

type manifestParser struct {
	errs    *fileErrors
	beads   []beadItem
	convoys []convoyItem
}

func (p *manifestParser) document(file string, doc *yaml.Node) {
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return // an empty document, or only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errs.add(root.Line, "expected a Bead or Convoy object, got %s", describe(root))
		return
	}
	kind := lookup(root, "kind")
	switch {
	case kind == nil:
		p.errs.add(root.Line, "kind is required: bead files hold Bead and Convoy objects")
	case kind.Kind == yaml.ScalarNode && kind.Value == gastownv1.BeadKind:
		p.bead(file, root)
	case kind.Kind == yaml.ScalarNode && kind.Value == gastownv1.ConvoyKind:
		p.convoy(file, root)
	case kind.Kind == yaml.ScalarNode:
		p.errs.add(kind.Line, "kind %q is not allowed here: bead files hold only Bead and Convoy objects", clip(kind.Value))
	default:
		p.errs.add(kind.Line, "kind: expected a string, got %s", describe(kind))
	}
}

// lookup returns the value of key in a mapping, or nil.
func lookup(mapping *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if k := mapping.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return mapping.Content[i+1]
		}
	}
	return nil
}

func (p *manifestParser) bead(file string, root *yaml.Node) {
	var m beadManifest
	d := newDecoder(p.errs)
	d.unknownHint = metadataHint
	d.decode("", 0, root, reflect.ValueOf(&m).Elem())
	checkAPIVersion(d, m.APIVersion)
	checkMetadata(d, m.Metadata, beadIDRule)
	checkBeadSpec(d, &m.Spec)
	if m.Metadata.Name == "" {
		return // nothing can refer to a bead without an ID
	}
	m.Spec.SourcePath = file
	m.Spec.ID = m.Metadata.Name
	item := beadItem{Bead: Bead{
		ID:          m.Metadata.Name,
		Spec:        m.Spec,
		Labels:      m.Metadata.Labels,
		Annotations: m.Metadata.Annotations,
		File:        file,
		Line:        d.positions["metadata.name"].line(),
		FieldLines:  policyLines(d),
	}, depField: "spec.dependsOn"}
	for i := range m.Spec.DependsOn {
		item.depLines = append(item.depLines, d.positions[fmt.Sprintf("spec.dependsOn[%d]", i)].line())
	}
	for i, id := range m.Spec.Parents {
		item.refs = append(item.refs, ref{id: id, field: "spec.parents", line: d.positions[fmt.Sprintf("spec.parents[%d]", i)].line()})
	}
	for i, id := range m.Spec.WaitsFor {
		item.refs = append(item.refs, ref{id: id, field: "spec.waitsFor", line: d.positions[fmt.Sprintf("spec.waitsFor[%d]", i)].line()})
	}
	p.beads = append(p.beads, item)
}

func (p *manifestParser) convoy(file string, root *yaml.Node) {
	var m convoyManifest
	d := newDecoder(p.errs)
	d.unknownHint = metadataHint
	d.decode("", 0, root, reflect.ValueOf(&m).Elem())
	checkAPIVersion(d, m.APIVersion)
	checkMetadata(d, m.Metadata, convoyIDRule)
	checkConvoySpec(d, &m.Spec)
	if m.Metadata.Name == "" {
		return
	}
	item := convoyItem{Convoy: Convoy{
		ID:          m.Metadata.Name,
		Spec:        m.Spec,
		Labels:      m.Metadata.Labels,
		Annotations: m.Metadata.Annotations,
		File:        file,
		Line:        d.positions["metadata.name"].line(),
	}}
	for i := range m.Spec.TrackedBeads {
		item.trackedLines = append(item.trackedLines, d.positions[fmt.Sprintf("spec.trackedBeads[%d]", i)].line())
	}
	p.convoys = append(p.convoys, item)
}

func checkAPIVersion(d *decoder, apiVersion string) {
	if want := gastownv1.GroupVersion.String(); apiVersion != "" && apiVersion != want {
		d.errs.add(d.positions["apiVersion"].line(), "apiVersion must be %s, got %q", want, clip(apiVersion))
	}
}

func beadsOf(items []beadItem) []Bead {
	out := make([]Bead, 0, len(items))
	for _, it := range items {
		out = append(out, it.Bead)
	}
	return out
}

func convoysOf(items []convoyItem) []Convoy {
	out := make([]Convoy, 0, len(items))
	for _, it := range items {
		out = append(out, it.Convoy)
	}
	return out
}

// policyLines are the lines of the fields a Policy checks.
func policyLines(d *decoder) map[string]int {
	var out map[string]int
	for path, p := range d.positions {
		if !strings.HasPrefix(path, "spec.agent") && !strings.HasPrefix(path, "spec.resources") {
			continue
		}
		if out == nil {
			out = map[string]int{}
		}
		out[path] = firstPositive(p.key, p.value)
	}
	return out
}
