package beads

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// The values the API allows, in the order messages list them.
var (
	beadTypes = []string{"bug", "feature", "task", "chore", "epic",
		"merge-request", "gate", "molecule", "message", "agent", "role", "rig", "event", "decision", "convoy"}
	beadStatuses = []string{string(gastownv1.BeadOpen), string(gastownv1.BeadInProgress), string(gastownv1.BeadHooked),
		string(gastownv1.BeadBlocked), string(gastownv1.BeadDeferred), string(gastownv1.BeadPinned), string(gastownv1.BeadClosed)}
	agentTypes     = []string{string(gastownv1.AgentClaudeCode), string(gastownv1.AgentOpenCode), string(gastownv1.AgentAider), string(gastownv1.AgentCustom)}
	agentProviders = []string{"litellm", "anthropic", "openai", "ollama"}
)

// Defaults the API server applies to a bead spec.
const (
	defaultBeadType   gastownv1.BeadType = "task"
	defaultBeadStatus                    = gastownv1.BeadOpen
)

// Bounds of bead fields, as the CRD sets them.
const (
	maxTitleLength = 256
	minPriority    = 0
	maxPriority    = 4
)

// idRule is what an ID of a kind must look like.
type idRule struct {
	noun   string
	maxLen int
	// bd: an ID as bd writes it (gt-abc.1, scout_mcp-6ea), which must be
	// a label value and a part of a git branch name; otherwise a DNS-1123
	// label, as it names the object itself.
	bd bool
}

var (
	// Bead IDs are label values, branch names and, mapped, object names.
	beadIDRule = idRule{noun: "bead ID", maxLen: MaxIDLength, bd: true}
	// Convoy IDs name their objects and are label values on the objects
	// of the convoy.
	convoyIDRule = idRule{noun: "convoy ID", maxLen: 63}
)

// problem says what is wrong with id, or returns "".
func (r idRule) problem(id string) string {
	switch {
	case len(id) > r.maxLen:
		return fmt.Sprintf("%s %q is %d characters long; the limit is %d", r.noun, clip(id), len(id), r.maxLen)
	case r.bd && len(content.IsLabelValue(id)) > 0:
		return fmt.Sprintf("%s %q is not valid: use letters, digits, '-', '_' and '.', and start and end with a letter or digit", r.noun, clip(id))
	case r.bd && (strings.Contains(id, "..") || strings.HasSuffix(id, ".lock")):
		return fmt.Sprintf("%s %q cannot be part of a git branch name: no \"..\" and no final \".lock\"", r.noun, clip(id))
	case r.bd || len(content.IsDNS1123Label(id)) == 0:
		return ""
	default:
		return fmt.Sprintf("%s %q is not a DNS-1123 label: use lower case letters, digits and '-', and start and end with a letter or digit", r.noun, clip(id))
	}
}

func checkMetadata(d *decoder, meta objectMeta, rule idRule) {
	switch {
	case d.isSet("metadata.name") && meta.Name == "":
		d.errs.add(d.line("metadata.name"), "metadata.name must not be empty")
	case meta.Name != "":
		if problem := rule.problem(meta.Name); problem != "" {
			d.errs.add(d.line("metadata.name"), "%s", problem)
		}
	}
	for _, key := range sortedKeys(meta.Labels) {
		path := "metadata.labels[" + key + "]"
		if msgs := content.IsLabelKey(key); len(msgs) > 0 {
			d.errs.add(d.keyLine(path), "metadata.labels: key %q is not valid: %s", clip(key), strings.Join(msgs, "; "))
		}
		if msgs := content.IsLabelValue(meta.Labels[key]); len(msgs) > 0 {
			d.errs.add(d.line(path), "%s: value %q is not valid: %s", path, clip(meta.Labels[key]), strings.Join(msgs, "; "))
		}
	}
	size := 0
	for _, key := range sortedKeys(meta.Annotations) {
		size += len(key) + len(meta.Annotations[key])
		if msgs := content.IsLabelKey(key); len(msgs) > 0 {
			d.errs.add(d.keyLine("metadata.annotations["+key+"]"), "metadata.annotations: key %q is not valid: %s", clip(key), strings.Join(msgs, "; "))
		}
	}
	if size > apivalidation.TotalAnnotationSizeLimitB {
		d.errs.add(d.keyLine("metadata.annotations"), "metadata.annotations: %d bytes in all; the limit is %d", size, apivalidation.TotalAnnotationSizeLimitB)
	}
}

