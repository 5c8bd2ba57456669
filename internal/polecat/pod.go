package polecat

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Paths inside a polecat pod. Only the emptyDirs below them are writable.
const (
	// RunnerBinDir holds the runner, copied from the runner image.
	RunnerBinDir = "/gastown/bin"
	// WorkspaceDir holds the clone (repo/) and the prompt (task.md).
	WorkspaceDir = "/workspace"
	// HomeDir is $HOME of the runner and the agent.
	HomeDir = "/home/polecat"
	TmpDir  = "/tmp"
	// GitSecretDir is the git secret, read-only, in git-init and git-push.
	GitSecretDir = "/var/run/gastown/git"
	// PushResultDir is git-push's answer to the agent container's runner,
	// and git-init's lease for git-push: writable in git-init and
	// git-push, read-only in the agent container.
	PushResultDir = "/var/run/gastown/push"
	// ClaudeCredsDir holds claude-code's OAuth credentials, read-only.
	ClaudeCredsDir = "/var/run/gastown/claude"
	// AgentConfigDir is agentConfig.configMapRef, read-only.
	AgentConfigDir = "/etc/gastown/agent-config"
	// TerminationLog is where every runner container writes its result.
	TerminationLog = "/dev/termination-log"
	// RunnerName is the runner's file name in RunnerBinDir.
	RunnerName = "gastown-polecat"
)

// PodPaths are the runner's paths in a polecat pod.
var PodPaths = Paths{
	RepoDir:      WorkspaceDir + "/repo",
	TaskFile:     WorkspaceDir + "/task.md",
	GitSecretDir: GitSecretDir,
	Push: &PushHandoff{
		RequestFile: WorkspaceDir + "/push-request.json",
		ResultFile:  PushResultDir + "/result.json",
		LeaseFile:   PushResultDir + "/lease.json",
	},
}

// Init containers of a polecat pod; the agent container is named by its
// Agent.
const (
	// InstallContainer copies the runner into RunnerBinDir.
	InstallContainer = "install-runner"
	// GitInitContainer clones the repository and checks out the work branch.
	GitInitContainer = "git-init"
	// GitPushContainer pushes the work branch when the agent container's
	// runner asks: a native sidecar, so that the git credentials are never
	// in the container the agent runs in.
	GitPushContainer = "git-push"
)

// DefaultContainerAnnotation makes kubectl logs and exec pick the agent
// container without -c.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

const (
	runnerBinVolume  = "runner-bin"
	workspaceVolume  = "workspace"
	homeVolume       = "home"
	tmpVolume        = "tmp"
	gitSecretVolume  = "git-credentials"
	pushResultVolume = "push-result"
	gitTmpVolume     = "git-tmp"
)

// BuildPod builds the pod of a polecat: polecat-<name> in the polecat's
// namespace, owned by the polecat. Init containers copy the runner into a
// shared emptyDir (install-runner) and clone the repository (git-init); the
// agent container runs the runner from there, which runs the agent, closes
// the bead and commits, asks the git-push sidecar to push, and writes the
// result to its termination message. Each secret is mounted only into the
// containers that use it: the git secret into git-init and git-push, the
// agent's key into the agent container.
func BuildPod(pc *gastownv1.Polecat, s Settings) (*corev1.Pod, error) {
	labels, err := podLabels(pc, s)
	if err != nil {
		return nil, err
	}
	agent, err := BuildAgent(s, PodPaths.TaskFile)
	if err != nil {
		return nil, err
	}
	config, err := NewRunnerConfig(s, agent, PodPaths).Encode()
	if err != nil {
		return nil, err
	}
	b := podBuilder{s: s, agent: agent, config: config}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        pc.PodName(),
			Namespace:   pc.Namespace,
			Labels:      labels,
			Annotations: map[string]string{DefaultContainerAnnotation: agent.Container},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         ptrTo(s.ActiveDeadlineSeconds),
			AutomountServiceAccountToken:  ptrTo(false),
			EnableServiceLinks:            ptrTo(false),
			TerminationGracePeriodSeconds: ptrTo(int64(30)),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptrTo(true),
				RunAsUser:      s.RunAsUser,
				RunAsGroup:     s.RunAsGroup,
				FSGroup:        s.FSGroup,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			InitContainers: []corev1.Container{b.installContainer(), b.gitInitContainer(), b.gitPushContainer()},
			Containers:     []corev1.Container{b.agentContainer()},
			Volumes:        b.volumes(),
		},
	}
	applyPodTemplate(pod, s.PodTemplate)
	// The polecat owns its pod, for garbage collection and Owns() watches;
	// a polecat not yet stored has no UID to point at.
	if pc.UID != "" {
		pod.OwnerReferences = []metav1.OwnerReference{
			*metav1.NewControllerRef(pc, gastownv1.GroupVersion.WithKind(gastownv1.PolecatKind)),
		}
	}
	return pod, nil
}

