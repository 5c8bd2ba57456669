package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/witness"
	"github.com/boshu2/gastown-operator/test/anthropicemu"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// podTimeout bounds a wait that includes pods starting on the node and the
// agent CLI working: seconds here, more on a loaded CI machine.
const podTimeout = 3 * time.Minute

// TestPolecatsAsPods runs the product's headline for real: polecats as pods
// on a kubelet, the real claude CLI in the agent container against the
// Anthropic API emulator, the runner's git work in git-init and after the
// agent, and the Witness judging the kubelet's real pod states. The
// subtests share one environment, as a cluster is shared.
func TestPolecatsAsPods(t *testing.T) {
	began := time.Now()
	env := startEnv(t, devenv.Options{
		Beads: map[string]string{},
		Agent: devenv.AgentClaudeCode,
		Pods:  true,
		// An image or secret that is missing stays missing: the Witness
		// escalates after pendingTimeout, short here.
		Witness: func(w *gastownv1.Witness) { w.Spec.PendingTimeout = &metav1.Duration{Duration: 20 * time.Second} },
		KeepDir: os.Getenv("GASTOWN_DEVENV_KEEP") != "",
	})
	t.Logf("environment with a node started in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubelet log tail:\n%s", devenv.LogTail(env.Node.KubeletLog, 40))
		}
	})

	// The loop goes first: the Witness cases run beside each other after it.
	t.Run("the whole loop through pods", func(t *testing.T) { wholeLoopThroughPods(t, env) })
	t.Run("the seed README's Polecat applied by hand", func(t *testing.T) { seedPolecat(t, env) })
	t.Run("opencode in its own image", func(t *testing.T) { openCodePolecat(t, env) })
	t.Run("claude with OAuth credentials", func(t *testing.T) { claudeOAuthPolecat(t, env) })
	if !t.Run("an operator restart while a pod runs", func(t *testing.T) { restartWhilePodRuns(t, env) }) {
		return // the cases below need an operator
	}
	t.Run("witness", func(t *testing.T) {
		t.Run("image not present", func(t *testing.T) { t.Parallel(); witnessImageNotPresent(t, env) })
		t.Run("missing secret", func(t *testing.T) { t.Parallel(); witnessMissingSecret(t, env) })
		t.Run("OOMKilled", func(t *testing.T) { t.Parallel(); witnessOOMKilled(t, env) })
		t.Run("active deadline", func(t *testing.T) { t.Parallel(); witnessDeadline(t, env) })
		t.Run("no output", func(t *testing.T) { t.Parallel(); witnessStuck(t, env) })
	})
}

