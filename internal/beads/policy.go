package beads

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	vfield "k8s.io/apimachinery/pkg/util/validation/field"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Policy is what one rig lets its beads choose of their agent and
// resources: the rig's own agent settings, which a bead may always repeat,
// and the rig's spec.agentPolicy, which allows more. It is plain data, so
// that the dispatcher, the Bead reconciler and `kubectl gt validate` apply
// the same rule.
//
// A bead may set:
//   - spec.agent.type: the rig's agent (spec.agent, claude-code when unset)
//     or one of agentPolicy.agentTypes;
//   - spec.agent.model and spec.agent.provider: the rig's
//     (spec.agentConfig.model/provider) or one of agentPolicy.models/providers;
//   - spec.agent.maxTurns: up to agentPolicy.maxTurns, else up to the rig's
//     agentConfig.maxTurns, else any;
//   - spec.agent.image: one of agentPolicy.images;
//   - spec.agent.command and args: only with agentPolicy.allowCommand;
//   - spec.agent.env: only variables named in agentPolicy.env, with a plain
//     value;
//   - spec.resources: only with agentPolicy.maxResources, within it.
//
// A bead may never set spec.agent.configMapRef, spec.agent.modelProvider
// (its endpoint would receive the rig's model key; its apiKeySecretRef
// names a secret) or an env var with valueFrom (secret, ConfigMap, field or
// resource references), whatever the policy says.
type Policy struct {
	// Rig names the rig in messages; "" for the default policy of
	// `kubectl gt validate` without a rig.
	Rig string
	// Agent, Model, Provider and MaxTurns are the rig's own settings.
	Agent    gastownv1.AgentType
	Model    string
	Provider string
	MaxTurns *int32
	// Allow is the rig's spec.agentPolicy; zero when it has none.
	Allow gastownv1.AgentPolicy
}

// DefaultPolicy is the policy of a rig with no agentPolicy and no agent
// settings of its own: a bead may ask for claude-code and nothing else.
func DefaultPolicy() Policy {
	return Policy{Agent: gastownv1.AgentClaudeCode}
}

// PolicyOf returns the policy of rig.
func PolicyOf(rig *gastownv1.Rig) Policy {
	p := DefaultPolicy()
	p.Rig = rig.Name
	if rig.Spec.Agent != "" {
		p.Agent = rig.Spec.Agent
	}
	if c := rig.Spec.AgentConfig; c != nil {
		p.Model, p.Provider = c.Model, c.Provider
		if c.MaxTurns != nil {
			n := *c.MaxTurns
			p.MaxTurns = &n
		}
	}
	if rig.Spec.AgentPolicy != nil {
		p.Allow = *rig.Spec.AgentPolicy.DeepCopy()
	}
	return p
}

// Check returns what spec asks for that the policy does not allow, one
// field error per field, named by its path in the bead file
// (spec.agent.image, spec.agent.env[0].valueFrom). Use Message for the text
// to show.
func (p Policy) Check(spec *gastownv1.BeadSpec) vfield.ErrorList {
	var errs vfield.ErrorList
	if a := spec.Agent; a != nil {
		errs = append(errs, p.checkAgent(vfield.NewPath("spec", "agent"), a)...)
	}
	if spec.Resources != nil {
		errs = append(errs, p.checkResources(vfield.NewPath("spec", "resources"), spec.Resources)...)
	}
	return errs
}

// Message is the text of a policy error: its field path and what is wrong,
// as "spec.agent.image: a bead may not choose an image; ...".
func Message(e *vfield.Error) string {
	return e.Field + ": " + e.Detail
}

// Messages joins the messages of errs with "; ".
func Messages(errs vfield.ErrorList) string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, Message(e))
	}
	return strings.Join(out, "; ")
}

