package polecat

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

const runnerImage = "ghcr.io/boshu2/gastown-operator:v1.2.3"

// seedPolecat is the Polecat example of the seed README and DESIGN.md.
func seedPolecat() *gastownv1.Polecat {
	return &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "my-worker", Namespace: "gastown-workers", UID: types.UID("uid-1")},
		Spec: gastownv1.PolecatSpec{
			Rig:             "my-project",
			BeadID:          "issue-123",
			DesiredState:    gastownv1.DesiredWorking,
			ExecutionMode:   gastownv1.ExecutionModeKubernetes,
			TaskDescription: "Implement the /health endpoint.\nCommit and push when done.\n",
			Kubernetes: &gastownv1.PolecatKubernetes{
				GitRepository:   "git@github.com:myorg/myrepo.git",
				GitBranch:       "main",
				GitSecretRef:    &meta.LocalObjectReference{Name: "git-credentials"},
				APIKeySecretRef: &meta.SecretKeyReference{Name: "claude-credentials", Key: "api-key"},
			},
		},
	}
}

// TestBuildPodSeedExample: the seed's Polecat, applied by hand with its rig
// absent, gives a complete, locked-down pod.
func TestBuildPodSeedExample(t *testing.T) {
	pc := seedPolecat()
	s, err := Resolve(pc, nil, nil, Defaults{RunnerImage: runnerImage})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := BuildPod(pc, s)
	if err != nil {
		t.Fatal(err)
	}

	// Metadata.
	if pod.Name != "polecat-my-worker" || pod.Namespace != "gastown-workers" {
		t.Errorf("pod = %s/%s, want gastown-workers/polecat-my-worker", pod.Namespace, pod.Name)
	}
	wantLabels := map[string]string{
		"gastown.gastown.io/rig":       "my-project",
		"gastown.gastown.io/bead":      "issue-123",
		"gastown.gastown.io/polecat":   "my-worker",
		"app.kubernetes.io/managed-by": "gastown-operator",
	}
	if diff := cmp.Diff(wantLabels, pod.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if got := pod.Annotations[DefaultContainerAnnotation]; got != "claude" {
		t.Errorf("default container = %q, want claude", got)
	}
	wantOwner := []metav1.OwnerReference{{
		APIVersion: "gastown.gastown.io/v1alpha1", Kind: "Polecat", Name: "my-worker", UID: "uid-1",
		Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true),
	}}
	if diff := cmp.Diff(wantOwner, pod.OwnerReferences); diff != "" {
		t.Errorf("owner (-want +got):\n%s", diff)
	}

	// Pod spec.
	spec := pod.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %s", spec.RestartPolicy)
	}
	if spec.ActiveDeadlineSeconds == nil || *spec.ActiveDeadlineSeconds != 3600 {
		t.Errorf("activeDeadlineSeconds = %v, want 3600", spec.ActiveDeadlineSeconds)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the service account token is mounted")
	}
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Error("service links are enabled")
	}
	wantPodSecurity := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptrTo(true),
		RunAsUser:      ptrTo(int64(65532)),
		RunAsGroup:     ptrTo(int64(65532)),
		FSGroup:        ptrTo(int64(65532)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantPodSecurity, spec.SecurityContext); diff != "" {
		t.Errorf("pod security context (-want +got):\n%s", diff)
	}
	if got := containerNames(spec.InitContainers); got != "install-runner,git-init,git-push" {
		t.Errorf("init containers = %s", got)
	}
	if got := containerNames(spec.Containers); got != "claude" {
		t.Errorf("containers = %s", got)
	}

	// Volumes: emptyDirs for the runner, workspace, HOME and /tmp, git-push's
	// answer and the git containers' own /tmp; the two secrets.
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	wantVolumes := []corev1.Volume{
		{Name: "runner-bin", VolumeSource: emptyDir},
		{Name: "workspace", VolumeSource: emptyDir},
		{Name: "home", VolumeSource: emptyDir},
		{Name: "tmp", VolumeSource: emptyDir},
		{Name: "push-result", VolumeSource: emptyDir},
		{Name: "git-tmp", VolumeSource: emptyDir},
		{Name: "git-credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "git-credentials", DefaultMode: ptrTo(int32(0o440)),
		}}},
		{Name: "claude-credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  "claude-credentials",
			Items:       []corev1.KeyToPath{{Key: ".credentials.json", Path: ".credentials.json"}},
			DefaultMode: ptrTo(int32(0o440)),
			Optional:    ptrTo(true),
		}}},
	}
	if diff := cmp.Diff(wantVolumes, spec.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}

	// Each container: locked down, termination message, mounts.
	work := []corev1.VolumeMount{
		{Name: "workspace", MountPath: "/workspace"},
		{Name: "home", MountPath: "/home/polecat"},
		{Name: "tmp", MountPath: "/tmp"},
	}
	// The git secret is in the git containers only, which share nothing
	// with the agent's but the workspace; the agent reads git-push's
	// answer and cannot write it.
	git := []corev1.VolumeMount{
		{Name: "workspace", MountPath: "/workspace"},
		{Name: "git-tmp", MountPath: "/tmp"},
		{Name: "git-credentials", MountPath: "/var/run/gastown/git", ReadOnly: true},
	}
	wantMounts := map[string][]corev1.VolumeMount{
		"install-runner": {{Name: "runner-bin", MountPath: "/gastown/bin"}},
		"git-init":       append(append([]corev1.VolumeMount(nil), git...), corev1.VolumeMount{Name: "push-result", MountPath: "/var/run/gastown/push"}),
		"git-push":       append(append([]corev1.VolumeMount(nil), git...), corev1.VolumeMount{Name: "push-result", MountPath: "/var/run/gastown/push"}),
		"claude": append(append([]corev1.VolumeMount(nil), work...),
			corev1.VolumeMount{Name: "runner-bin", MountPath: "/gastown/bin", ReadOnly: true},
			corev1.VolumeMount{Name: "push-result", MountPath: "/var/run/gastown/push", ReadOnly: true},
			corev1.VolumeMount{Name: "claude-credentials", MountPath: "/var/run/gastown/claude", ReadOnly: true},
		),
	}
	wantCommand := map[string][]string{
		"install-runner": {"/usr/local/bin/gastown-polecat", "install", "/gastown/bin"},
		"git-init":       {"/usr/local/bin/gastown-polecat", "clone"},
		"git-push":       {"/usr/local/bin/gastown-polecat", "push"},
		"claude":         {"/gastown/bin/gastown-polecat", "run"},
	}
	wantImage := map[string]string{
		"install-runner": runnerImage,
		"git-init":       runnerImage,
		"git-push":       runnerImage,
		"claude":         DefaultAgentImage(gastownv1.AgentClaudeCode),
	}
	push := spec.InitContainers[2]
	if push.RestartPolicy == nil || *push.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("git-push is not a native sidecar: restartPolicy %v", push.RestartPolicy)
	}
	for _, c := range allContainers(pod) {
		wantSecurity := &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptrTo(false),
			ReadOnlyRootFilesystem:   ptrTo(true),
			RunAsNonRoot:             ptrTo(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
		if diff := cmp.Diff(wantSecurity, c.SecurityContext); diff != "" {
			t.Errorf("%s security context (-want +got):\n%s", c.Name, diff)
		}
		if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
			t.Errorf("%s termination message = %s %s", c.Name, c.TerminationMessagePath, c.TerminationMessagePolicy)
		}
		if diff := cmp.Diff(wantMounts[c.Name], c.VolumeMounts); diff != "" {
			t.Errorf("%s mounts (-want +got):\n%s", c.Name, diff)
		}
		if diff := cmp.Diff(wantCommand[c.Name], c.Command); diff != "" {
			t.Errorf("%s command (-want +got):\n%s", c.Name, diff)
		}
		if c.Image != wantImage[c.Name] {
			t.Errorf("%s image = %s, want %s", c.Name, c.Image, wantImage[c.Name])
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && c.Name != "claude" {
				t.Errorf("%s has secret env %s: only the agent container gets keys", c.Name, e.Name)
			}
			if strings.Contains(strings.ToLower(e.Name), "git") && e.ValueFrom != nil {
				t.Errorf("%s exposes git credentials in env %s", c.Name, e.Name)
			}
		}
	}

	claude := spec.Containers[0]
	if diff := cmp.Diff(DefaultResources(), claude.Resources); diff != "" {
		t.Errorf("claude resources (-want +got):\n%s", diff)
	}
	if claude.WorkingDir != "/workspace/repo" {
		t.Errorf("claude workingDir = %s", claude.WorkingDir)
	}
	wantKeyEnv := corev1.EnvVar{Name: "ANTHROPIC_API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "claude-credentials"},
		Key:                  "api-key",
		Optional:             ptrTo(true),
	}}}
	if diff := cmp.Diff(wantKeyEnv, envVar(t, claude, "ANTHROPIC_API_KEY")); diff != "" {
		t.Errorf("API key env (-want +got):\n%s", diff)
	}
	for _, c := range allContainers(pod)[1:] {
		want := "/home/polecat"
		if c.Name != "claude" {
			want = "/tmp" // the git containers' own
		}
		if got := envVar(t, c, "HOME").Value; got != want {
			t.Errorf("%s HOME = %q, want %q", c.Name, got, want)
		}
	}

	// The runner's configuration, as both runner containers read it.
	cfg := decodeConfigEnv(t, envVar(t, claude, ConfigEnv).Value)
	if diff := cmp.Diff(cfg, decodeConfigEnv(t, envVar(t, spec.InitContainers[1], ConfigEnv).Value)); diff != "" {
		t.Errorf("git-init and claude read different configs:\n%s", diff)
	}
	wantGit := GitConfig{
		URL:         "git@github.com:myorg/myrepo.git",
		BaseBranch:  "main",
		WorkBranch:  "polecat/issue-123",
		SecretDir:   "/var/run/gastown/git",
		AuthorName:  "Gas Town Polecat",
		AuthorEmail: "polecat@gastown.local",
	}
	if diff := cmp.Diff(wantGit, cfg.Git); diff != "" {
		t.Errorf("git config (-want +got):\n%s", diff)
	}
	if cfg.RepoDir != "/workspace/repo" || cfg.TaskFile != "/workspace/task.md" || cfg.BeadID != "issue-123" || cfg.BeadFile != "" {
		t.Errorf("config paths and bead = %q %q %q %q", cfg.RepoDir, cfg.TaskFile, cfg.BeadID, cfg.BeadFile)
	}
	if cfg.Task.Description != "Implement the /health endpoint.\nCommit and push when done." {
		t.Errorf("task description = %q", cfg.Task.Description)
	}
	wantArgs := []string{"claude", "-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"}
	if diff := cmp.Diff(wantArgs, cfg.Agent.Args); diff != "" {
		t.Errorf("agent args (-want +got):\n%s", diff)
	}
	wantFiles := []FileCopy{{From: "/var/run/gastown/claude/.credentials.json", To: ".claude/.credentials.json"}}
	if diff := cmp.Diff(wantFiles, cfg.Agent.Files); diff != "" {
		t.Errorf("agent files (-want +got):\n%s", diff)
	}
	if c := cfg.Agent.Credentials; c == nil || !strings.Contains(c.Hint, "secret claude-credentials has neither key api-key") {
		t.Errorf("credential check = %+v", c)
	}
}