func wholeLoopThroughPods(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	ctx := context.Background()
	c, ns := env.Client, devenv.WorkersNamespace

	began := time.Now()
	if _, err := env.Push("Plan the health sprint", map[string]string{devenv.BeadsDir + "/sprint.yaml": sprint}); err != nil {
		t.Fatal(err)
	}
	reconcileSource(t, env)

	// gt-db's polecat runs as a pod: git-init clones, the real claude CLI
	// works against the emulator, the runner commits, closes and pushes.
	pc := waitPolecatFinished(t, env, "gt-db")
	t.Logf("gt-db: bead committed → polecat finished in %s", time.Since(began).Round(time.Millisecond))
	g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "%+v", pc.Status)
	res := pc.Status.Result
	g.Expect(res).NotTo(BeNil())
	g.Expect(res.Outcome).To(Equal(gastownv1.OutcomePushed))
	g.Expect(res.Branch).To(Equal("polecat/gt-db"))
	g.Expect(res.Commit).To(MatchRegexp("^[0-9a-f]{40}$"))
	g.Expect(res.FilesChanged).To(BeEquivalentTo(2), "changes/gt-db.md and the bead file")
	g.Expect(*res.AgentExitCode).To(BeZero())

	// The figures are the real CLI's, from the emulator's usage: the
	// conversation's main turns (claude sums input and output tokens over
	// them and prices them itself).
	usage := conversationUsage(env.Anthropic, "gt-db")
	g.Expect(usage.OutputTokens).To(BeNumerically(">", 0))
	g.Expect(res.OutputTokens).To(BeEquivalentTo(usage.OutputTokens))
	g.Expect(res.InputTokens).To(BeEquivalentTo(usage.InputTokens))
	g.Expect(res.Turns).To(BeNumerically(">=", 2), "a tool turn and the final answer")
	cost, err := strconv.ParseFloat(res.CostUSD, 64)
	g.Expect(err).NotTo(HaveOccurred(), "costUSD %q", res.CostUSD)
	g.Expect(cost).To(BeNumerically(">", 0))
	g.Expect(res.Summary).NotTo(BeEmpty())

	// The pushed branch holds the agent's file, with what the bead asked.
	content, err := env.GitHub.ReadFile(env.Owner, env.Repo, "polecat/gt-db", "changes/gt-db.md")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(content).To(ContainSubstring("Add a database ping"))

	// The seed README's troubleshooting commands, through the apiserver and
	// the kubelet.
	logs, err := env.Kubectl(ctx, "logs", "polecat-gt-db", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(logs).To(ContainSubstring(`"type":"result"`), "the default container is claude's, with the CLI's stream-json")
	claudeLogs, err := env.Kubectl(ctx, "logs", "polecat-gt-db", "-c", "claude", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(claudeLogs).To(Equal(logs))
	gitLogs, err := env.Kubectl(ctx, "logs", "polecat-gt-db", "-c", "git-init", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitLogs).To(ContainSubstring("on branch polecat/gt-db"))
	gtLogs, err := env.Kubectl(ctx, "gt", "polecat", "logs", "gt-db", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gtLogs).To(ContainSubstring(`"type":"result"`))

	// The pod as the kubelet ran it: locked down, finished, with the
	// runner's result in its termination message.
	pod := &corev1.Pod{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "polecat-gt-db"}, pod)).To(Succeed())
	g.Expect(pod.Spec.NodeName).To(Equal(env.Node.Name))
	g.Expect(pod.Status.Phase).To(Equal(corev1.PodSucceeded))
	g.Expect(pod.Status.ContainerStatuses).To(HaveLen(1))
	term := pod.Status.ContainerStatuses[0].State.Terminated
	g.Expect(term).NotTo(BeNil())
	g.Expect(term.Message).To(ContainSubstring(res.Commit))

	merge(t, env, "gt-db")
	reconcileSource(t, env)
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-db")).To(Equal(gastownv1.BeadPhaseClosed))
	}, podTimeout, poll).Should(Succeed())

	// gt-health was waiting for gt-db: it runs now, in its own pod.
	pc = waitPolecatFinished(t, env, "gt-health")
	g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "%+v", pc.Status)
	merge(t, env, "gt-health")
	reconcileSource(t, env)
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, c, ns, "gt-health")).To(Equal(gastownv1.BeadPhaseClosed))
	}, podTimeout, poll).Should(Succeed())
	g.Expect(files(t, env)).To(ContainElements("changes/gt-db.md", "changes/gt-health.md"))
	t.Logf("two beads through pods, committed → both closed: %s", time.Since(began).Round(time.Millisecond))
}

// conversationUsage sums the usage the emulator reported on the main turns
// of the conversation about bead.
func conversationUsage(emu *anthropicemu.Server, bead string) anthropicemu.Usage {
	var u anthropicemu.Usage
	for _, r := range emu.Requests() {
		if r.Kind == anthropicemu.KindMain && r.Body != nil && strings.Contains(firstUserText(r.Body), "(bead "+bead+")") {
			u = u.Add(r.Usage)
		}
	}
	return u
}

func firstUserText(req *anthropicemu.MessagesRequest) string {
	for _, m := range req.Messages {
		if m.Role == "user" {
			return m.Content.Text()
		}
	}
	return ""
}

