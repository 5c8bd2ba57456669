package beads

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// YAML tags of resolved scalars.
const (
	tagNull      = "!!null"
	tagBool      = "!!bool"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagStr       = "!!str"
	tagTimestamp = "!!timestamp"
)

// maxVisits bounds the nodes decoded from one document. YAML aliases can
// make a small file name very many nodes; a real bead has a few dozen.
const maxVisits = 100000

// maxErrorsPerFile stops reporting after this many errors in one file: past
// that point the file is broken anyway, and status reports are bounded.
const maxErrorsPerFile = 50

var quantityType = reflect.TypeFor[resource.Quantity]()

// position is where a field was written: the line of its key (0 for list
// items) and of its value.
type position struct {
	key, value int
	// null says the value was null: written, yet unset.
	null bool
	// bad says the value could not be decoded, and was reported.
	bad bool
}

// line returns the line to report a bad value at.
func (p position) line() int {
	if p.value > 0 {
		return p.value
	}
	return p.key
}

// decoder fills API types from YAML nodes as strictly as the API server does
// with strict field validation: unknown and duplicate fields, values of the
// wrong type and missing required fields are errors, each reported at the
// line of the key or value at fault. Fields are named by their JSON names,
// the names users write. It remembers where every field was written, so that
// checks on the decoded values can report lines too.
type decoder struct {
	errs *fileErrors
	// positions by field path, such as "spec.dependsOn[1]".
	positions map[string]position
	// unknownHint is added to the message for an unknown field in the
	// mapping at the given path.
	unknownHint map[string]string
	visits      int
}

func newDecoder(errs *fileErrors) *decoder {
	return &decoder{errs: errs, positions: map[string]position{}}
}

// isSet says whether the field at path was written with a value other than
// null, and decoded: checks of the value need not report a value already
// reported as the wrong type.
func (d *decoder) isSet(path string) bool {
	p, ok := d.positions[path]
	return ok && !p.null && !p.bad
}

// fail reports a value at path that cannot be decoded.
func (d *decoder) fail(path string, line int, format string, args ...any) {
	p := d.positions[path]
	p.bad = true
	d.positions[path] = p
	d.errs.add(line, format, args...)
}

// line returns the line of the value at path.
func (d *decoder) line(path string) int { return d.positions[path].line() }

// keyLine returns the line of the key of the field at path.
func (d *decoder) keyLine(path string) int {
	p := d.positions[path]
	return firstPositive(p.key, p.value)
}

// decode fills v, addressable, from n. keyLine is the line of the key whose
// value n is, or 0 for a list item or the document root.
func (d *decoder) decode(path string, keyLine int, n *yaml.Node, v reflect.Value) {
	n, ok := d.follow(n)
	if !ok {
		return
	}
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull
	d.positions[path] = position{key: keyLine, value: n.Line, null: null}
	if null {
		return // null is an unset field, as in JSON
	}
	d.decodeValue(path, keyLine, n, v)
}

func (d *decoder) decodeValue(path string, keyLine int, n *yaml.Node, v reflect.Value) {
	t := v.Type()
	switch {
	case t == quantityType:
		d.decodeQuantity(path, n, v)
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		d.decodeValue(path, keyLine, n, elem.Elem())
		if !d.positions[path].bad {
			v.Set(elem) // a value of the wrong type stays unset, and gets its default
		}
	case t.Kind() == reflect.Struct:
		d.decodeStruct(path, keyLine, n, v)
	case t.Kind() == reflect.Slice:
		d.decodeSlice(path, n, v)
	case t.Kind() == reflect.Map:
		d.decodeMap(path, n, v)
	case t.Kind() == reflect.String:
		d.decodeString(path, n, v)
	case t.Kind() == reflect.Bool:
		d.decodeScalar(path, n, v, tagBool, "a boolean")
	case v.CanInt():
		d.decodeScalar(path, n, v, tagInt, "an integer")
	default:
		// Only reached if an API type gains a field of a new kind; the
		// decoder's tests decode every field of the bead types.
		d.errs.add(n.Line, "%s: cannot read a field of Go type %s", path, t)
	}
}

// follow resolves an alias, and counts the node against the visit budget.
func (d *decoder) follow(n *yaml.Node) (*yaml.Node, bool) {
	d.visits++
	if d.visits > maxVisits {
		if d.visits == maxVisits+1 {
			d.errs.add(n.Line, "document has more than %d YAML nodes, counting each use of an alias", maxVisits)
		}
		return nil, false
	}
	if n.Kind != yaml.AliasNode {
		return n, true
	}
	// Report problems where the alias is used, not where its anchor is.
	used := n
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	resolved := *n
	resolved.Line, resolved.Column = used.Line, used.Column
	return &resolved, true
}