// applyPodTemplate adds the rig's pod template to pod. The operator's labels
// are set after, so they win.
func applyPodTemplate(pod *corev1.Pod, t *gastownv1.PolecatPodTemplate) {
	if t == nil {
		return
	}
	t = t.DeepCopy() // the rig may be the cache's
	for k, v := range t.Labels {
		if _, ours := pod.Labels[k]; !ours {
			pod.Labels[k] = v
		}
	}
	for k, v := range t.Annotations {
		if _, ours := pod.Annotations[k]; !ours {
			pod.Annotations[k] = v
		}
	}
	pod.Spec.NodeSelector = t.NodeSelector
	pod.Spec.Tolerations = t.Tolerations
	pod.Spec.PriorityClassName = t.PriorityClassName
	pod.Spec.RuntimeClassName = t.RuntimeClassName
	pod.Spec.HostNetwork = t.HostNetwork
}

// podLabels are the labels on a polecat's pod. Label values are at most 63
// characters: a polecat with a longer name cannot have a pod.
func podLabels(pc *gastownv1.Polecat, s Settings) (map[string]string, error) {
	labels := map[string]string{
		gastownv1.RigLabel:       s.Rig,
		gastownv1.PolecatLabel:   pc.Name,
		gastownv1.ManagedByLabel: gastownv1.ManagedByValue,
	}
	if s.BeadID != "" {
		labels[gastownv1.BeadLabel] = s.BeadID
	}
	for key, value := range labels {
		if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
			return nil, fmt.Errorf("label %s=%q of pod %s: %s", key, value, pc.PodName(), strings.Join(errs, "; "))
		}
	}
	return labels, nil
}

type podBuilder struct {
	s      Settings
	agent  Agent
	config string
}

// installContainer copies the runner from its image into the shared bin
// dir, so that it can run in the agent's image (as Tekton's entrypoint does).
func (b podBuilder) installContainer() corev1.Container {
	c := b.container(InstallContainer, b.s.RunnerImage)
	c.Command = []string{b.s.RunnerPath, "install", RunnerBinDir}
	c.VolumeMounts = []corev1.VolumeMount{{Name: runnerBinVolume, MountPath: RunnerBinDir}}
	return c
}

// gitInitContainer clones the repository with the git secret, and
// records the work branch's commit for git-push's lease in the push-result
// volume.
func (b podBuilder) gitInitContainer() corev1.Container {
	c := b.container(GitInitContainer, b.s.RunnerImage)
	c.Command = []string{b.s.RunnerPath, "clone"}
	c.Env = b.gitEnv()
	c.VolumeMounts = append(b.gitMounts(), corev1.VolumeMount{Name: pushResultVolume, MountPath: PushResultDir})
	return c
}

// gitPushContainer is a native sidecar (an init container that keeps
// running beside the agent container) holding the git secret: it waits for
// the agent container's runner to ask for the push, pushes the commit it
// names, and answers in the push-result volume, which the agent container
// can only read. The kubelet stops it once the agent container is done.
func (b podBuilder) gitPushContainer() corev1.Container {
	c := b.container(GitPushContainer, b.s.RunnerImage)
	c.Command = []string{b.s.RunnerPath, "push"}
	c.RestartPolicy = ptrTo(corev1.ContainerRestartPolicyAlways)
	c.Env = b.gitEnv()
	c.VolumeMounts = append(b.gitMounts(), corev1.VolumeMount{Name: pushResultVolume, MountPath: PushResultDir})
	// It runs as long as the agent but does little: a sidecar's requests
	// add to the pod's, so it asks for almost nothing.
	c.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	return c
}