// openCodePolecat runs the real opencode CLI in its image, against the
// emulator through the same endpoint claude uses.
func openCodePolecat(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "oc-readme", Namespace: devenv.WorkersNamespace},
		Spec: gastownv1.PolecatSpec{
			Rig:             env.Name,
			BeadID:          "oc-readme",
			DesiredState:    gastownv1.DesiredWorking,
			ExecutionMode:   gastownv1.ExecutionModeKubernetes,
			TaskDescription: "# Describe the project (bead oc-readme)\n\nWrite a short description of the project.\n",
			Agent:           gastownv1.AgentOpenCode,
			AgentConfig: &gastownv1.AgentConfig{
				Provider:      "anthropic",
				Model:         "claude-sonnet-4-5",
				ModelProvider: &gastownv1.ModelProvider{Endpoint: env.AnthropicURL},
			},
			Kubernetes: &gastownv1.PolecatKubernetes{
				GitRepository:   env.CloneURL,
				GitBranch:       "main",
				APIKeySecretRef: &meta.SecretKeyReference{Name: devenv.AnthropicKeySecret, Key: devenv.AnthropicKeyKey},
			},
		},
	}
	create(t, env, pc)
	done := waitPolecatFinished(t, env, pc.Name)
	g.Expect(done.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "%+v", done.Status)
	res := done.Status.Result
	g.Expect(res.Outcome).To(Equal(gastownv1.OutcomePushed))
	usage := conversationUsage(env.Anthropic, "oc-readme")
	g.Expect(usage.OutputTokens).To(BeNumerically(">", 0))
	g.Expect(res.OutputTokens).To(BeEquivalentTo(usage.OutputTokens))
	content, err := env.GitHub.ReadFile(env.Owner, env.Repo, "polecat/oc-readme", "changes/oc-readme.md")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(content).To(ContainSubstring("Describe the project"))
	logs, err := env.Kubectl(context.Background(), "logs", "polecat-oc-readme", "-c", "opencode", "-n", devenv.WorkersNamespace)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(logs).To(ContainSubstring(`"type":"step_finish"`), "opencode's JSON events in the container log")
}

// claudeOAuthPolecat runs claude with the seed README's option B: OAuth
// credentials (.credentials.json) and no API key. The pod's root file
// system is read-only: the runner copies the credentials into the writable
// HOME, where claude reads (and would refresh) them, and claude sends the
// token as a Bearer token.
func claudeOAuthPolecat(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := devenv.WorkersNamespace

	// A rig without an API key, so that the credentials are all claude has.
	rig := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: "oauth"},
		Spec: gastownv1.RigSpec{
			GitURL:           env.CloneURL,
			WorkersNamespace: ns,
			Kubernetes:       gastownv1.RigKubernetes{PodTemplate: &gastownv1.PolecatPodTemplate{HostNetwork: true}},
		},
	}
	g.Expect(env.Client.Create(ctx, rig)).To(Succeed())
	key := &corev1.Secret{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: devenv.AnthropicKeySecret}, key)).To(Succeed())
	creds := fmt.Sprintf(`{"claudeAiOauth":{"accessToken":%q,"refreshToken":"sk-ant-ort01-not-used","expiresAt":%d,"scopes":["user:inference","user:profile"],"subscriptionType":"max"}}`,
		key.Data[devenv.AnthropicKeyKey], time.Now().Add(24*time.Hour).UnixMilli())
	_, err := env.Kubectl(ctx, "create", "secret", "generic", "claude-oauth", "-n", ns, "--from-literal=.credentials.json="+creds)
	g.Expect(err).NotTo(HaveOccurred())

	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "oauth-1", Namespace: ns},
		Spec: gastownv1.PolecatSpec{
			Rig:             rig.Name,
			BeadID:          "oauth-1",
			DesiredState:    gastownv1.DesiredWorking,
			ExecutionMode:   gastownv1.ExecutionModeKubernetes,
			TaskDescription: "# Write the changelog (bead oauth-1)\n\nStart a CHANGELOG.\n",
			AgentConfig:     &gastownv1.AgentConfig{ModelProvider: &gastownv1.ModelProvider{Endpoint: env.AnthropicURL}},
			Kubernetes: &gastownv1.PolecatKubernetes{
				GitRepository:        env.CloneURL,
				GitBranch:            "main",
				ClaudeCredsSecretRef: &meta.LocalObjectReference{Name: "claude-oauth"},
			},
		},
	}
	create(t, env, pc)
	done := waitPolecatFinished(t, env, pc.Name)
	g.Expect(done.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "%+v", done.Status)

	var bearer, apiKey int
	for _, r := range env.Anthropic.Requests() {
		if r.Kind == anthropicemu.KindMain && r.Body != nil && strings.Contains(firstUserText(r.Body), "(bead oauth-1)") {
			if r.Header.Get("Authorization") != "" {
				bearer++
			}
			if r.Header.Get("X-Api-Key") != "" {
				apiKey++
			}
		}
	}
	g.Expect(bearer).To(BeNumerically(">", 0), "claude sent its OAuth token")
	g.Expect(apiKey).To(BeZero(), "no API key reached claude")
}