// checkBeadSpec checks what the API server would reject and applies its
// defaults.
func checkBeadSpec(d *decoder, spec *gastownv1.BeadSpec) {
	rejectOperatorFields(d, "spec.id", "spec.rigRef", "spec.sourcePath")
	spec.ID, spec.RigRef, spec.SourcePath = "", "", ""

	if d.isSet("spec.title") {
		if n := utf8.RuneCountInString(spec.Title); n == 0 {
			d.errs.add(d.line("spec.title"), "spec.title must not be empty")
		} else if n > maxTitleLength {
			d.errs.add(d.line("spec.title"), "spec.title is %d characters long; the limit is %d", n, maxTitleLength)
		}
	}
	checkEnum(d, "spec.type", string(spec.Type), beadTypes)
	if spec.Type == "" {
		spec.Type = defaultBeadType
	}
	if spec.Priority == nil {
		p := int32(gastownv1.DefaultPriority)
		spec.Priority = &p
	} else if p := *spec.Priority; p < minPriority || p > maxPriority {
		d.errs.add(d.line("spec.priority"), "spec.priority: %d is out of range: use 0 (highest) to 4", p)
	}
	checkEnum(d, "spec.status", string(spec.Status), beadStatuses)
	if spec.Status == "" {
		spec.Status = defaultBeadStatus
	}
	checkSet(d, "spec.dependsOn", spec.DependsOn)
	checkSet(d, "spec.parents", spec.Parents)
	checkSet(d, "spec.waitsFor", spec.WaitsFor)
	checkSet(d, "spec.waitsForAny", spec.WaitsForAny)
	for i, id := range spec.WaitsForAny {
		if !slices.Contains(spec.WaitsFor, id) {
			d.errs.add(d.line(fmt.Sprintf("spec.waitsForAny[%d]", i)), "spec.waitsForAny: %q is not in spec.waitsFor", clip(id))
		}
	}
	if spec.Agent != nil {
		checkAgent(d, spec.Agent)
	}
	if spec.Resources != nil {
		checkResources(d, spec.Resources)
	}
}

func checkConvoySpec(d *decoder, spec *gastownv1.ConvoySpec) {
	rejectOperatorFields(d, "spec.rigRef")
	spec.RigRef = ""

	if d.isSet("spec.trackedBeads") && len(spec.TrackedBeads) == 0 {
		d.errs.add(d.keyLine("spec.trackedBeads"), "spec.trackedBeads must name at least one bead")
	}
	checkSet(d, "spec.trackedBeads", spec.TrackedBeads)
	if spec.Parallelism < 0 {
		d.errs.add(d.line("spec.parallelism"), "spec.parallelism: %d must be 0 (no limit of its own) or more", spec.Parallelism)
	}
}

// rejectOperatorFields reports fields the operator fills in: a file that
// sets them means something else than what the operator would do.
func rejectOperatorFields(d *decoder, paths ...string) {
	for _, path := range paths {
		if d.isSet(path) {
			d.errs.add(d.keyLine(path), "%s is set by the operator, not in bead files", path)
		}
	}
}

func checkAgent(d *decoder, agent *gastownv1.AgentSpec) {
	checkEnum(d, "spec.agent.type", string(agent.Type), agentTypes)
	checkEnum(d, "spec.agent.provider", agent.Provider, agentProviders)
	if agent.MaxTurns != nil && *agent.MaxTurns < 1 {
		d.errs.add(d.line("spec.agent.maxTurns"), "spec.agent.maxTurns: %d must be 1 or more", *agent.MaxTurns)
	}
}

// checkResources reports what pod validation would reject later, when the
// bead's polecat is created: negative quantities and requests above limits.
func checkResources(d *decoder, res *corev1.ResourceRequirements) {
	for _, list := range []struct {
		path      string
		resources corev1.ResourceList
	}{{"spec.resources.limits", res.Limits}, {"spec.resources.requests", res.Requests}} {
		for _, name := range sortedKeys(list.resources) {
			if q := list.resources[name]; q.Sign() < 0 {
				path := fmt.Sprintf("%s[%s]", list.path, name)
				d.errs.add(d.line(path), "%s: %s must not be negative", path, q.String())
			}
		}
	}
	for _, name := range sortedKeys(res.Requests) {
		request := res.Requests[name]
		if limit, ok := res.Limits[name]; ok && request.Cmp(limit) > 0 {
			path := fmt.Sprintf("spec.resources.requests[%s]", name)
			d.errs.add(d.line(path), "%s: %s is more than the limit %s", path, request.String(), limit.String())
		}
	}
}

// checkEnum reports a value that is set and not allowed.
func checkEnum(d *decoder, path, value string, allowed []string) {
	if value != "" && !slices.Contains(allowed, value) {
		d.errs.add(d.line(path), "%s: %q is not one of %s", path, clip(value), strings.Join(allowed, ", "))
	}
}

// checkSet reports entries listed twice in a list the API treats as a set.
func checkSet(d *decoder, path string, list []string) {
	seen := map[string]bool{}
	for i, v := range list {
		if seen[v] {
			d.errs.add(d.line(fmt.Sprintf("%s[%d]", path, i)), "%s: %q is listed twice", path, clip(v))
		}
		seen[v] = true
	}
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkText finds what the YAML reader would reject without a line number:
// text that is not UTF-8, and control characters. It returns the line and a
// message, or "" when the text is fine.
func checkText(data []byte) (int, string) {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, fmt.Sprintf("bead files must be UTF-8; found the byte 0x%02x", data[i])
		case !yamlPrintable(r):
			return line, fmt.Sprintf("control character %U is not allowed", r)
		}
		line += breakAt(data, i)
		i += size
	}
	return 0, ""
}

// yamlPrintable says whether YAML allows r in a document.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r >= 0x20 && r <= 0x7E, r == 0x85:
		return true
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// breakAt returns 1 when a line ends at data[i], counting line breaks as the
// YAML parser does: LF, CR (CR LF counts once, at the LF), NEL, LS and PS.
func breakAt(data []byte, i int) int {
	switch {
	case data[i] == '\n':
		return 1
	case data[i] == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
		return 1
	}
	r, _ := utf8.DecodeRune(data[i:])
	if r == 0x85 || r == 0x2028 || r == 0x2029 {
		return 1
	}
	return 0
}
