package beads

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

const testFile = ".gastown/a.yaml"

// beadHead is a valid bead whose spec continues on line 7.
const beadHead = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-a
spec:
  title: A
`

// convoyHead is a valid convoy header whose spec continues on line 6.
const convoyHead = `apiVersion: gastown.gastown.io/v1alpha1
kind: Convoy
metadata:
  name: sprint
spec:
`

func errorStrings(errs []Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestParseManifestsReportsEachRule(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "valid bead and convoy",
			yaml: beadHead + "---\n" + convoyHead + "  trackedBeads: [gt-a]\n",
		},
		{
			name: "empty documents and comments only",
			yaml: "# nothing yet\n---\n---\n# still nothing\n",
		},
		{
			name: "YAML syntax error",
			yaml: beadHead + "  description: [unclosed\n",
			want: []string{".gastown/a.yaml:7: invalid YAML: did not find expected ',' or ']'"},
		},
		{
			name: "YAML syntax error in a later document",
			yaml: beadHead + "---\nkind: : Bead\n",
			want: []string{".gastown/a.yaml:8: invalid YAML: mapping values are not allowed in this context"},
		},
		{
			name: "YAML block mapping broken",
			yaml: beadHead + " type: bug\n",
			want: []string{".gastown/a.yaml:7: invalid YAML: did not find expected key"},
		},
		{
			name: "YAML unknown anchor",
			yaml: beadHead + "  labels: *common\n",
			want: []string{`.gastown/a.yaml:7: invalid YAML: unknown anchor "common" referenced`},
		},
		{
			name: "not UTF-8",
			yaml: beadHead + "  description: caf\xe9\n",
			want: []string{".gastown/a.yaml:7: bead files must be UTF-8; found the byte 0xe9"},
		},
		{
			name: "control character",
			yaml: beadHead + "  description: a\x01b\n",
			want: []string{".gastown/a.yaml:7: control character U+0001 is not allowed"},
		},
		{
			name: "document is not a mapping",
			yaml: "- gt-a\n- gt-b\n",
			want: []string{".gastown/a.yaml:1: expected a Bead or Convoy object, got a list"},
		},
		{
			name: "kind missing",
			yaml: "apiVersion: gastown.gastown.io/v1alpha1\nmetadata: {name: gt-a}\n",
			want: []string{".gastown/a.yaml:1: kind is required: bead files hold Bead and Convoy objects"},
		},
		{
			name: "other kind",
			yaml: beadHead + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
			want: []string{`.gastown/a.yaml:9: kind "ConfigMap" is not allowed here: bead files hold only Bead and Convoy objects`},
		},
		{
			name: "kind not a string",
			yaml: "apiVersion: gastown.gastown.io/v1alpha1\nkind: [Bead]\n",
			want: []string{".gastown/a.yaml:2: kind: expected a string, got a list"},
		},
		{
			name: "wrong apiVersion",
			yaml: strings.Replace(beadHead, "v1alpha1", "v1", 1),
			want: []string{`.gastown/a.yaml:1: apiVersion must be gastown.gastown.io/v1alpha1, got "gastown.gastown.io/v1"`},
		},
		{
			name: "apiVersion missing",
			yaml: strings.Replace(beadHead, "apiVersion: gastown.gastown.io/v1alpha1\n", "", 1),
			want: []string{".gastown/a.yaml:1: apiVersion is required"},
		},
		{
			name: "namespace in metadata",
			yaml: strings.Replace(beadHead, "  name: gt-a\n", "  name: gt-a\n  namespace: default\n", 1),
			want: []string{`.gastown/a.yaml:5: unknown field "metadata.namespace": metadata allows only name, labels and annotations`},
		},
		{
			name: "name missing",
			yaml: "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata:\n  labels: {team: web}\nspec:\n  title: A\n",
			want: []string{".gastown/a.yaml:3: metadata.name is required"},
		},
		{
			name: "name empty",
			yaml: strings.Replace(beadHead, "name: gt-a", `name: ""`, 1),
			want: []string{".gastown/a.yaml:4: metadata.name must not be empty"},
		},
		{
			name: "ID not a DNS label",
			yaml: strings.Replace(beadHead, "name: gt-a", "name: _gt/a", 1),
			want: []string{`.gastown/a.yaml:4: bead ID "_gt/a" is not valid: use letters, digits, '-', '_' and '.', and start and end with a letter or digit`},
		},
		{
			name: "bd IDs: child IDs, underscores and upper case",
			yaml: strings.Replace(beadHead, "name: gt-a", "name: Scout_mcp-a.1.2", 1),
		},
		{
			name: "ID that cannot be part of a branch name",
			yaml: strings.Replace(beadHead, "name: gt-a", "name: gt-a..1", 1),
			want: []string{`.gastown/a.yaml:4: bead ID "gt-a..1" cannot be part of a git branch name: no ".." and no final ".lock"`},
		},
		{
			name: "operator fields: spec.id",
			yaml: beadHead + "  id: gt-b\n",
			want: []string{`.gastown/a.yaml:7: spec.id is set by the operator, not in bead files`},
		},
		{
			name: "ID longer than 63 characters",
			yaml: strings.Replace(beadHead, "name: gt-a", "name: gt-"+strings.Repeat("a", 61), 1),
			want: []string{`.gastown/a.yaml:4: bead ID "gt-` + strings.Repeat("a", 61) + `" is 64 characters long; the limit is 63`},
		},
		{
			name: "convoy ID may be longer than a bead ID",
			yaml: strings.Replace(convoyHead, "name: sprint", "name: "+strings.Repeat("s", 63), 1) + "  trackedBeads: [gt-a]\n",
		},
		{
			name: "convoy ID longer than 63 characters",
			yaml: strings.Replace(convoyHead, "name: sprint", "name: "+strings.Repeat("s", 64), 1) + "  trackedBeads: [gt-a]\n",
			want: []string{`.gastown/a.yaml:4: convoy ID "` + strings.Repeat("s", 64) + `" is 64 characters long; the limit is 63`},
		},
		{
			name: "bad label key and value",
			yaml: strings.Replace(beadHead, "  name: gt-a\n", "  name: gt-a\n  labels:\n    team: web\n    -bad-: x\n    tier: not valid\n", 1),
			want: []string{
				`.gastown/a.yaml:7: metadata.labels: key "-bad-" is not valid: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				`.gastown/a.yaml:8: metadata.labels[tier]: value "not valid" is not valid: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			},
		},
		{
			name: "bad annotation key",
			yaml: strings.Replace(beadHead, "  name: gt-a\n", "  name: gt-a\n  annotations:\n    gastown.gastown.io/retry: \"1\"\n    a b: c\n", 1),
			want: []string{`.gastown/a.yaml:7: metadata.annotations: key "a b" is not valid: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		},
		{
			name: "label set twice",
			yaml: strings.Replace(beadHead, "  name: gt-a\n", "  name: gt-a\n  labels:\n    team: a\n    team: b\n", 1),
			want: []string{`.gastown/a.yaml:7: duplicate key "metadata.labels[team]" (first set at line 6)`},
		},
		{
			name: "long values are shortened in messages",
			yaml: beadHead + "  type: " + strings.Repeat("x", 100) + "\n",
			want: []string{`.gastown/a.yaml:7: spec.type: "` + strings.Repeat("x", 64) + `..." is not one of bug, feature, task, chore, epic, merge-request, gate, molecule, message, agent, role, rig, event, decision, convoy`},
		},
		{
			name: "unknown spec field",
			yaml: beadHead + "  estimate: 3d\n",
			want: []string{`.gastown/a.yaml:7: unknown field "spec.estimate"`},
		},
		{
			name: "status at the top level",
			yaml: beadHead + "status:\n  phase: Ready\n",
			want: []string{`.gastown/a.yaml:7: unknown field "status"`},
		},
		{
			name: "field set twice",
			yaml: beadHead + "  title: B\n",
			want: []string{`.gastown/a.yaml:7: duplicate field "spec.title" (first set at line 6)`},
		},
		{
			name: "spec missing",
			yaml: "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata: {name: gt-a}\n",
			want: []string{".gastown/a.yaml:1: spec is required"},
		},
		{
			name: "spec not a mapping",
			yaml: "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata: {name: gt-a}\nspec: add a health check\n",
			want: []string{`.gastown/a.yaml:4: spec: expected a mapping, got "add a health check"`},
		},
		{
			name: "title missing",
			yaml: "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata: {name: gt-a}\nspec:\n  priority: 1\n",
			want: []string{".gastown/a.yaml:4: spec.title is required"},
		},
		{
			name: "title null",
			yaml: strings.Replace(beadHead, "title: A", "title: ~", 1),
			want: []string{".gastown/a.yaml:5: spec.title is required"},
		},
		{
			name: "title empty",
			yaml: strings.Replace(beadHead, "title: A", `title: ""`, 1),
			want: []string{".gastown/a.yaml:6: spec.title must not be empty"},
		},
		{
			name: "title too long",
			yaml: strings.Replace(beadHead, "title: A", "title: "+strings.Repeat("é", 257), 1),
			want: []string{".gastown/a.yaml:6: spec.title is 257 characters long; the limit is 256"},
		},
		{
			name: "title not a string",
			yaml: strings.Replace(beadHead, "title: A", "title: 42", 1),
			want: []string{".gastown/a.yaml:6: spec.title: expected a string, got the number 42"},
		},
		{
			name: "unknown type",
			yaml: beadHead + "  type: story\n",
			want: []string{`.gastown/a.yaml:7: spec.type: "story" is not one of bug, feature, task, chore, epic, merge-request, gate, molecule, message, agent, role, rig, event, decision, convoy`},
		},
		{
			name: "priority not an integer",
			yaml: beadHead + "  priority: high\n",
			want: []string{`.gastown/a.yaml:7: spec.priority: expected an integer, got "high"`},
		},
		{
			name: "priority a fraction",
			yaml: beadHead + "  priority: 1.5\n",
			want: []string{`.gastown/a.yaml:7: spec.priority: expected an integer, got the number 1.5`},
		},
		{
			name: "priority out of range",
			yaml: beadHead + "  priority: 5\n",
			want: []string{".gastown/a.yaml:7: spec.priority: 5 is out of range: use 0 (highest) to 4"},
		},
		{
			name: "priority beyond int32",
			yaml: beadHead + "  priority: 4294967296\n",
			want: []string{".gastown/a.yaml:7: spec.priority: 4294967296 is out of range"},
		},
		{
			name: "unknown status",
			yaml: beadHead + "  status: started\n",
			want: []string{`.gastown/a.yaml:7: spec.status: "started" is not one of open, in_progress, hooked, blocked, deferred, pinned, closed`},
		},
		{
			name: "dependsOn not a list",
			yaml: beadHead + "  dependsOn: gt-b\n",
			want: []string{`.gastown/a.yaml:7: spec.dependsOn: expected a list, got "gt-b"`},
		},
		{
			name: "dependsOn entry listed twice",
			yaml: beadHead + "  dependsOn:\n  - gt-b\n  - gt-b\n",
			want: []string{`.gastown/a.yaml:9: spec.dependsOn: "gt-b" is listed twice`},
		},
		{
			name: "labels not strings",
			yaml: beadHead + "  labels: [web, {team: x}]\n",
			want: []string{".gastown/a.yaml:7: spec.labels[1]: expected a string, got a mapping"},
		},
		{
			name: "rigRef in a bead file",
			yaml: beadHead + "  rigRef: my-project\n",
			want: []string{".gastown/a.yaml:7: spec.rigRef is set by the operator, not in bead files"},
		},
		{
			name: "sourcePath in a bead file",
			yaml: beadHead + "  sourcePath: .gastown/a.yaml\n",
			want: []string{".gastown/a.yaml:7: spec.sourcePath is set by the operator, not in bead files"},
		},
		{
			name: "unknown agent type and provider",
			yaml: beadHead + "  agent:\n    type: copilot\n    provider: azure\n",
			want: []string{
				`.gastown/a.yaml:8: spec.agent.type: "copilot" is not one of claude-code, opencode, aider, custom`,
				`.gastown/a.yaml:9: spec.agent.provider: "azure" is not one of litellm, anthropic, openai, ollama`,
			},
		},
		{
			name: "agent maxTurns below 1",
			yaml: beadHead + "  agent:\n    maxTurns: 0\n",
			want: []string{".gastown/a.yaml:8: spec.agent.maxTurns: 0 must be 1 or more"},
		},
		{
			name: "unknown agent field",
			yaml: beadHead + "  agent:\n    type: custom\n    entrypoint: [run]\n",
			want: []string{`.gastown/a.yaml:9: unknown field "spec.agent.entrypoint"`},
		},
		{
			name: "agent required fields of references",
			yaml: beadHead + "  agent:\n    configMapRef: {}\n    modelProvider:\n      apiKeySecretRef: {key: token}\n    env:\n    - value: \"1\"\n",
			want: []string{
				".gastown/a.yaml:8: spec.agent.configMapRef.name is required",
				".gastown/a.yaml:10: spec.agent.modelProvider.apiKeySecretRef.name is required",
				".gastown/a.yaml:12: spec.agent.env[0].name is required",
			},
		},
		{
			name: "agent env type error",
			yaml: beadHead + "  agent:\n    env:\n    - name: DEBUG\n      value: true\n",
			want: []string{".gastown/a.yaml:10: spec.agent.env[0].value: expected a string, got the boolean true"},
		},
		{
			name: "resources quantity not valid",
			yaml: beadHead + "  resources:\n    limits:\n      memory: lots\n",
			want: []string{`.gastown/a.yaml:9: spec.resources.limits[memory]: "lots" is not a quantity such as 500m or 2Gi`},
		},
		{
			name: "resources quantity of the wrong type",
			yaml: beadHead + "  resources:\n    limits:\n      cpu: [1]\n",
			want: []string{".gastown/a.yaml:9: spec.resources.limits[cpu]: expected a quantity such as 500m or 2Gi, got a list"},
		},
		{
			name: "resources quantity negative",
			yaml: beadHead + "  resources:\n    requests:\n      cpu: -1\n",
			want: []string{".gastown/a.yaml:9: spec.resources.requests[cpu]: -1 must not be negative"},
		},
		{
			name: "resources request above limit",
			yaml: beadHead + "  resources:\n    limits: {memory: 1Gi}\n    requests: {memory: 2Gi}\n",
			want: []string{".gastown/a.yaml:9: spec.resources.requests[memory]: 2Gi is more than the limit 1Gi"},
		},
		{
			name: "resources unknown field",
			yaml: beadHead + "  resources:\n    cpu: 1\n",
			want: []string{`.gastown/a.yaml:8: unknown field "spec.resources.cpu"`},
		},
		{
			name: "convoy trackedBeads missing",
			yaml: convoyHead + "  description: sprint 1\n",
			want: []string{".gastown/a.yaml:5: spec.trackedBeads is required"},
		},
		{
			name: "convoy trackedBeads empty",
			yaml: convoyHead + "  trackedBeads: []\n",
			want: []string{".gastown/a.yaml:6: spec.trackedBeads must name at least one bead"},
		},
		{
			name: "convoy trackedBeads listed twice",
			yaml: convoyHead + "  trackedBeads: [gt-a, gt-b, gt-a]\n",
			want: []string{`.gastown/a.yaml:6: spec.trackedBeads: "gt-a" is listed twice`},
		},
		{
			name: "convoy parallelism negative",
			yaml: convoyHead + "  trackedBeads: [gt-a]\n  parallelism: -1\n",
			want: []string{".gastown/a.yaml:7: spec.parallelism: -1 must be 0 (no limit of its own) or more"},
		},
		{
			name: "convoy rigRef and unknown field",
			yaml: convoyHead + "  trackedBeads: [gt-a]\n  rigRef: my-project\n  deadline: friday\n",
			want: []string{
				".gastown/a.yaml:7: spec.rigRef is set by the operator, not in bead files",
				`.gastown/a.yaml:8: unknown field "spec.deadline"`,
			},
		},
		{
			name: "mapping key not a string",
			yaml: beadHead + "  [a, b]: c\n",
			want: []string{".gastown/a.yaml:7: spec: field names must be strings, not a list"},
		},
		{
			name: "merge key",
			yaml: "defaults: &d {type: bug}\n" + "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata: {name: gt-a}\nspec:\n  <<: *d\n  title: A\n",
			want: []string{
				`.gastown/a.yaml:1: unknown field "defaults"`,
				".gastown/a.yaml:6: spec: YAML merge keys (<<) are not supported",
			},
		},
		{
			name: "aliases are followed",
			yaml: "apiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata: {name: &id gt-a}\nspec:\n  title: *id\n",
		},
		{
			name: "aliases that expand without bound",
			yaml: aliasBomb(),
			want: []string{".gastown/a.yaml:8: document has more than 100000 YAML nodes, counting each use of an alias"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, errs := ParseManifests(testFile, []byte(tt.yaml))
			if diff := cmp.Diff(tt.want, errorStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// aliasBomb is a bead whose labels name one string through more aliases
// than the decoder visits.
func aliasBomb() string {
	return beadHead + "  description: &d x\n  labels: [" + strings.Repeat("*d, ", maxVisits) + "*d]\n"
}

func TestParseManifestsTooManyErrors(t *testing.T) {
	yaml := beadHead + strings.Repeat("  bogus: 1\n", 60)
	_, _, errs := ParseManifests(testFile, []byte(yaml))
	if len(errs) != maxErrorsPerFile+1 {
		t.Fatalf("got %d errors, want %d", len(errs), maxErrorsPerFile+1)
	}
	if last := errs[len(errs)-1].Message; last != "too many errors; fix the ones above first" {
		t.Errorf("last error = %q", last)
	}
}

func TestParseManifestsAppliesDefaults(t *testing.T) {
	beads, convoys, errs := ParseManifests(testFile, []byte(beadHead+"---\n"+convoyHead+"  trackedBeads: [gt-a]\n"))
	if len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	two := int32(2)
	want := []Bead{{
		ID: "gt-a",
		Spec: gastownv1.BeadSpec{
			ID:         "gt-a",
			Title:      "A",
			Type:       "task",
			Priority:   &two,
			Status:     gastownv1.BeadOpen,
			SourcePath: testFile,
		},
		File: testFile,
		Line: 4,
	}}
	if diff := cmp.Diff(want, beads); diff != "" {
		t.Errorf("beads (-want +got):\n%s", diff)
	}
	wantConvoys := []Convoy{{ID: "sprint", Spec: gastownv1.ConvoySpec{TrackedBeads: []string{"gt-a"}}, File: testFile, Line: 11}}
	if diff := cmp.Diff(wantConvoys, convoys); diff != "" {
		t.Errorf("convoys (-want +got):\n%s", diff)
	}
}

// TestParseManifestsReadsEveryField decodes a bead that sets every field, so
// that a field of a new Go kind in the API types fails here first.
func TestParseManifestsReadsEveryField(t *testing.T) {
	const yaml = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-health
  labels: {team: web}
  annotations: {gastown.gastown.io/retry: "2"}
spec:
  title: Add a /health endpoint
  description: Return 200.
  acceptance: go test ./... passes
  type: feature
  priority: 0
  status: closed
  dependsOn: [gt-db]
  labels: [http]
  agent:
    type: opencode
    provider: ollama
    model: qwen3
    modelProvider:
      endpoint: http://ollama:11434
      apiKeySecretRef: {name: llm, key: token}
    image: example.com/opencode:1
    command: [opencode]
    args: [run]
    configMapRef: {name: opencode-config}
    env:
    - name: DEBUG
      value: "1"
    - name: TOKEN
      valueFrom:
        secretKeyRef: {name: llm, key: token, optional: true}
    maxTurns: 30
  resources:
    requests: {cpu: 500m, memory: 1Gi}
    limits: {cpu: 2, memory: 2Gi}
`
	beads, _, errs := ParseManifests(testFile, []byte(yaml))
	if len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	zero, thirty := int32(0), int32(30)
	want := gastownv1.BeadSpec{
		Title:       "Add a /health endpoint",
		Description: "Return 200.",
		Acceptance:  "go test ./... passes",
		Type:        "feature",
		Priority:    &zero,
		Status:      gastownv1.BeadClosed,
		DependsOn:   []string{"gt-db"},
		Labels:      []string{"http"},
		Agent: &gastownv1.AgentSpec{
			Type: gastownv1.AgentOpenCode,
			AgentConfig: gastownv1.AgentConfig{
				Provider: "ollama",
				Model:    "qwen3",
				ModelProvider: &gastownv1.ModelProvider{
					Endpoint:        "http://ollama:11434",
					APIKeySecretRef: &meta.SecretKeyReference{Name: "llm", Key: "token"},
				},
				Image:        "example.com/opencode:1",
				Command:      []string{"opencode"},
				Args:         []string{"run"},
				ConfigMapRef: &meta.LocalObjectReference{Name: "opencode-config"},
				Env: []corev1.EnvVar{
					{Name: "DEBUG", Value: "1"},
					{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "llm"},
						Key:                  "token",
						Optional:             new(true),
					}}},
				},
				MaxTurns: &thirty,
			},
		},
		Resources: &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("2Gi")},
		},
		SourcePath: testFile,
		ID:         "gt-health",
	}
	if len(beads) != 1 {
		t.Fatalf("got %d beads, want 1", len(beads))
	}
	// Quantities compare by value: their cached string form may differ.
	if diff := cmp.Diff(want, beads[0].Spec, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"team": "web"}, beads[0].Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{gastownv1.RetryAnnotation: "2"}, beads[0].Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}

func TestParseManifestsReturnsBeadsOfDocumentsWithErrors(t *testing.T) {
	beads, _, errs := ParseManifests(testFile, []byte(beadHead+"  priority: 9\n"))
	if len(errs) != 1 || len(beads) != 1 || beads[0].ID != "gt-a" {
		t.Fatalf("got beads %v and errors %v, want bead gt-a and one error", beads, errs)
	}
}