// seedPolecat applies the seed README's Polecat example, with its secrets
// made as the README's secrets section says. github.com cannot be reached
// from here, so the clone fails: the polecat must end in a clear, actionable
// state rather than hang.
func seedPolecat(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := devenv.WorkersNamespace

	_, key, err := ed25519.GenerateKey(rand.Reader)
	g.Expect(err).NotTo(HaveOccurred())
	block, err := ssh.MarshalPrivateKey(key, "")
	g.Expect(err).NotTo(HaveOccurred())
	keyFile := t.TempDir() + "/id_ed25519"
	g.Expect(os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)).To(Succeed())
	_, err = env.Kubectl(ctx, "create", "secret", "generic", "git-credentials", "-n", ns, "--from-file=ssh-privatekey="+keyFile)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = env.Kubectl(ctx, "create", "secret", "generic", "claude-credentials", "-n", ns, "--from-literal=api-key=sk-ant-not-a-real-key")
	g.Expect(err).NotTo(HaveOccurred())

	// The example names rig my-project. This environment's pods need the
	// node's network to reach anything, so the rig says so; it has no
	// source, as the example's polecat needs none.
	rig := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: "my-project"},
		Spec: gastownv1.RigSpec{
			GitURL:           "git@github.com:myorg/myrepo.git",
			WorkersNamespace: ns,
			Kubernetes:       gastownv1.RigKubernetes{PodTemplate: &gastownv1.PolecatPodTemplate{HostNetwork: true}},
		},
	}
	g.Expect(env.Client.Create(ctx, rig)).To(Succeed())

	manifest := t.TempDir() + "/polecat.yaml"
	g.Expect(os.WriteFile(manifest, []byte(seedPolecatYAML), 0o600)).To(Succeed())
	_, err = env.Kubectl(ctx, "apply", "-f", manifest)
	g.Expect(err).NotTo(HaveOccurred())

	pc := waitPolecatFinished(t, env, "my-worker")
	g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseFailed))
	g.Expect(conditions.GetReason(pc, meta.ReadyCondition)).To(Equal(gastownv1.GitFailedReason))
	g.Expect(conditions.GetMessage(pc, meta.ReadyCondition)).To(ContainSubstring("github.com"))
	gitLogs, err := env.Kubectl(ctx, "logs", "polecat-my-worker", "-c", "git-init", "-n", ns)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitLogs).To(ContainSubstring("github.com"))
	t.Logf("the seed's polecat ended %s: %s", pc.Status.Phase, conditions.GetMessage(pc, meta.ReadyCondition))
}

// seedPolecatYAML is the Polecat example of the seed README, as written.
const seedPolecatYAML = `apiVersion: gastown.gastown.io/v1alpha1
kind: Polecat
metadata:
  name: my-worker
  namespace: gastown-workers
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
    gitSecretRef:
      name: git-credentials
    apiKeySecretRef:
      name: claude-credentials
      key: api-key
`

// handMadePolecat is a polecat of the env's rig that runs the scripted
// agent's image with task text: the Witness cases make them by hand.
func handMadePolecat(env *devenv.Env, name, task string) *gastownv1.Polecat {
	return &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: devenv.WorkersNamespace},
		Spec: gastownv1.PolecatSpec{
			Rig:             env.Name,
			DesiredState:    gastownv1.DesiredWorking,
			ExecutionMode:   gastownv1.ExecutionModeKubernetes,
			TaskDescription: task,
			Agent:           gastownv1.AgentCustom,
			AgentConfig: &gastownv1.AgentConfig{
				Image:   devenv.ScriptedAgentImage,
				Command: []string{devenv.ScriptedAgentPath},
			},
			Kubernetes: &gastownv1.PolecatKubernetes{GitRepository: env.CloneURL, GitBranch: "main"},
		},
	}
}

