package polecat

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// TestRequiredSecretsOfTheSeedPod: the seed's pod cannot start without its
// git secret; its API key and claude credentials are optional one by one,
// and a secret only the agent's env names is required like the others.
func TestRequiredSecretsOfTheSeedPod(t *testing.T) {
	pc := seedPolecat()
	s, err := Resolve(pc, nil, nil, Defaults{RunnerImage: runnerImage})
	if err != nil {
		t.Fatal(err)
	}
	s.AgentConfig.Env = append(s.AgentConfig.Env, corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "agent-token"}, Key: "token"}}})
	pod, err := BuildPod(pc, s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"git-credentials", "agent-token"}, RequiredSecrets(&pod.Spec)); diff != "" {
		t.Errorf("RequiredSecrets (-want +got):\n%s", diff)
	}
}

func TestRequiredSecrets(t *testing.T) {
	optional := true
	spec := &corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol"}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-optional", Optional: &optional}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "projected"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "a-configmap"}}},
			}}}},
			{Name: "d", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
		InitContainers: []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env-from"}}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env-from-optional"}, Optional: &optional}},
		}}},
		Containers: []corev1.Container{{Name: "agent", Env: []corev1.EnvVar{
			{Name: "PLAIN", Value: "x"},
			{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env"}, Key: "k"}}},
			{Name: "AGAIN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "vol"}, Key: "k"}}},
			{Name: "MAYBE", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-optional"}, Key: "k", Optional: &optional}}},
		}}},
	}
	want := []string{"vol", "projected", "env-from", "env"}
	if diff := cmp.Diff(want, RequiredSecrets(spec)); diff != "" {
		t.Errorf("RequiredSecrets (-want +got):\n%s", diff)
	}
}
