package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// TestValidateWithRigPolicy: --rig reads the rig's agent policy from the
// cluster. The rig lets beads choose the image and the command; the secret
// references stay refused, whatever the policy says.
func TestValidateWithRigPolicy(t *testing.T) {
	const name = "validate-policy"
	rig := &gastownv1.Rig{}
	rig.Name = name
	rig.Spec = gastownv1.RigSpec{
		GitURL:           "https://git.example.com/org/app.git",
		WorkersNamespace: name,
		AgentPolicy: &gastownv1.AgentPolicy{
			Images:       []string{"evil.example.com/agent:latest"},
			AllowCommand: true,
		},
	}
	create(t, rig, nil)
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), rig) })

	code, out, errOut := gt("validate", "testdata/hostile", "--rig", name)
	want := `testdata/hostile/beads.yaml:19: spec.agent.modelProvider.apiKeySecretRef: a bead may not name a secret; the rig's spec.kubernetes.apiKeySecretRef holds the agent's key
testdata/hostile/beads.yaml:22: spec.agent.env[0].valueFrom: env var "STOLEN": a bead may not take a value from a secret, ConfigMap, field or resource; set such variables in the rig's spec.agentConfig.env
validated 2 beads and 0 convoys in 1 file: 2 errors in 1 file
`
	if code != exitFailed || errOut != "" {
		t.Errorf("exit code %d, stderr %q; want %d and nothing", code, errOut, exitFailed)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	code, _, errOut = gt("validate", "testdata/hostile", "--rig", "no-such-rig")
	if code != exitFailed || !strings.Contains(errOut, `rig "no-such-rig" not found`) {
		t.Errorf("missing rig: exit code %d, stderr %q", code, errOut)
	}
}