func (d *decoder) decodeStruct(path string, keyLine int, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.wrongType(path, n, "a mapping")
		return
	}
	fields := fieldsOf(v.Type())
	set := map[string]int{} // field name → line of its key
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		name, ok := d.fieldName(path, key)
		if !ok {
			continue
		}
		child := joinPath(path, name)
		if first, dup := set[name]; dup {
			d.errs.add(key.Line, "duplicate field %q (first set at line %d)", child, first)
			continue
		}
		set[name] = key.Line
		f, known := fields[name]
		if !known {
			d.errs.add(key.Line, "unknown field %q%s", child, d.unknownHint[path])
			continue
		}
		d.decode(child, key.Line, value, v.FieldByIndex(f.index))
		if isNull(value) {
			delete(set, name) // a required field set to null is missing
		}
	}
	var missing []string
	for name, f := range fields {
		if _, ok := set[name]; f.required && !ok {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for _, name := range missing {
		d.errs.add(firstPositive(keyLine, n.Line), "%s is required", joinPath(path, name))
	}
}

// fieldName returns the name a mapping key gives a field; names are plain
// strings.
func (d *decoder) fieldName(path string, key *yaml.Node) (string, bool) {
	key, ok := d.follow(key)
	if !ok {
		return "", false
	}
	switch {
	case key.Kind != yaml.ScalarNode:
		d.errs.add(key.Line, "%s: field names must be strings, not %s", orRoot(path), describe(key))
		return "", false
	case key.ShortTag() == "!!merge":
		d.errs.add(key.Line, "%s: YAML merge keys (<<) are not supported", orRoot(path))
		return "", false
	}
	return key.Value, true
}

func (d *decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.wrongType(path, n, "a list")
		return
	}
	if len(n.Content) == 0 {
		return // nil, as the API server stores an empty list it drops
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(fmt.Sprintf("%s[%d]", path, i), 0, item, s.Index(i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.wrongType(path, n, "a mapping")
		return
	}
	if len(n.Content) == 0 {
		return // nil, as for lists
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	set := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		name, ok := d.fieldName(path, key)
		if !ok {
			continue
		}
		child := path + "[" + name + "]"
		if first, dup := set[name]; dup {
			d.errs.add(key.Line, "duplicate key %q (first set at line %d)", child, first)
			continue
		}
		set[name] = key.Line
		elem := reflect.New(t.Elem()).Elem()
		d.decode(child, key.Line, value, elem)
		m.SetMapIndex(reflect.ValueOf(name).Convert(t.Key()), elem)
	}
	v.Set(m)
}

// decodeString accepts string scalars. Timestamps are strings to the API
// server too: it reads YAML as JSON, where they have no type of their own.
func (d *decoder) decodeString(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != tagStr && n.ShortTag() != tagTimestamp) {
		d.wrongType(path, n, "a string")
		return
	}
	v.SetString(n.Value)
}

// decodeScalar reads a boolean or an integer with YAML's own rules for
// writing them, and reports integers that do not fit the field.
func (d *decoder) decodeScalar(path string, n *yaml.Node, v reflect.Value, tag, want string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tag {
		d.wrongType(path, n, want)
		return
	}
	if tag == tagBool {
		var b bool
		if err := n.Decode(&b); err != nil {
			d.wrongType(path, n, want)
			return
		}
		v.SetBool(b)
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
		d.fail(path, n.Line, "%s: %s is out of range", path, clip(n.Value))
		return
	}
	v.SetInt(i)
}

// decodeQuantity reads a resource quantity such as 500m or 2Gi, written as a
// string or a number.
func (d *decoder) decodeQuantity(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.wrongType(path, n, "a quantity such as 500m or 2Gi")
		return
	}
	switch n.ShortTag() {
	case tagStr, tagInt, tagFloat:
	default:
		d.wrongType(path, n, "a quantity such as 500m or 2Gi")
		return
	}
	q, err := resource.ParseQuantity(n.Value)
	if err != nil {
		d.fail(path, n.Line, "%s: %q is not a quantity such as 500m or 2Gi", path, clip(n.Value))
		return
	}
	v.Set(reflect.ValueOf(q))
}

func (d *decoder) wrongType(path string, n *yaml.Node, want string) {
	d.fail(path, n.Line, "%s: expected %s, got %s", orRoot(path), want, describe(n))
}

// describe names what a node holds, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
	default:
		return "a YAML node of kind " + strconv.Itoa(int(n.Kind))
	}
	switch n.ShortTag() {
	case tagStr:
		return strconv.Quote(clip(n.Value))
	case tagInt, tagFloat:
		return "the number " + clip(n.Value)
	case tagBool:
		return "the boolean " + clip(n.Value)
	case tagTimestamp:
		return "the timestamp " + clip(n.Value)
	default:
		return fmt.Sprintf("%s (tagged %s)", strconv.Quote(clip(n.Value)), clip(n.ShortTag()))
	}
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func isNull(n *yaml.Node) bool {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orRoot(path string) string {
	if path == "" {
		return "document"
	}
	return path
}

func firstPositive(lines ...int) int {
	for _, l := range lines {
		if l > 0 {
			return l
		}
	}
	return 1
}

// field is a struct field as JSON names it.
type field struct {
	index []int
	// required fields have no omitempty (or omitzero) in their JSON tag:
	// the rule controller-gen uses to mark them required in the CRD.
	required bool
}

var fieldCache sync.Map // reflect.Type → map[string]field

// fieldsOf returns the fields of a struct type by JSON name, with the fields
// of inlined structs (embedded, or tagged ",inline") as their own.
func fieldsOf(t reflect.Type) map[string]field {
	if cached, ok := fieldCache.Load(t); ok {
		return cached.(map[string]field)
	}
	fields := map[string]field{}
	collectFields(t, nil, fields)
	fieldCache.Store(t, fields)
	return fields
}

func collectFields(t reflect.Type, index []int, fields map[string]field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" || (!sf.IsExported() && !sf.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		idx := append(append([]int(nil), index...), i)
		if name == "" && (sf.Anonymous || hasOption(opts, "inline")) && sf.Type.Kind() == reflect.Struct {
			collectFields(sf.Type, idx, fields)
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fields[name] = field{
			index:    idx,
			required: !hasOption(opts, "omitempty") && !hasOption(opts, "omitzero"),
		}
	}
}

func hasOption(opts, want string) bool {
	for opt := range strings.SplitSeq(opts, ",") {
		if opt == want {
			return true
		}
	}
	return false
}
