package controller_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

const seedPolecat = `
apiVersion: gastown.gastown.io/v1alpha1
kind: Polecat
metadata: {name: my-worker}
spec:
  rig: my-project
  beadID: issue-123
  desiredState: Working
  executionMode: kubernetes
  taskDescription: |
    Implement the /health endpoint.
    Commit and push when done.
  kubernetes:
    gitRepository: "git@github.com:myorg/myrepo.git"
    gitBranch: main
    gitSecretRef: {name: git-credentials}
    apiKeySecretRef: {name: claude-credentials, key: api-key}
`

func createYAML(t *testing.T, ns, doc string, obj client.Object) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(doc), obj); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func secret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// podFinished patches a pod's status as the kubelet would when its agent
// container ends with exitCode and message.
func podFinished(t *testing.T, ns, name string, exitCode int32, message string, mutate func(*corev1.Pod)) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		pod := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
			return err
		}
		now := metav1.Now()
		pod.Status.Phase = corev1.PodSucceeded
		if exitCode != 0 {
			pod.Status.Phase = corev1.PodFailed
		}
		pod.Status.InitContainerStatuses = nil
		for _, c := range pod.Spec.InitContainers {
			pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, corev1.ContainerStatus{
				Name: c.Name, Image: c.Image, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}})
		}
		c := pod.Spec.Containers[0]
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: exitCode, Reason: "Completed", Message: message, StartedAt: now, FinishedAt: now}}}}
		if mutate != nil {
			mutate(pod)
		}
		return env.Client.Status().Update(context.Background(), pod)
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

func resultJSON(r gastownv1.PolecatResult) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func TestSeedPolecatExampleRunsAsAPod(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	createYAML(t, ns, seedPolecat, &gastownv1.Polecat{})

	// Without the seed README's secrets the polecat says which one is missing.
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "my-worker", &gastownv1.Polecat{})
		g.Expect(conditions.GetReason(pc, gastownv1.PodReadyCondition)).To(Equal(gastownv1.SecretNotFoundReason))
		g.Expect(conditions.GetMessage(pc, meta.ReadyCondition)).To(ContainSubstring(`secret "git-credentials" (gitSecretRef) not found`))
		g.Expect(pc.Finalizers).To(ContainElement(gastownv1.GastownFinalizer))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	secret(t, ns, "git-credentials", map[string]string{"ssh-privatekey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n"})
	secret(t, ns, "claude-credentials", map[string]string{"api-key": "sk-test"})
	requestPolecatReconcile(t, ns, "my-worker")

	pod := &corev1.Pod{}
	g.Eventually(func(g Gomega) {
		pod = get(g, ns, "polecat-my-worker", &corev1.Pod{})
	}, 40*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(initNames(pod)).To(ContainElement("git-init"))
	g.Expect(pod.Spec.Containers[0].Name).To(Equal("claude"))
	g.Expect(*pod.Spec.AutomountServiceAccountToken).To(BeFalse())
	g.Expect(*pod.Spec.SecurityContext.RunAsNonRoot).To(BeTrue())
	g.Expect(*pod.Spec.ActiveDeadlineSeconds).To(BeEquivalentTo(3600))
	g.Expect(metav1.IsControlledBy(pod, get(g, ns, "my-worker", &gastownv1.Polecat{}))).To(BeTrue())

	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "my-worker", &gastownv1.Polecat{})
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhasePending))
		g.Expect(pc.Status.PodName).To(Equal("polecat-my-worker"))
		g.Expect(pc.Status.Attempts).To(BeEquivalentTo(1))
		g.Expect(pc.Status.Agent).To(Equal(gastownv1.AgentClaudeCode))
		g.Expect(pc.Status.AssignedBead).To(Equal("issue-123"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	cost := "0.42"
	code := int32(0)
	podFinished(t, ns, "polecat-my-worker", 0, resultJSON(gastownv1.PolecatResult{
		Outcome: gastownv1.OutcomePushed, Branch: "polecat/issue-123", Commit: "0123456789abcdef0123", FilesChanged: 2,
		AgentExitCode: &code, CostUSD: cost, InputTokens: 1200, OutputTokens: 300, Summary: "Added /health",
	}), nil)
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "my-worker", &gastownv1.Polecat{})
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded))
		g.Expect(pc.Status.CommitSHA).To(Equal("0123456789abcdef0123"))
		g.Expect(pc.Status.Branch).To(Equal("polecat/issue-123"))
		g.Expect(pc.Status.Result).To(HaveField("CostUSD", "0.42"))
		g.Expect(pc.Status.Result).To(HaveField("Summary", "Added /health"))
		g.Expect(pc.Status.CompletedAt).NotTo(BeNil())
		g.Expect(conditions.IsReady(pc)).To(BeTrue())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

func initNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	return names
}

func requestPolecatReconcile(t *testing.T, ns, name string) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		pc := &gastownv1.Polecat{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pc); err != nil {
			return err
		}
		if pc.Annotations == nil {
			pc.Annotations = map[string]string{}
		}
		pc.Annotations[meta.ReconcileRequestAnnotation] = time.Now().String()
		return env.Client.Update(context.Background(), pc)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

// customPolecat is a polecat with a custom agent and no secrets.
func customPolecat(t *testing.T, ns, name string, mutate func(*gastownv1.Polecat)) *gastownv1.Polecat {
	t.Helper()
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: gastownv1.PolecatSpec{
			Rig: "no-such-rig", TaskDescription: "touch a file", Agent: gastownv1.AgentCustom,
			AgentConfig: &gastownv1.AgentConfig{Image: "busybox:1.36", Command: []string{"sh", "-c", "date > stamp"}},
			Kubernetes:  &gastownv1.PolecatKubernetes{GitRepository: "https://git.example.com/org/app.git", GitBranch: "main", WorkBranch: "polecat/" + name},
		},
	}
	if mutate != nil {
		mutate(pc)
	}
	if err := k8s.Create(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	return pc
}

func TestPolecatReportsWhyItsPodFailed(t *testing.T) {
	tests := []struct {
		name    string
		exit    int32
		message string
		mutate  func(*corev1.Pod)
		reason  string
		want    string
	}{
		{name: "deadline", exit: 137, mutate: func(p *corev1.Pod) { p.Status.Reason = "DeadlineExceeded" },
			reason: gastownv1.DeadlineExceededReason, want: "activeDeadlineSeconds (3600s)"},
		{name: "agent failure", exit: 11,
			message: resultJSON(gastownv1.PolecatResult{Outcome: gastownv1.OutcomeAgentFailed, Message: "claude exited with 1"}),
			reason:  gastownv1.AgentFailedReason, want: "claude exited with 1"},
		{name: "no changes", exit: 10, message: resultJSON(gastownv1.PolecatResult{Outcome: gastownv1.OutcomeNoChanges}),
			reason: gastownv1.NoChangesReason, want: "the agent changed nothing"},
		{name: "killed without a result", exit: 137, mutate: func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State.Terminated.Reason = "OOMKilled"
		}, reason: gastownv1.PodFailedReason, want: "exited with 137 (OOMKilled)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := env.Namespace(t)
			customPolecat(t, ns, "pc", nil)
			g.Eventually(func(g Gomega) { get(g, ns, "polecat-pc", &corev1.Pod{}) }, 20*time.Second, 100*time.Millisecond).Should(Succeed())
			podFinished(t, ns, "polecat-pc", tt.exit, tt.message, tt.mutate)
			g.Eventually(func(g Gomega) {
				pc := get(g, ns, "pc", &gastownv1.Polecat{})
				g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseFailed))
				g.Expect(conditions.GetReason(pc, gastownv1.PodReadyCondition)).To(Equal(tt.reason))
				g.Expect(conditions.IsStalled(pc)).To(BeTrue())
				g.Expect(conditions.GetMessage(pc, meta.ReadyCondition)).To(ContainSubstring(tt.want))
			}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
		})
	}
}

