package beads

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"reflect"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

const statusClosed = string(gastownv1.BeadClosed)

// CloseBead returns data, the content of file, with the bead id set to
// status closed. It is how a finished polecat records its work in git, so it
// changes nothing else: in YAML it replaces the value of the bead's
// spec.status, or inserts a "status: closed" line among the spec's keys;
// comments, key order, indentation and the other documents keep every byte.
// Only a spec written in flow style ({...}) makes it re-encode the bead's
// document. In an issues.jsonl (file ending in .jsonl) it rewrites the
// bead's line alone, as bd close writes it (see closeIssue), keeping the
// order of its fields and every other byte of the file.
//
// A bead already closed returns data unchanged. A bead not in the file is an
// error naming both.
func CloseBead(file string, data []byte, id string) ([]byte, error) {
	return closeBead(file, data, id, time.Now())
}

// closeBead is CloseBead at the time now, which a JSONL line records.
func closeBead(file string, data []byte, id string, now time.Time) ([]byte, error) {
	if path.Ext(file) == ".jsonl" {
		return closeJSONL(file, data, id, now)
	}
	return closeManifest(file, data, id)
}

func closeManifest(file string, data []byte, id string) ([]byte, error) {
	docs, err := decodeDocuments(data)
	if err != nil {
		line, msg := syntaxError(err, data, 1)
		return nil, fmt.Errorf("%s:%d: invalid YAML: %s", file, line, msg)
	}
	i := findBead(docs, id)
	if i < 0 {
		return nil, fmt.Errorf("%s: no bead %q in the file", file, id)
	}
	specKey, spec := lookupPair(docs[i].Content[0], "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: bead %q has no spec mapping to set the status in", file, id)
	}
	statusKey, status := lookupPair(spec, "status")
	if status != nil && status.Kind == yaml.ScalarNode && status.Value == statusClosed {
		return data, nil
	}

	if spec.Style&yaml.FlowStyle == 0 {
		lines := newLineIndex(data)
		var out []byte
		if statusKey != nil {
			out = replaceStatus(data, lines, statusKey, status)
		} else {
			out = insertStatus(data, lines, specKey, spec)
		}
		// Editing bytes relies on reading positions right; a document
		// written in a way this does not expect is re-encoded instead.
		if out != nil && closedOnly(data, out, i) {
			return out, nil
		}
	}
	out, err := reencodeDocument(data, docs[i])
	if err != nil || !closedOnly(data, out, i) {
		return nil, fmt.Errorf("%s: cannot set the status of bead %q", file, id)
	}
	return out, nil
}

// decodeDocuments parses every document of a YAML stream, empty ones
// included, so that documents are numbered the same before and after an
// edit.
func decodeDocuments(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		doc := &yaml.Node{}
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// findBead returns the index of the document of bead id, or -1.
func findBead(docs []*yaml.Node, id string) int {
	for i, doc := range docs {
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		kind := lookup(root, "kind")
		meta := lookup(root, "metadata")
		if kind == nil || kind.Value != gastownv1.BeadKind || meta == nil || meta.Kind != yaml.MappingNode {
			continue
		}
		if name := lookup(meta, "name"); name != nil && name.Kind == yaml.ScalarNode && name.Value == id {
			return i
		}
	}
	return -1
}

// lookupPair returns the key and value nodes of key in a mapping.
func lookupPair(mapping *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if k := mapping.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return k, mapping.Content[i+1]
		}
	}
	return nil, nil
}

// replaceStatus replaces the status value written on the line of its key,
// or returns nil.
func replaceStatus(data []byte, lines lineIndex, key, value *yaml.Node) []byte {
	if value.Kind != yaml.ScalarNode || value.Line != key.Line || value.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil
	}
	start, ok := lines.offset(value.Line, value.Column)
	if !ok {
		return nil
	}
	end, ok := scalarEnd(data, start, lines.lineEnd(start), value.Style)
	if !ok {
		return nil
	}
	text := statusClosed
	if end == start && start > 0 && data[start-1] == ':' {
		text = " " + statusClosed // "status:" with no value
	}
	return splice(data, start, end, text)
}

// scalarEnd returns where the scalar starting at start ends on its line.
func scalarEnd(data []byte, start, eol int, style yaml.Style) (int, bool) {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		if start >= eol || data[start] != '"' {
			return 0, false
		}
		for i := start + 1; i < eol; i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1, true
			}
		}
		return 0, false
	case style&yaml.SingleQuotedStyle != 0:
		if start >= eol || data[start] != '\'' {
			return 0, false
		}
		for i := start + 1; i < eol; i++ {
			if data[i] != '\'' {
				continue
			}
			if i+1 < eol && data[i+1] == '\'' {
				i++ // '' is an escaped quote
				continue
			}
			return i + 1, true
		}
		return 0, false
	}
	// A plain scalar runs to the end of the line or to a comment: a '#'
	// after white space.
	end := eol
	for i := start; i < eol; i++ {
		if data[i] == '#' && i > 0 && isBlank(data[i-1]) {
			end = i
			break
		}
	}
	for end > start && isBlank(data[end-1]) {
		end--
	}
	return end, true
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' }