func (p Policy) checkAgent(path *vfield.Path, a *gastownv1.AgentSpec) vfield.ErrorList {
	var errs vfield.ErrorList
	allow := p.Allow
	if a.Type != "" && a.Type != p.Agent && !slices.Contains(allow.AgentTypes, a.Type) {
		errs = append(errs, vfield.Forbidden(path.Child("type"), fmt.Sprintf("agent %q is not allowed; %s allows %s",
			a.Type, p.who(), list(append([]gastownv1.AgentType{p.Agent}, allow.AgentTypes...)))))
	}
	if a.Model != "" && a.Model != p.Model && !slices.Contains(allow.Models, a.Model) {
		errs = append(errs, vfield.Forbidden(path.Child("model"), fmt.Sprintf("model %q is not allowed; %s allows %s",
			clip(a.Model), p.who(), list(nonEmpty(p.Model, allow.Models)))))
	}
	if a.Provider != "" && a.Provider != p.Provider && !slices.Contains(allow.Providers, a.Provider) {
		errs = append(errs, vfield.Forbidden(path.Child("provider"), fmt.Sprintf("provider %q is not allowed; %s allows %s",
			clip(a.Provider), p.who(), list(nonEmpty(p.Provider, allow.Providers)))))
	}
	if a.MaxTurns != nil {
		bound := allow.MaxTurns
		if bound == nil {
			bound = p.MaxTurns
		}
		if bound != nil && *a.MaxTurns > *bound {
			errs = append(errs, vfield.Forbidden(path.Child("maxTurns"), fmt.Sprintf("%d is more than the %d turns %s allows",
				*a.MaxTurns, *bound, p.who())))
		}
	}
	if a.Image != "" && !slices.Contains(allow.Images, a.Image) {
		errs = append(errs, vfield.Forbidden(path.Child("image"), fmt.Sprintf("a bead may not choose an image (%q); %s allows %s (an admin lists images in the rig's spec.agentPolicy.images)",
			clip(a.Image), p.who(), list(allow.Images))))
	}
	if !allow.AllowCommand {
		if len(a.Command) > 0 {
			errs = append(errs, vfield.Forbidden(path.Child("command"), fmt.Sprintf("a bead may not choose the agent's command; %s does not allow it (spec.agentPolicy.allowCommand)", p.who())))
		}
		if len(a.Args) > 0 {
			errs = append(errs, vfield.Forbidden(path.Child("args"), fmt.Sprintf("a bead may not choose the agent's arguments; %s does not allow it (spec.agentPolicy.allowCommand)", p.who())))
		}
	}
	if a.ConfigMapRef != nil {
		errs = append(errs, vfield.Forbidden(path.Child("configMapRef"), "a bead may not mount a ConfigMap into the agent; set it in the rig's spec.agentConfig.configMapRef"))
	}
	if mp := a.ModelProvider; mp != nil {
		mpPath := path.Child("modelProvider")
		if mp.Endpoint != "" {
			errs = append(errs, vfield.Forbidden(mpPath.Child("endpoint"), "a bead may not choose the model endpoint (it would receive the rig's model key); set it in the rig's spec.agentConfig.modelProvider"))
		}
		if mp.APIKeySecretRef != nil {
			errs = append(errs, vfield.Forbidden(mpPath.Child("apiKeySecretRef"), "a bead may not name a secret; the rig's spec.kubernetes.apiKeySecretRef holds the agent's key"))
		}
	}
	for i, e := range a.Env {
		envPath := path.Child("env").Index(i)
		switch {
		case e.ValueFrom != nil:
			errs = append(errs, vfield.Forbidden(envPath.Child("valueFrom"), fmt.Sprintf("env var %q: a bead may not take a value from a secret, ConfigMap, field or resource; set such variables in the rig's spec.agentConfig.env", clip(e.Name))))
		case !slices.Contains(allow.Env, e.Name):
			errs = append(errs, vfield.Forbidden(envPath.Child("name"), fmt.Sprintf("env var %q is not allowed; %s allows %s (spec.agentPolicy.env)",
				clip(e.Name), p.who(), list(allow.Env))))
		}
	}
	return errs
}

func (p Policy) checkResources(path *vfield.Path, res *corev1.ResourceRequirements) vfield.ErrorList {
	max := p.Allow.MaxResources
	if max == nil {
		return vfield.ErrorList{vfield.Forbidden(path, fmt.Sprintf("a bead may not set resources; %s sets no spec.agentPolicy.maxResources", p.who()))}
	}
	var errs vfield.ErrorList
	for _, group := range []struct {
		name string
		list corev1.ResourceList
	}{{"limits", res.Limits}, {"requests", res.Requests}} {
		for _, name := range sortedKeys(group.list) {
			at := path.Child(group.name).Key(string(name))
			q := group.list[name]
			bound, ok := max[name]
			switch {
			case !ok:
				errs = append(errs, vfield.Forbidden(at, fmt.Sprintf("a bead may not ask for %s; %s caps only %s", name, p.who(), list(sortedKeys(max)))))
			case q.Cmp(bound) > 0:
				errs = append(errs, vfield.Forbidden(at, fmt.Sprintf("%s is more than the %s %s allows", q.String(), bound.String(), p.who())))
			}
		}
	}
	if len(res.Claims) > 0 {
		errs = append(errs, vfield.Forbidden(path.Child("claims"), "a bead may not claim resources"))
	}
	return errs
}

// who names the policy's rig in a message.
func (p Policy) who() string {
	if p.Rig == "" {
		return "the default policy (no rig given)"
	}
	return fmt.Sprintf("the rig %q", p.Rig)
}

func nonEmpty(first string, rest []string) []string {
	if first == "" {
		return rest
	}
	return append([]string{first}, rest...)
}

// list shows allowed values: "none", or the values quoted and sorted.
func list[T ~string](values []T) string {
	seen := map[T]bool{}
	var out []string
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, fmt.Sprintf("%q", clip(string(v))))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// CheckPolicy adds to s.Errors the policy errors of every bead, each at the
// line of its field, and sorts the errors again. The operator does not call
// it: it refuses such beads at dispatch, one by one; `kubectl gt validate`
// reports them with the file's other errors.
func (s *Set) CheckPolicy(p Policy) {
	added := false
	for _, b := range s.Beads {
		for _, e := range p.Check(&b.Spec) {
			s.Errors = append(s.Errors, Error{File: b.File, Line: b.lineOf(e.Field), Message: Message(e)})
			added = true
		}
	}
	if added {
		sort.SliceStable(s.Errors, func(i, j int) bool {
			if s.Errors[i].File != s.Errors[j].File {
				return s.Errors[i].File < s.Errors[j].File
			}
			return s.Errors[i].Line < s.Errors[j].Line
		})
	}
}

// lineOf returns the line of the field at path, or of its nearest parent
// written in the file, or the bead's own line.
func (b *Bead) lineOf(path string) int {
	for path != "" {
		if line := b.FieldLines[path]; line > 0 {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return b.Line
}