// restartWhilePodRuns: the operator stops and a new one starts while a
// polecat's pod runs. The pod is the polecat's state: the new manager
// takes it up, and the polecat finishes on that pod, not a second one.
func restartWhilePodRuns(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	ctx := context.Background()
	pc := handMadePolecat(env, "through-restart", "Work through a restart of the operator.\n\nscripted-agent: busy 20s\n")
	create(t, env, pc)
	running := &corev1.Pod{}
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: "polecat-" + pc.Name}, running)).To(Succeed())
		g.Expect(running.Status.Phase).To(Equal(corev1.PodRunning))
	}, podTimeout, poll).Should(Succeed())
	if err := env.StopOperator(); err != nil {
		t.Fatalf("stopping the operator: %v", err)
	}
	// A container's finishedAt is in whole seconds.
	stopped := time.Now().Truncate(time.Second)
	if err := env.StartOperator(ctx); err != nil {
		t.Fatal(err)
	}

	done := waitPolecatFinished(t, env, pc.Name)
	g.Expect(done.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "%+v", done.Status)
	g.Expect(done.Status.Attempts).To(BeEquivalentTo(1))
	pod := &corev1.Pod{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: running.Name}, pod)).To(Succeed())
	g.Expect(pod.UID).To(Equal(running.UID), "the polecat finished on the pod it had before the restart")
	var agentEnded time.Time
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Terminated != nil {
			agentEnded = cs.State.Terminated.FinishedAt.Time
		}
	}
	g.Expect(agentEnded).To(BeTemporally(">=", stopped), "the agent was still at work when the operator stopped")
}

func create(t *testing.T, env *devenv.Env, pc *gastownv1.Polecat) {
	t.Helper()
	if err := env.Client.Create(context.Background(), pc); err != nil {
		t.Fatalf("creating polecat %s: %v", pc.Name, err)
	}
}

// waitFinding waits for the Witness to record a finding about polecat with
// reason and action, and returns it.
func waitFinding(t *testing.T, env *devenv.Env, polecat, reason, action string) gastownv1.WitnessFinding {
	t.Helper()
	var found gastownv1.WitnessFinding
	NewWithT(t).Eventually(func(g Gomega) {
		w := &gastownv1.Witness{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: env.Name}, w)).To(Succeed())
		var mine []gastownv1.WitnessFinding
		for _, f := range w.Status.Findings {
			if f.Polecat == polecat {
				mine = append(mine, f)
			}
		}
		g.Expect(mine).To(ContainElement(And(
			HaveField("Reason", reason), HaveField("Action", action))), "findings about %s", polecat)
		for _, f := range mine {
			if f.Reason == reason && f.Action == action {
				found = f
			}
		}
	}, podTimeout, poll).Should(Succeed())
	return found
}

// witnessImageNotPresent: an image the node does not hold, from a registry
// that refuses connections (on loopback), is a real pull failure, which no
// restart mends.
func witnessImageNotPresent(t *testing.T, env *devenv.Env) {
	const image = "127.0.0.1:1/gastown/not-here:v1"
	pc := handMadePolecat(env, "no-image", "Say hello.")
	pc.Spec.AgentConfig.Image = image
	create(t, env, pc)
	f := waitFinding(t, env, pc.Name, gastownv1.ImagePullFailedReason, "Escalated")
	NewWithT(t).Expect(f.Message).To(ContainSubstring("cannot pull image " + image))
}

// witnessMissingSecret: a secret the polecat names does not exist. The
// operator finds the secrets it knows of before it makes the pod; one that
// only the agent's env names, the kubelet finds (CreateContainerConfigError).
// Either way a person must create it.
func witnessMissingSecret(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	pc := handMadePolecat(env, "no-secret", "Say hello.")
	pc.Spec.Kubernetes.APIKeySecretRef = &meta.SecretKeyReference{Name: "not-created", Key: "api-key"}
	create(t, env, pc)

	inEnv := handMadePolecat(env, "no-env-secret", "Say hello.")
	inEnv.Spec.AgentConfig.Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "not-created-either"}, Key: "token"},
	}}}
	create(t, env, inEnv)

	f := waitFinding(t, env, pc.Name, gastownv1.SecretNotFoundReason, "Escalated")
	g.Expect(f.Message).To(ContainSubstring(`secret "not-created" (apiKeySecretRef) not found`))
	f = waitFinding(t, env, inEnv.Name, gastownv1.SecretNotFoundReason, "Escalated")
	g.Expect(f.Message).To(ContainSubstring(`secret "not-created-either" not found`))
}