func TestPolecatReportsAnImagePullFailure(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	customPolecat(t, ns, "pc", nil)
	g.Eventually(func(g Gomega) {
		pod := get(g, ns, "polecat-pc", &corev1.Pod{})
		c := pod.Spec.Containers[0]
		pod.Status.Phase = corev1.PodPending
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}}}
		g.Expect(env.Client.Status().Update(context.Background(), pod)).To(Succeed())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "pc", &gastownv1.Polecat{})
		g.Expect(conditions.GetReason(pc, gastownv1.PodReadyCondition)).To(Equal(gastownv1.ImagePullFailedReason))
		g.Expect(conditions.GetMessage(pc, meta.ReadyCondition)).To(ContainSubstring("cannot pull image busybox:1.36"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestPolecatNamesTheSecretItsPodWaitsFor: a secret only the agent's env
// names is found missing by the kubelet (CreateContainerConfigError). The
// polecat names it from the secrets it reads, not from the kubelet's
// words; one that exists but lacks the key is the kubelet's to explain.
func TestPolecatNamesTheSecretItsPodWaitsFor(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	customPolecat(t, ns, "pc", func(pc *gastownv1.Polecat) {
		pc.Spec.AgentConfig.Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "agent-token"}, Key: "token"}}}}
	})
	configError := func(message string) {
		g.Eventually(func(g Gomega) {
			pod := get(g, ns, "polecat-pc", &corev1.Pod{})
			c := pod.Spec.Containers[0]
			pod.Status.Phase = corev1.PodPending
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, State: corev1.ContainerState{
				Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: message}}}}
			g.Expect(env.Client.Status().Update(context.Background(), pod)).To(Succeed())
		}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	}

	// The kubelet's words do not say "secret" here: the reason comes from
	// the secrets.
	configError("the container's configuration is incomplete")
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "pc", &gastownv1.Polecat{})
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhasePending))
		g.Expect(conditions.GetReason(pc, gastownv1.PodReadyCondition)).To(Equal(gastownv1.SecretNotFoundReason))
		g.Expect(conditions.GetMessage(pc, meta.ReadyCondition)).To(Equal(
			`container agent cannot start: secret "agent-token" not found in namespace ` + ns + `: create it`))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	secret(t, ns, "agent-token", map[string]string{"other": "x"})
	configError("couldn't find key token in Secret " + ns + "/agent-token")
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "pc", &gastownv1.Polecat{})
		g.Expect(conditions.GetReason(pc, gastownv1.PodReadyCondition)).To(Equal(gastownv1.PodPendingReason))
		g.Expect(conditions.GetMessage(pc, meta.ReadyCondition)).To(Equal(
			"container agent cannot start: couldn't find key token in Secret " + ns + "/agent-token"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

func TestPolecatDesiredStates(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	customPolecat(t, ns, "idle", func(pc *gastownv1.Polecat) { pc.Spec.DesiredState = gastownv1.DesiredIdle })
	customPolecat(t, ns, "stop", nil)
	g.Eventually(func(g Gomega) { get(g, ns, "polecat-stop", &corev1.Pod{}) }, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(get(g, ns, "idle", &gastownv1.Polecat{}).Status.Phase).To(Equal(gastownv1.PolecatPhaseIdle))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(apierrors.IsNotFound(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "polecat-idle"}, &corev1.Pod{}))).To(BeTrue())

	update(t, ns, "stop", &gastownv1.Polecat{}, func(pc *gastownv1.Polecat) { pc.Spec.DesiredState = gastownv1.DesiredTerminated })
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "stop", &gastownv1.Polecat{})
		g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseTerminated))
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "polecat-stop"}, &corev1.Pod{})
		if err == nil {
			pod := get(g, ns, "polecat-stop", &corev1.Pod{})
			g.Expect(pod.DeletionTimestamp).NotTo(BeNil(), "the pod is being deleted")
		}
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

func TestFinishedPolecatPodIsRemovedAfterItsTTL(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	customPolecat(t, ns, "ttl", func(pc *gastownv1.Polecat) { pc.Spec.TTLSecondsAfterFinished = ptr(int32(1)) })
	g.Eventually(func(g Gomega) { get(g, ns, "polecat-ttl", &corev1.Pod{}) }, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	podFinished(t, ns, "polecat-ttl", 0, resultJSON(gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, Branch: "polecat/ttl", Commit: "abc"}), nil)
	g.Eventually(func(g Gomega) {
		pod := &corev1.Pod{}
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "polecat-ttl"}, pod)
		g.Expect(apierrors.IsNotFound(err) || pod.DeletionTimestamp != nil).To(BeTrue(), "the pod is gone after the TTL")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	pc := get(g, ns, "ttl", &gastownv1.Polecat{})
	g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "the polecat keeps its record")
	g.Expect(strings.HasPrefix(pc.Status.CommitSHA, "abc")).To(BeTrue())
}