// TestBuildPodFromBeadAndRig: a dispatched polecat takes the rig's
// defaults, overridden by its bead, overridden by its own spec.
func TestBuildPodFromBeadAndRig(t *testing.T) {
	rigResources := resources("1", "2Gi")
	beadResources := resources("2", "4Gi")
	polecatResources := resources("4", "8Gi")

	tests := []struct {
		name             string
		beadResources    *corev1.ResourceRequirements
		polecatResources *corev1.ResourceRequirements
		want             corev1.ResourceRequirements
	}{
		{name: "rig default", want: *rigResources},
		{name: "bead override", beadResources: beadResources, want: *beadResources},
		{name: "polecat spec", beadResources: beadResources, polecatResources: polecatResources, want: *polecatResources},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := demoRig()
			rig.Spec.Kubernetes.Resources = rigResources
			bead := healthBead()
			bead.Spec.Resources = tt.beadResources
			pc := beadPolecat()
			pc.Spec.Resources = tt.polecatResources

			s, err := Resolve(pc, bead, rig, Defaults{RunnerImage: runnerImage})
			if err != nil {
				t.Fatal(err)
			}
			pod, err := BuildPod(pc, s)
			if err != nil {
				t.Fatal(err)
			}
			agent := pod.Spec.Containers[0]
			if diff := cmp.Diff(tt.want, agent.Resources); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			// Init containers carry the same resources, for quotas; the
			// sidecar runs beside the agent and asks for little.
			for _, c := range pod.Spec.InitContainers {
				if c.Name == GitPushContainer {
					if c.Resources.Requests.Cpu().MilliValue() > 100 {
						t.Errorf("git-push requests %s CPU", c.Resources.Requests.Cpu())
					}
					continue
				}
				if diff := cmp.Diff(tt.want, c.Resources); diff != "" {
					t.Errorf("%s resources (-want +got):\n%s", c.Name, diff)
				}
			}

			if pod.Name != "polecat-gt-health" || pod.Labels[gastownv1.BeadLabel] != "gt-health" || pod.Labels[gastownv1.RigLabel] != "demo" {
				t.Errorf("pod %s labels %v", pod.Name, pod.Labels)
			}
			if agent.Name != "claude" || agent.Image != "registry.example.com/claude:rig" {
				t.Errorf("agent container %s image %s", agent.Name, agent.Image)
			}
			if *pod.Spec.ActiveDeadlineSeconds != 7200 {
				t.Errorf("deadline = %d, want the rig's 7200", *pod.Spec.ActiveDeadlineSeconds)
			}
			cfg := decodeConfigEnv(t, envVar(t, agent, ConfigEnv).Value)
			if cfg.Git.URL != "https://github.com/org/demo.git" || cfg.Git.BaseBranch != "develop" ||
				cfg.Git.WorkBranch != "gt/gt-health" || cfg.Git.AuthorName != "Rig Bot" || cfg.BeadFile != ".gastown/health.yaml" {
				t.Errorf("git config = %+v, bead file %q", cfg.Git, cfg.BeadFile)
			}
			wantArgs := []string{"claude", "-p", "--output-format", "stream-json", "--verbose",
				"--dangerously-skip-permissions", "--model", "claude-opus-4-1", "--max-turns", "50"}
			if diff := cmp.Diff(wantArgs, cfg.Agent.Args); diff != "" {
				t.Errorf("agent args (-want +got):\n%s", diff)
			}
			if got := envVar(t, agent, "ANTHROPIC_API_KEY").ValueFrom.SecretKeyRef; got.Name != "anthropic" || got.Key != "api-key" {
				t.Errorf("API key from %s/%s, want anthropic/api-key", got.Name, got.Key)
			}
			if v := volume(pod, "git-credentials"); v == nil || v.Secret.SecretName != "git-creds" {
				t.Errorf("git secret volume = %+v", v)
			}
		})
	}
}

