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

func TestPolicyCheck(t *testing.T) {
	demo := &gastownv1.Rig{}
	demo.Name = "demo"
	demo.Spec.Agent = gastownv1.AgentOpenCode
	demo.Spec.AgentConfig = &gastownv1.AgentConfig{Model: "qwen3", Provider: "ollama", MaxTurns: new(int32(40))}
	open := demo.DeepCopy()
	open.Spec.AgentPolicy = &gastownv1.AgentPolicy{
		AgentTypes:   []gastownv1.AgentType{gastownv1.AgentClaudeCode, gastownv1.AgentCustom},
		Models:       []string{"claude-sonnet-4-5"},
		Providers:    []string{"anthropic"},
		Images:       []string{"registry.example.com/agent@sha256:abc"},
		AllowCommand: true,
		Env:          []string{"DEBUG"},
		MaxTurns:     new(int32(100)),
		MaxResources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")},
	}
	agent := func(mutate func(*gastownv1.AgentSpec)) *gastownv1.BeadSpec {
		a := &gastownv1.AgentSpec{}
		mutate(a)
		return &gastownv1.BeadSpec{Title: "t", Agent: a}
	}
	secretEnv := corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "git"}, Key: "token"}}}
	tests := []struct {
		name   string
		policy Policy
		spec   *gastownv1.BeadSpec
		want   []string
	}{
		{"no agent, no resources", PolicyOf(demo), &gastownv1.BeadSpec{Title: "t"}, nil},
		{"the rig's own agent, model, provider, fewer turns", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) {
			a.Type, a.Model, a.Provider, a.MaxTurns = gastownv1.AgentOpenCode, "qwen3", "ollama", new(int32(10))
		}), nil},
		{"image", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.Image = "evil:latest" }),
			[]string{`spec.agent.image: a bead may not choose an image ("evil:latest"); the rig "demo" allows none (an admin lists images in the rig's spec.agentPolicy.images)`}},
		{"command", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.Command = []string{"sh"} }),
			[]string{`spec.agent.command: a bead may not choose the agent's command; the rig "demo" does not allow it (spec.agentPolicy.allowCommand)`}},
		{"args", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.Args = []string{"-c", "env"} }),
			[]string{`spec.agent.args: a bead may not choose the agent's arguments; the rig "demo" does not allow it (spec.agentPolicy.allowCommand)`}},
		{"env valueFrom secretKeyRef", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.Env = []corev1.EnvVar{{Name: "DEBUG", Value: "1"}, secretEnv} }),
			[]string{
				`spec.agent.env[0].name: env var "DEBUG" is not allowed; the rig "demo" allows none (spec.agentPolicy.env)`,
				`spec.agent.env[1].valueFrom: env var "TOKEN": a bead may not take a value from a secret, ConfigMap, field or resource; set such variables in the rig's spec.agentConfig.env`,
			}},
		{"env valueFrom refused even when the policy allows the name", PolicyOf(open), agent(func(a *gastownv1.AgentSpec) {
			a.Env = []corev1.EnvVar{{Name: "DEBUG", ValueFrom: secretEnv.ValueFrom}}
		}), []string{`spec.agent.env[0].valueFrom: env var "DEBUG": a bead may not take a value from a secret, ConfigMap, field or resource; set such variables in the rig's spec.agentConfig.env`}},
		{"apiKeySecretRef, even with an open policy", PolicyOf(open), agent(func(a *gastownv1.AgentSpec) {
			a.ModelProvider = &gastownv1.ModelProvider{APIKeySecretRef: &meta.SecretKeyReference{Name: "other-key"}}
		}), []string{`spec.agent.modelProvider.apiKeySecretRef: a bead may not name a secret; the rig's spec.kubernetes.apiKeySecretRef holds the agent's key`}},
		{"modelProvider endpoint", PolicyOf(open), agent(func(a *gastownv1.AgentSpec) {
			a.ModelProvider = &gastownv1.ModelProvider{Endpoint: "https://attacker.example.com/v1"}
		}), []string{`spec.agent.modelProvider.endpoint: a bead may not choose the model endpoint (it would receive the rig's model key); set it in the rig's spec.agentConfig.modelProvider`}},
		{"configMapRef", PolicyOf(open), agent(func(a *gastownv1.AgentSpec) { a.ConfigMapRef = &meta.LocalObjectReference{Name: "cfg"} }),
			[]string{`spec.agent.configMapRef: a bead may not mount a ConfigMap into the agent; set it in the rig's spec.agentConfig.configMapRef`}},
		{"agent type not allowed", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.Type = gastownv1.AgentCustom }),
			[]string{`spec.agent.type: agent "custom" is not allowed; the rig "demo" allows "opencode"`}},
		{"model not allowed", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.Model = "gpt-5" }),
			[]string{`spec.agent.model: model "gpt-5" is not allowed; the rig "demo" allows "qwen3"`}},
		{"provider not allowed", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.Provider = "openai" }),
			[]string{`spec.agent.provider: provider "openai" is not allowed; the rig "demo" allows "ollama"`}},
		{"more turns than the rig's", PolicyOf(demo), agent(func(a *gastownv1.AgentSpec) { a.MaxTurns = new(int32(41)) }),
			[]string{`spec.agent.maxTurns: 41 is more than the 40 turns the rig "demo" allows`}},
		{"resources without a cap", PolicyOf(demo), &gastownv1.BeadSpec{Title: "t", Resources: &corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}},
			[]string{`spec.resources: a bead may not set resources; the rig "demo" sets no spec.agentPolicy.maxResources`}},
		{"resources above the cap or not capped", PolicyOf(open), &gastownv1.BeadSpec{Title: "t", Resources: &corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi"), "nvidia.com/gpu": resource.MustParse("1")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
			[]string{
				`spec.resources.limits[memory]: 8Gi is more than the 4Gi the rig "demo" allows`,
				`spec.resources.limits[nvidia.com/gpu]: a bead may not ask for nvidia.com/gpu; the rig "demo" caps only "cpu", "memory"`,
			}},
		{"everything the open policy allows", PolicyOf(open), &gastownv1.BeadSpec{Title: "t",
			Agent: &gastownv1.AgentSpec{Type: gastownv1.AgentCustom, AgentConfig: gastownv1.AgentConfig{
				Model: "claude-sonnet-4-5", Provider: "anthropic", Image: "registry.example.com/agent@sha256:abc",
				Command: []string{"run-agent"}, Args: []string{"--fast"}, Env: []corev1.EnvVar{{Name: "DEBUG", Value: "1"}},
				MaxTurns: new(int32(100)),
			}},
			Resources: &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}}}, nil},
		{"the default policy (validate without --rig)", DefaultPolicy(), agent(func(a *gastownv1.AgentSpec) {
			a.Type, a.Model = gastownv1.AgentAider, "gpt-5"
		}), []string{
			`spec.agent.type: agent "aider" is not allowed; the default policy (no rig given) allows "claude-code"`,
			`spec.agent.model: model "gpt-5" is not allowed; the default policy (no rig given) allows none`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range tt.policy.Check(tt.spec) {
				got = append(got, Message(e))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetCheckPolicyReportsTheLineOfTheField(t *testing.T) {
	const file = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-a
spec:
  title: A
  agent:
    model: claude-sonnet-4-5
    image: evil:latest
    env:
    - name: TOKEN
      valueFrom:
        secretKeyRef: {name: git, key: token}
`
	beads, _, errs := ParseManifests(testFile, []byte(file))
	if len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	set := &Set{Beads: beads}
	set.CheckPolicy(DefaultPolicy())
	var got []string
	for _, e := range set.Errors {
		got = append(got, e.Error())
	}
	want := []string{
		testFile + `:8: spec.agent.model: model "claude-sonnet-4-5" is not allowed; the default policy (no rig given) allows none`,
		testFile + `:9: spec.agent.image: a bead may not choose an image ("evil:latest"); the default policy (no rig given) allows none (an admin lists images in the rig's spec.agentPolicy.images)`,
		testFile + `:12: spec.agent.env[0].valueFrom: env var "TOKEN": a bead may not take a value from a secret, ConfigMap, field or resource; set such variables in the rig's spec.agentConfig.env`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if strings.Contains(strings.Join(got, "\n"), "token}") {
		t.Error("a message shows the secret reference's value")
	}
}