// witnessOOMKilled: the agent needs more memory than its limit; the
// kernel's OOM killer ends it inside the pod's cgroup.
func witnessOOMKilled(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	pc := handMadePolecat(env, "oom", "Use a lot of memory.\n\nscripted-agent: allocate 512Mi\n")
	limit := resource.MustParse("96Mi")
	pc.Spec.Resources = &corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: limit},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: limit},
	}
	create(t, env, pc)
	done := waitPolecatFinished(t, env, pc.Name)
	g.Expect(done.Status.Phase).To(Equal(gastownv1.PolecatPhaseFailed))
	g.Expect(conditions.GetMessage(done, meta.ReadyCondition)).To(ContainSubstring("OOM"), "%+v", done.Status.Conditions)
}

// witnessDeadline: the pod's activeDeadlineSeconds ends an agent that
// works too long; the kubelet kills the pod.
func witnessDeadline(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	pc := handMadePolecat(env, "deadline", "Work for a long time, printing as you go.\n\nscripted-agent: busy 10m\n")
	deadline := int64(60) // the API's minimum
	pc.Spec.Kubernetes.ActiveDeadlineSeconds = &deadline
	create(t, env, pc)
	done := waitPolecatFinished(t, env, pc.Name)
	g.Expect(done.Status.Phase).To(Equal(gastownv1.PolecatPhaseFailed))
	g.Expect(conditions.GetReason(done, meta.ReadyCondition)).To(Equal(gastownv1.DeadlineExceededReason))
}

// witnessStuck: an agent that prints nothing for its stuck threshold is
// restarted (a new pod) up to the Witness's maxRestarts, then escalated.
func witnessStuck(t *testing.T, env *devenv.Env) {
	g := NewWithT(t)
	pc := handMadePolecat(env, "silent", "Think quietly.\n\nscripted-agent: sleep 10m\n")
	idle := int32(5)
	pc.Spec.MaxIdleSeconds = &idle
	create(t, env, pc)

	// The restart is on record on the polecat (the Witness's finding lasts
	// only until the next check), and a new pod runs.
	first := waitPod(t, env, pc.Name, "")
	second := waitPod(t, env, pc.Name, first)
	restarted := &gastownv1.Polecat{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(pc), restarted)).To(Succeed())
	g.Expect(restarted.Annotations).To(HaveKeyWithValue(witness.RestartsAnnotation, "1"))
	g.Expect(restarted.Annotations).To(HaveKeyWithValue(witness.RestartedPodAnnotation, first))
	g.Expect(restarted.Status.Phase).NotTo(Equal(gastownv1.PolecatPhaseFailed), "a restart is not a failure")

	// The new pod is as silent: the restart budget is spent, a person is told.
	f := waitFinding(t, env, pc.Name, gastownv1.StuckReason, "Escalated")
	g.Expect(f.Message).To(ContainSubstring("no output since"))
	g.Expect(f.Message).To(ContainSubstring("restarted 1 times already (maxRestarts 1)"))
	pod := &corev1.Pod{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: "polecat-" + pc.Name}, pod)).To(Succeed())
	g.Expect(string(pod.UID)).To(Equal(second), "escalation leaves the pod for a person to look at")
}

// waitPod waits for the polecat's pod to be running with a UID other than
// not, and returns its UID.
func waitPod(t *testing.T, env *devenv.Env, polecat, not string) string {
	t.Helper()
	var uid string
	NewWithT(t).Eventually(func(g Gomega) {
		pod := &corev1.Pod{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: "polecat-" + polecat}, pod)).To(Succeed())
		g.Expect(string(pod.UID)).NotTo(Equal(not))
		g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning))
		uid = string(pod.UID)
	}, podTimeout, poll).Should(Succeed())
	return uid
}

// waitPolecatFinished waits until the polecat has finished, and returns it.
func waitPolecatFinished(t *testing.T, env *devenv.Env, name string) *gastownv1.Polecat {
	t.Helper()
	pc := &gastownv1.Polecat{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: name}, pc)).To(Succeed())
		g.Expect(pc.Status.Phase.Finished()).To(BeTrue(), "polecat %s is %s: %s", name, pc.Status.Phase, conditions.GetMessage(pc, meta.ReadyCondition))
	}, podTimeout, poll).Should(Succeed())
	if b, err := yaml.Marshal(pc.Status); err == nil {
		t.Logf("polecat %s:\n%s", name, b)
	}
	return pc
}