func TestBuildPodWithoutGitSecret(t *testing.T) {
	pc := seedPolecat()
	pc.Spec.Kubernetes.GitSecretRef = nil
	pc.Spec.Kubernetes.GitRepository = "https://github.com/myorg/public.git"
	s, err := Resolve(pc, nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := BuildPod(pc, s)
	if err != nil {
		t.Fatal(err)
	}
	if v := volume(pod, "git-credentials"); v != nil {
		t.Errorf("git secret volume without a git secret: %+v", v)
	}
	for _, c := range allContainers(pod) {
		for _, m := range c.VolumeMounts {
			if m.Name == "git-credentials" {
				t.Errorf("%s mounts the git secret", c.Name)
			}
		}
	}
	if cfg := decodeConfigEnv(t, envVar(t, pod.Spec.Containers[0], ConfigEnv).Value); cfg.Git.SecretDir != "" {
		t.Errorf("secretDir = %q without a git secret", cfg.Git.SecretDir)
	}
	if pod.OwnerReferences[0].UID != "uid-1" {
		t.Errorf("owner = %+v", pod.OwnerReferences)
	}
}

func TestBuildPodAgentConfigMap(t *testing.T) {
	pc := seedPolecat()
	pc.Spec.AgentConfig = &gastownv1.AgentConfig{ConfigMapRef: &meta.LocalObjectReference{Name: "claude-settings"}}
	s, err := Resolve(pc, nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := BuildPod(pc, s)
	if err != nil {
		t.Fatal(err)
	}
	v := volume(pod, "agent-config")
	if v == nil || v.ConfigMap == nil || v.ConfigMap.Name != "claude-settings" {
		t.Fatalf("agent-config volume = %+v", v)
	}
	cfg := decodeConfigEnv(t, envVar(t, pod.Spec.Containers[0], ConfigEnv).Value)
	want := FileCopy{From: "/etc/gastown/agent-config", To: ".claude"}
	if got := cfg.Agent.Files[len(cfg.Agent.Files)-1]; got != want {
		t.Errorf("config copy = %+v, want %+v", got, want)
	}
	for _, c := range pod.Spec.InitContainers {
		for _, m := range c.VolumeMounts {
			if m.Name == "agent-config" || m.Name == "claude-credentials" {
				t.Errorf("init container %s mounts %s", c.Name, m.Name)
			}
		}
	}
}

// TestBuildPodEscapesDollars: the kubelet expands $(VAR) and $$ in env
// values; the runner must read the task as it was written.
func TestBuildPodEscapesDollars(t *testing.T) {
	pc := seedPolecat()
	pc.Spec.TaskDescription = "Print $(HOME) and $$ and $PATH."
	s, err := Resolve(pc, nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := BuildPod(pc, s)
	if err != nil {
		t.Fatal(err)
	}
	cfg := decodeConfigEnv(t, envVar(t, pod.Spec.Containers[0], ConfigEnv).Value)
	if cfg.Task.Description != pc.Spec.TaskDescription {
		t.Errorf("after the kubelet's expansion the task reads %q", cfg.Task.Description)
	}
}

func TestBuildPodRejectsLongNames(t *testing.T) {
	pc := seedPolecat()
	pc.Name = strings.Repeat("a", 64)
	s, err := Resolve(pc, nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildPod(pc, s); err == nil || !strings.Contains(err.Error(), "gastown.gastown.io/polecat") {
		t.Errorf("error = %v, want one naming the polecat label", err)
	}
}

func demoRig() *gastownv1.Rig {
	return &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: "demo"},
		Spec: gastownv1.RigSpec{
			GitURL: "https://github.com/org/demo.git",
			Git: gastownv1.RigGit{
				BaseBranch:     "develop",
				BranchTemplate: "gt/{{.BeadID}}",
				AuthorName:     "Rig Bot",
				AuthorEmail:    "bot@example.com",
			},
			Agent: gastownv1.AgentClaudeCode,
			AgentConfig: &gastownv1.AgentConfig{
				Model:    "claude-sonnet-4-5",
				MaxTurns: ptrTo(int32(50)),
			},
			Kubernetes: gastownv1.RigKubernetes{
				GitSecretRef:            &meta.LocalObjectReference{Name: "git-creds"},
				APIKeySecretRef:         &meta.SecretKeyReference{Name: "anthropic"},
				Image:                   "registry.example.com/claude:rig",
				ActiveDeadlineSeconds:   ptrTo(int64(7200)),
				TTLSecondsAfterFinished: ptrTo(int32(600)),
			},
		},
	}
}

func healthBead() *gastownv1.Bead {
	return &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-health", Namespace: "gastown-workers"},
		Spec: gastownv1.BeadSpec{
			RigRef:      "demo",
			Title:       "Add a /health endpoint",
			Description: "Return 200 and {\"status\":\"ok\"}. Add a test.",
			Acceptance:  "go test ./... passes",
			Agent:       &gastownv1.AgentSpec{AgentConfig: gastownv1.AgentConfig{Model: "claude-opus-4-1"}},
			SourcePath:  ".gastown/health.yaml",
		},
	}
}

func beadPolecat() *gastownv1.Polecat {
	return &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-health", Namespace: "gastown-workers"},
		Spec:       gastownv1.PolecatSpec{Rig: "demo", BeadID: "gt-health"},
	}
}