// insertStatus inserts a "status: closed" line as the first of the spec's
// lines, indented as the spec's first key, or returns nil.
func insertStatus(data []byte, lines lineIndex, specKey, spec *yaml.Node) []byte {
	if len(spec.Content) == 0 {
		return nil
	}
	first := spec.Content[0]
	if first.Line <= specKey.Line {
		return nil
	}
	lineStart, ok1 := lines.offset(first.Line, 1)
	keyStart, ok2 := lines.offset(first.Line, first.Column)
	at, ok3 := lines.offset(specKey.Line+1, 1)
	if !ok1 || !ok2 || !ok3 {
		return nil
	}
	indent := data[lineStart:keyStart]
	if len(bytes.Trim(indent, " ")) > 0 {
		return nil
	}
	// End the new line as the line before it ends.
	newline := data[lines.lineEnd(lines.starts[specKey.Line-1]):at]
	line := string(indent) + "status: " + statusClosed + string(newline)
	return splice(data, at, at, line)
}

// reencodeDocument sets the status in the document's nodes and writes the
// document again in place of its old text.
func reencodeDocument(data []byte, doc *yaml.Node) ([]byte, error) {
	root := doc.Content[0]
	_, spec := lookupPair(root, "spec")
	value := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: statusClosed}
	if _, status := lookupPair(spec, "status"); status != nil {
		*status = *value
	} else {
		spec.Content = append(spec.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "status"}, value)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	start, end, marker := newLineIndex(data).documentSpan(data, root.Line)
	if marker {
		return splice(data, start, end, "---\n"+buf.String()), nil
	}
	return splice(data, start, end, buf.String()), nil
}

// closedOnly says whether after differs from before only in the status of
// the bead in document i, which is closed.
func closedOnly(before, after []byte, i int) bool {
	docsBefore, err1 := decodeDocuments(before)
	docsAfter, err2 := decodeDocuments(after)
	if err1 != nil || err2 != nil || len(docsBefore) != len(docsAfter) {
		return false
	}
	var want, got map[string]any
	if docsBefore[i].Decode(&want) != nil || docsAfter[i].Decode(&got) != nil {
		return false
	}
	spec, ok := want["spec"].(map[string]any)
	if !ok {
		return false
	}
	spec["status"] = statusClosed
	return reflect.DeepEqual(want, got)
}

func closeJSONL(file string, data []byte, id string, now time.Time) ([]byte, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	// The bead's line; of a duplicated ID, the copy Load keeps: the newest
	// updated_at, the later line on a tie.
	at, status, updated := -1, "", ""
	for i, line := range lines {
		if !bytes.Contains(line, []byte(id)) {
			continue // cheap: most lines are other beads
		}
		var issue struct {
			ID        string `json:"id"`
			Status    string `json:"status"`
			UpdatedAt string `json:"updated_at"`
		}
		if json.Unmarshal(bytes.TrimRight(line, "\r\n"), &issue) != nil || issue.ID != id {
			continue
		}
		if at < 0 || !newer(issue.UpdatedAt, updated) {
			at, status, updated = i, issue.Status, issue.UpdatedAt
		}
	}
	switch {
	case at < 0:
		return nil, fmt.Errorf("%s: no bead %q in the file", file, id)
	case status == statusClosed:
		return data, nil
	case status == tombstoneStatus:
		return nil, fmt.Errorf("%s:%d: bead %q is deleted (a tombstone); it cannot be closed", file, at+1, id)
	}
	line := lines[at]
	body := bytes.TrimRight(line, "\r\n")
	closedBody, err := closeIssue(body, now)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: cannot close bead %q: %w", file, at+1, id, err)
	}
	lines[at] = append(closedBody, line[len(body):]...)
	return bytes.Join(lines, nil), nil
}

// closeIssue closes one bd issue as bd close does: "status" becomes
// "closed", "updated_at" now, "closed_at" now when the issue has none (bd
// refuses to import a closed issue without it), and "close_reason" bd's
// default, "Closed", when it has none. Values are replaced in place; missing
// fields are added last; every other byte stays.
func closeIssue(obj []byte, now time.Time) ([]byte, error) {
	stamp := strconv.Quote(now.UTC().Format(time.RFC3339Nano))
	never := func(json.RawMessage) bool { return false }
	isSet := func(raw json.RawMessage) bool { return string(raw) != "null" && string(raw) != `""` }
	out, err := setJSONField(obj, "status", strconv.Quote(statusClosed), never)
	if err == nil {
		out, err = setJSONField(out, "updated_at", stamp, never)
	}
	if err == nil {
		out, err = setJSONField(out, "closed_at", stamp, isSet)
	}
	if err == nil {
		out, err = setJSONField(out, "close_reason", strconv.Quote("Closed"), isSet)
	}
	if err != nil {
		return nil, err
	}
	var check struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &check); err != nil || check.Status != statusClosed {
		return nil, errors.New("the object has a status field that cannot be replaced")
	}
	return out, nil
}

// setJSONField sets the top-level field key of a JSON object to value,
// unless keep says its current value stays.
func setJSONField(obj []byte, key, value string, keep func(json.RawMessage) bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return nil, err
		}
		afterName := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if name != key {
			continue
		}
		if keep(raw) {
			return obj, nil
		}
		end := int(dec.InputOffset())
		start := afterName
		for start < end && (obj[start] == ':' || isJSONSpace(obj[start])) {
			start++
		}
		return splice(obj, start, end, value), nil
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	brace := int(dec.InputOffset()) - 1
	return splice(obj, brace, brace, ","+strconv.Quote(key)+":"+value), nil
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// splice returns a copy of data with data[start:end] replaced by text.
func splice(data []byte, start, end int, text string) []byte {
	out := make([]byte, 0, len(data)-(end-start)+len(text))
	out = append(out, data[:start]...)
	out = append(out, text...)
	return append(out, data[end:]...)
}