// agentContainer runs the runner, and the agent under it, in the agent's
// image. It holds the agent's own key and no git credentials: the push is
// git-push's.
func (b podBuilder) agentContainer() corev1.Container {
	c := b.container(b.agent.Container, b.s.AgentConfig.Image)
	c.Command = []string{path.Join(RunnerBinDir, RunnerName), "run"}
	c.WorkingDir = PodPaths.RepoDir
	c.Env = append(b.runnerEnv(), b.agent.Env...)
	c.Resources = *b.s.Resources.DeepCopy()
	c.VolumeMounts = append(b.workMounts(),
		corev1.VolumeMount{Name: runnerBinVolume, MountPath: RunnerBinDir, ReadOnly: true},
		corev1.VolumeMount{Name: pushResultVolume, MountPath: PushResultDir, ReadOnly: true})
	c.VolumeMounts = append(c.VolumeMounts, b.agent.Mounts...)
	return c
}

// container has what every container of the pod shares: locked-down
// security, the termination message file, and the agent's resources, so
// that init containers satisfy quotas and limit ranges too without raising
// the pod's effective request.
func (b podBuilder) container(name, image string) corev1.Container {
	return corev1.Container{
		Name:                     name,
		Image:                    image,
		ImagePullPolicy:          b.s.ImagePullPolicy,
		Resources:                *b.s.Resources.DeepCopy(),
		TerminationMessagePath:   TerminationLog,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptrTo(false),
			ReadOnlyRootFilesystem:   ptrTo(true),
			RunAsNonRoot:             ptrTo(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// runnerEnv carries the runner's configuration. The kubelet expands $(VAR)
// and reduces $$ to $ in env values: every $ of the JSON is doubled so that
// the runner reads it unchanged.
func (b podBuilder) runnerEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "HOME", Value: HomeDir},
		{Name: "TMPDIR", Value: TmpDir},
		{Name: ConfigEnv, Value: strings.ReplaceAll(b.config, "$", "$$")},
	}
}

// gitEnv is the git containers' environment: their HOME and TMPDIR are a
// volume of their own, so that nothing git leaves there reaches the agent.
func (b podBuilder) gitEnv() []corev1.EnvVar {
	env := b.runnerEnv()
	env[0].Value, env[1].Value = TmpDir, TmpDir
	return env
}

// gitMounts are the git containers' volumes: the workspace, their own
// scratch space, and the git secret.
func (b podBuilder) gitMounts() []corev1.VolumeMount {
	m := []corev1.VolumeMount{
		{Name: workspaceVolume, MountPath: WorkspaceDir},
		{Name: gitTmpVolume, MountPath: TmpDir},
	}
	return append(m, b.gitSecretMounts()...)
}

func (b podBuilder) workMounts() []corev1.VolumeMount {
	return []corev1.VolumeMount{
		{Name: workspaceVolume, MountPath: WorkspaceDir},
		{Name: homeVolume, MountPath: HomeDir},
		{Name: tmpVolume, MountPath: TmpDir},
	}
}

func (b podBuilder) gitSecretMounts() []corev1.VolumeMount {
	if b.s.GitSecret == "" {
		return nil
	}
	return []corev1.VolumeMount{{Name: gitSecretVolume, MountPath: GitSecretDir, ReadOnly: true}}
}

func (b podBuilder) volumes() []corev1.Volume {
	emptyDir := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	}
	vols := []corev1.Volume{
		emptyDir(runnerBinVolume),
		emptyDir(workspaceVolume),
		emptyDir(homeVolume),
		emptyDir(tmpVolume),
		emptyDir(pushResultVolume),
		emptyDir(gitTmpVolume),
	}
	if b.s.GitSecret != "" {
		vols = append(vols, corev1.Volume{
			Name: gitSecretVolume,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName:  b.s.GitSecret,
				DefaultMode: ptrTo(secretDefaultMode),
			}},
		})
	}
	return append(vols, b.agent.Volumes...)
}