func resources(cpu, memory string) *corev1.ResourceRequirements {
	return &corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memory)},
	}
}

func containerNames(cs []corev1.Container) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

func allContainers(pod *corev1.Pod) []corev1.Container {
	return append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
}

func envVar(t *testing.T, c corev1.Container, name string) corev1.EnvVar {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("container %s has no env %s", c.Name, name)
	return corev1.EnvVar{}
}

func volume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// decodeConfigEnv reads the config as the runner sees it after the
// kubelet's $$ reduction.
func decodeConfigEnv(t *testing.T, value string) RunnerConfig {
	t.Helper()
	cfg, err := DecodeRunnerConfig(strings.ReplaceAll(value, "$$", "$"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestBuildPodRigPodTemplate: the rig's pod template places the pod and adds
// metadata, but cannot replace the operator's labels or security settings.
func TestBuildPodRigPodTemplate(t *testing.T) {
	pc := seedPolecat()
	rig := &gastownv1.Rig{ObjectMeta: metav1.ObjectMeta{Name: "my-project"}}
	runtimeClass := "gvisor"
	rig.Spec.Kubernetes.PodTemplate = &gastownv1.PolecatPodTemplate{
		Labels:            map[string]string{"team": "core", gastownv1.RigLabel: "not-mine"},
		Annotations:       map[string]string{"example.com/cost-center": "42"},
		NodeSelector:      map[string]string{"pool": "agents"},
		Tolerations:       []corev1.Toleration{{Key: "agents", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		PriorityClassName: "batch-low",
		RuntimeClassName:  &runtimeClass,
		HostNetwork:       true,
	}
	s, err := Resolve(pc, nil, rig, Defaults{RunnerImage: runnerImage})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := BuildPod(pc, s)
	if err != nil {
		t.Fatal(err)
	}
	if pod.Labels["team"] != "core" || pod.Labels[gastownv1.RigLabel] != "my-project" {
		t.Errorf("labels = %v: want the template's team label and the operator's rig label", pod.Labels)
	}
	if pod.Annotations["example.com/cost-center"] != "42" || pod.Annotations[DefaultContainerAnnotation] != "claude" {
		t.Errorf("annotations = %v", pod.Annotations)
	}
	spec := pod.Spec
	if spec.NodeSelector["pool"] != "agents" || len(spec.Tolerations) != 1 || spec.PriorityClassName != "batch-low" ||
		spec.RuntimeClassName == nil || *spec.RuntimeClassName != "gvisor" || !spec.HostNetwork {
		t.Errorf("placement not applied: %+v", spec)
	}
	if *spec.SecurityContext.RunAsNonRoot != true || *spec.AutomountServiceAccountToken != false {
		t.Errorf("the template changed the pod's security settings")
	}
	// The pod holds a copy: changing it leaves the rig alone.
	spec.NodeSelector["pool"] = "changed"
	if rig.Spec.Kubernetes.PodTemplate.NodeSelector["pool"] != "agents" {
		t.Errorf("the pod shares the rig's nodeSelector map")
	}

	// Without a template the pod has no placement and no host network.
	s, _ = Resolve(pc, nil, nil, Defaults{RunnerImage: runnerImage})
	pod, _ = BuildPod(pc, s)
	if pod.Spec.HostNetwork || pod.Spec.NodeSelector != nil {
		t.Errorf("a pod without a template: hostNetwork=%v nodeSelector=%v", pod.Spec.HostNetwork, pod.Spec.NodeSelector)
	}
}
