//go:build linux

// Package incluster runs the README's Installation, Secrets Setup and
// Verification sections for real, as a user would on a cluster with Flux:
// the chart, pushed to a loopback OCI registry with helm, installed with
// `helm install oci://...`, runs the operator's image, pulled from that
// registry, as a pod on a real node (test/node) beside a real
// kube-apiserver, under the chart's service account and RBAC. The README's
// commands are read from README.md and run with bash. A bead committed to
// the git server then goes through the whole loop with this operator: its
// polecat a pod with the runner's and claude's images from the registry,
// cloning and pushing over SSH with the README's git-credentials, the pull
// request merged through the GitHub emulator. Then helm upgrade, helm
// uninstall and the README's OpenShift variant.
package incluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/internal/version"
	"github.com/boshu2/gastown-operator/test/devenv"
	"github.com/boshu2/gastown-operator/test/images"
	"github.com/boshu2/gastown-operator/test/internal/childproc"
	"github.com/boshu2/gastown-operator/test/node"
	"github.com/boshu2/gastown-operator/test/registry"
)

const (
	namespace = "gastown-system"
	release   = "gastown-operator"
	// The README's chart reference; the test's registry stands in for ghcr.io.
	readmeChart = "oci://ghcr.io/boshu2/charts/gastown-operator"
	// podTimeout bounds a pull from the loopback registry, the manager's
	// start and its readiness probe, and a polecat's pod and agent.
	podTimeout = 3 * time.Minute
	poll       = 200 * time.Millisecond
	// leaseTimeout bounds the wait for the manager to lead. A reinstall may
	// wait for the last install's Lease to expire (the manager's default
	// lease duration, 35 s, then its retry period): helm uninstall deletes
	// the chart's RBAC while the old pod is still stopping, so that pod is
	// forbidden to release its Lease.
	leaseTimeout = 90 * time.Second
)

// The CRDs the chart's crds/ installs.
var crds = []string{"beads", "beadstores", "convoys", "mergerequests", "polecats", "refineries", "rigs", "witnesses"}

// The bead the in-cluster operator works on.
const bead = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-health
spec:
  title: Add a /health endpoint
  description: Return 200 and {"status":"ok"}.
`

// cluster is the environment the README's commands run in.
type cluster struct {
	env      *devenv.Env
	client   client.Client
	kubectl  string
	helm     string
	home     string // the reader's $HOME, with ~/.ssh/id_ed25519
	helmHome string
	reg      *registry.Registry
	chart    string // oci://<registry>/charts/gastown-operator
	apiHost  string
	apiPort  string
}

// cmd runs a command as the README's reader would: KUBECONFIG set, helm,
// kubectl and the kubectl gt plugin on PATH, helm's homes in a temporary directory.
func (c *cluster) cmd(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(),
		"HOME="+c.home,
		"KUBECONFIG="+c.env.Kubeconfig,
		"PATH="+strings.Join([]string{filepath.Dir(c.helm), filepath.Dir(c.kubectl), filepath.Dir(c.env.KubectlGTPath), os.Getenv("PATH")}, ":"),
		"HELM_CACHE_HOME="+filepath.Join(c.helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(c.helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(c.helmHome, "data"),
		// The values the README's secrets commands expand.
		"ANTHROPIC_API_KEY="+c.env.AnthropicAPIKey,
		"GITHUB_TOKEN="+c.env.Token,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), err
}

func (c *cluster) must(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := c.cmd(t, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sh runs one of the README's command lines with bash.
func (c *cluster) sh(t *testing.T, line string) string {
	t.Helper()
	t.Logf("$ %s", line)
	return c.must(t, "bash", "-euo", "pipefail", "-c", line)
}

// readmeCommand is one command of a bash block of the README, with the
// comment above it.
type readmeCommand struct {
	comment string
	line    string
}

// readme returns the commands of the bash blocks in the README's section
// that heading starts, backslash continuations joined.
func readme(t *testing.T, heading string) []readmeCommand {
	t.Helper()
	root, err := testenv.ProjectRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var cmds []readmeCommand
	for _, block := range regexp.MustCompile("(?s)```bash\n(.*?)```").FindAllStringSubmatch(section, -1) {
		comment, line := "", ""
		for _, l := range strings.Split(block[1], "\n") {
			l = strings.TrimSpace(l)
			switch {
			case strings.HasSuffix(l, `\`):
				line += strings.TrimSuffix(l, `\`)
			case line != "" || (l != "" && !strings.HasPrefix(l, "#")):
				cmds = append(cmds, readmeCommand{comment: comment, line: strings.Join(strings.Fields(line+l), " ")})
				line = ""
			case strings.HasPrefix(l, "#"):
				comment = strings.TrimSpace(strings.TrimPrefix(l, "#"))
			}
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("README.md's section %q has no commands", heading)
	}
	return cmds
}

// find returns the README command whose comment or line contains s.
func find(t *testing.T, cmds []readmeCommand, s string) string {
	t.Helper()
	for _, c := range cmds {
		if strings.Contains(c.comment, s) || strings.Contains(c.line, s) {
			return c.line
		}
	}
	t.Fatalf("no README command with %q in %v", s, cmds)
	return ""
}

// testValues are what this node needs and a real cluster does not: the
// images come from the loopback registry, and with no pod network or
// kube-proxy the manager runs in the node's network namespace and reaches
// the kube-apiserver at its loopback address instead of the kubernetes
// Service's cluster IP. Its ports are free ones, as it shares the machine's.
func (c *cluster) testValues(t *testing.T) string {
	t.Helper()
	addrs, err := childproc.FreeAddrs(2)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]any{
		"image":       map[string]any{"repository": c.reg.Host + "/boshu2/gastown-operator"},
		"runnerImage": map[string]any{"repository": c.reg.Host + "/boshu2/gastown-polecat"},
		"agentImages": map[string]any{
			"claude-code": c.reg.Ref("boshu2/gastown-agent-claude-code", "v"+version.Version),
		},
		"hostNetwork": true,
		"ports":       map[string]any{"metrics": addrs[0].Port, "health": addrs[1].Port},
		"extraEnv": []map[string]string{
			{"name": "KUBERNETES_SERVICE_HOST", "value": c.apiHost},
			{"name": "KUBERNETES_SERVICE_PORT", "value": c.apiPort},
		},
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "test-values.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// install runs one of the README's helm install commands, with the test's
// registry for ghcr.io, plain HTTP to it, and testValues.
func (c *cluster) install(t *testing.T, line string) time.Duration {
	t.Helper()
	if !strings.Contains(line, readmeChart) || !strings.Contains(line, "--version "+version.Version) {
		t.Fatalf("the README's install %q should name %s --version %s", line, readmeChart, version.Version)
	}
	start := time.Now()
	c.sh(t, strings.Replace(line, readmeChart, c.chart, 1)+" --plain-http -f "+c.testValues(t))
	return time.Since(start)
}

// waitReady waits for the Deployment's one pod to be Running and Ready,
// and returns it.
func (c *cluster) waitReady(t *testing.T) *corev1.Pod {
	t.Helper()
	g := NewWithT(t)
	var pod corev1.Pod
	g.Eventually(func(g Gomega) {
		var pods corev1.PodList
		g.Expect(c.client.List(context.Background(), &pods, client.InNamespace(namespace),
			client.MatchingLabels{"app.kubernetes.io/instance": release})).To(Succeed())
		var live []corev1.Pod
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		g.Expect(live).To(HaveLen(1))
		pod = live[0]
		g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning), describe(&pod))
		g.Expect(ready(&pod)).To(BeTrue(), describe(&pod))
	}).WithTimeout(podTimeout).WithPolling(poll).Should(Succeed(), func() string {
		out, _ := c.cmd(t, c.kubectl, "logs", "deployment/"+release, "-n", namespace, "--tail", "40")
		events, _ := c.cmd(t, c.kubectl, "get", "events", "-n", namespace)
		return "manager log:\n" + out + "\nevents:\n" + events
	})
	return &pod
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describe(p *corev1.Pod) string {
	b, _ := yaml.Marshal(p.Status)
	return string(b)
}

// verifyOperator runs the README's Verification commands about the
// operator and its CRDs. `kubectl logs -f` runs without -f: following a
// running manager's log never returns.
func (c *cluster) verifyOperator(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	g := NewWithT(t)
	cmds := readme(t, "## Verification Commands")
	out := c.sh(t, find(t, cmds, "get pods -n "+namespace))
	g.Expect(out).To(MatchRegexp(`(?m)^%s\s+1/1\s+Running\s`, pod.Name))
	logs := strings.Replace(find(t, cmds, "deployment/"+release), "logs -f ", "logs ", 1)
	g.Eventually(func() string {
		out, _ := c.cmd(t, "bash", "-c", logs)
		return out
	}).WithTimeout(leaseTimeout).WithPolling(poll).Should(And(
		ContainSubstring("starting manager"),
		ContainSubstring("Successfully acquired lease"),
		ContainSubstring("Starting workers"),
	))
	var got []string
	for _, line := range strings.Split(c.sh(t, find(t, cmds, "grep gastown")), "\n") {
		if line != "" {
			got = append(got, strings.Fields(line)[0])
		}
	}
	var want []string
	for _, crd := range crds {
		want = append(want, crd+".gastown.gastown.io")
	}
	g.Expect(got).To(ConsistOf(want), "kubectl get crds | grep gastown")
}

// secrets runs the README's Secrets Setup: the namespace, the SSH key (from
// the reader's ~/.ssh/id_ed25519, with the git server's host key, as the
// README says for hosts other than github.com), claude's API key (option A;
// option B reads macOS's keychain) and the Refinery's GitHub token.
func (c *cluster) secrets(t *testing.T) {
	t.Helper()
	g := NewWithT(t)
	ssh := filepath.Join(c.home, ".ssh")
	g.Expect(os.MkdirAll(ssh, 0o700)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(ssh, "id_ed25519"), c.env.SSHKey, 0o600)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(ssh, "known_hosts"), []byte(c.env.SSHKnownHosts), 0o600)).To(Succeed())
	cmds := readme(t, "## Secrets Setup")
	c.sh(t, find(t, cmds, "kubectl create namespace "+devenv.WorkersNamespace))
	c.sh(t, find(t, cmds, "Git SSH key")+" "+knownHostsFlag(t))
	c.sh(t, find(t, cmds, "option A"))
	c.sh(t, find(t, cmds, "github-token"))
}

// knownHostsFlag is the flag the README tells a reader to add for a git
// host other than github.com.
func knownHostsFlag(t *testing.T) string {
	t.Helper()
	root, _ := testenv.ProjectRoot()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	flag := "--from-file=known_hosts=$HOME/.ssh/known_hosts"
	if !bytes.Contains(b, []byte("`"+flag+"`")) {
		t.Fatalf("the README should tell how to add the git host's key: %s", flag)
	}
	return flag
}

// uninstall runs helm uninstall and checks that what the chart made is
// gone but its CRDs, which Helm never deletes, and the namespace that
// --create-namespace made, which Helm does not own.
func (c *cluster) uninstall(t *testing.T) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	c.must(t, c.helm, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m")
	sel := client.MatchingLabels{"app.kubernetes.io/instance": release}
	g.Eventually(func(g Gomega) {
		var pods corev1.PodList
		g.Expect(c.client.List(ctx, &pods, client.InNamespace(namespace), sel)).To(Succeed())
		g.Expect(pods.Items).To(BeEmpty())
	}).WithTimeout(podTimeout).WithPolling(poll).Should(Succeed())
	for _, list := range []client.ObjectList{
		&appsv1.DeploymentList{}, &appsv1.ReplicaSetList{}, &corev1.ServiceList{}, &corev1.ServiceAccountList{},
		&rbacv1.ClusterRoleList{}, &rbacv1.ClusterRoleBindingList{}, &rbacv1.RoleList{}, &rbacv1.RoleBindingList{},
	} {
		g.Expect(c.client.List(ctx, list, sel)).To(Succeed())
		g.Expect(list).To(HaveField("Items", BeEmpty()), "%T after helm uninstall", list)
	}
	var secrets corev1.SecretList
	g.Expect(c.client.List(ctx, &secrets, client.InNamespace(namespace), client.MatchingLabels{"owner": "helm"})).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty(), "helm's release records")
	out := c.must(t, c.kubectl, "get", "crds")
	for _, crd := range crds {
		g.Expect(out).To(ContainSubstring(crd+".gastown.gastown.io"), "Helm keeps the CRDs of crds/")
	}
	ns := &corev1.Namespace{}
	err := c.client.Get(ctx, client.ObjectKey{Name: namespace}, ns)
	g.Expect(apierrors.IsNotFound(err)).To(BeFalse(), "helm uninstall keeps the namespace --create-namespace made")
	// What is left is not the chart's: the namespace's default service
	// account and kube-root-ca.crt, and the manager's leader election
	// Lease, which the manager made and no one deletes (still held, when
	// the stopping manager lost its RBAC before it could release it).
	left := c.must(t, c.kubectl, "get", "all,leases,configmaps,serviceaccounts,secrets", "-n", namespace)
	t.Logf("left in %s after helm uninstall:\n%s", namespace, left)
}

// pushImages builds the project's images and pushes the operator's, the
// runner's and claude's to the registry under ghcr.io's repository names,
// and the chart with helm push.
func pushImages(t *testing.T, reg *registry.Registry, helm string) (chart string) {
	t.Helper()
	g := NewWithT(t)
	step := time.Now()
	set, err := images.Build(context.Background(), images.Options{Agents: []gastownv1.AgentType{gastownv1.AgentClaudeCode}, Logf: t.Logf})
	g.Expect(err).NotTo(HaveOccurred())
	for _, img := range []images.Image{set.Manager, set.Runner, set.Agents[gastownv1.AgentClaudeCode]} {
		repo := strings.TrimPrefix(strings.SplitN(img.Name, ":", 2)[0], "ghcr.io/")
		g.Expect(reg.PushTarball(img.Tarball, reg.Ref(repo, "v"+version.Version))).To(Succeed())
	}
	root, err := testenv.ProjectRoot()
	g.Expect(err).NotTo(HaveOccurred())
	chart, err = reg.PushChart(helm, filepath.Join(root, "charts", "gastown-operator"), "charts")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(chart).To(Equal("oci://" + reg.Host + "/charts/gastown-operator"))
	t.Logf("pushed the operator's, the runner's and claude's images and the chart to %s in %s", reg.Host, time.Since(step).Round(time.Millisecond))
	return chart
}

// TestReadmeInstall installs the chart from the registry as the README
// says, makes the secrets and verifies it as the README says, runs a bead
// to a merged pull request with the operator in the cluster, upgrades it,
// uninstalls it, and installs it again with the README's OpenShift flags.
func TestReadmeInstall(t *testing.T) {
	begin := time.Now()
	ctx := context.Background()
	c := &cluster{home: t.TempDir(), helmHome: t.TempDir()}
	var err error
	if c.helm, err = testenv.HelmPath(); err != nil {
		t.Fatal(err)
	}
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	c.kubectl = filepath.Join(assets, "kubectl")
	if c.reg, err = registry.Start(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.reg.Stop() })
	c.chart = pushImages(t, c.reg, c.helm)
	install := readme(t, "## Installation")

	var pod *corev1.Pod
	env, err := devenv.Start(ctx, devenv.Options{
		Beads:        map[string]string{},
		Agent:        devenv.AgentClaudeCode,
		Pods:         true,
		GitSSH:       true,
		APIKeySecret: "claude-credentials",
		Registries:   []string{c.reg.Host},
		Logf:         t.Logf,
		KeepDir:      os.Getenv("GASTOWN_DEVENV_KEEP") != "",
		// The README's order: Flux is there; install the operator, make
		// the secrets, then point a rig at the repository.
		InstallOperator: func(ctx context.Context, e *devenv.Env) error {
			c.env, c.client = e, e.Client
			u, err := url.Parse(e.Config.Host)
			if err != nil {
				return err
			}
			if c.apiHost, c.apiPort, err = net.SplitHostPort(u.Host); err != nil {
				return err
			}
			t.Logf("control plane, node, git server and source-controller ready in %s", time.Since(begin).Round(time.Millisecond))
			step := time.Now()
			took := c.install(t, find(t, install, "Standard Kubernetes"))
			pod = c.waitReady(t)
			t.Logf("helm install took %s; the operator's pod was Ready %s after it began", took.Round(time.Millisecond), time.Since(step).Round(time.Millisecond))
			c.verifyOperator(t, pod)
			c.secrets(t)
			return nil
		},
	})
	if err != nil {
		t.Fatalf("starting the environment: %v", err)
	}
	t.Cleanup(env.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.cmd(t, c.kubectl, "logs", "deployment/"+release, "-n", namespace, "--tail", "80")
			t.Logf("manager log tail:\n%s", out)
			t.Logf("kubelet log tail:\n%s", devenv.LogTail(env.Node.KubeletLog, 40))
		}
	})
	g := NewWithT(t)
	g.Expect(pod.Spec.NodeName).To(Equal(node.Name))
	g.Expect(pod.Status.ContainerStatuses[0].ImageID).To(HavePrefix(c.reg.Host+"/boshu2/gastown-operator@sha256:"),
		"the node pulled the operator's image from the registry")
	g.Expect(pod.Spec.Volumes).To(ContainElement(HaveField("Name", HavePrefix("kube-api-access-"))),
		"the service account token comes from the TokenRequest API")

	t.Run("a bead through the whole loop with the operator in the cluster", func(t *testing.T) { wholeLoop(t, c) })

	// The user guide's upgrade applies the release's CRDs first: helm
	// upgrade leaves them as they were. A CRD without a field, as an older
	// release's would be, has it again after.
	readySince := "{.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.readySince.type}"
	c.must(t, c.kubectl, "patch", "crd", "beads.gastown.gastown.io", "--type=json",
		"-p", `[{"op":"remove","path":"/spec/versions/0/schema/openAPIV3Schema/properties/status/properties/readySince"}]`)
	g.Expect(c.must(t, c.kubectl, "get", "crd", "beads.gastown.gastown.io", "-o", "jsonpath="+readySince)).To(BeEmpty())
	pulled := t.TempDir()
	c.must(t, c.helm, "pull", c.chart, "--version", version.Version, "--plain-http", "--untar", "--untardir", pulled)
	c.must(t, c.kubectl, "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(pulled, "gastown-operator", "crds"))
	g.Expect(c.must(t, c.kubectl, "get", "crd", "beads.gastown.gastown.io", "-o", "jsonpath="+readySince)).To(Equal("string"))

	// helm upgrade rolls the Deployment out with the new values. The new
	// pod starts beside the old one, as the rolling update asks; on the
	// node's network both would want the same ports (the scheduler would
	// keep the new one Pending), so the test values move them.
	step := time.Now()
	c.must(t, c.helm, "upgrade", release, c.chart, "--version", version.Version, "--namespace", namespace,
		"--plain-http", "--reuse-values", "-f", c.testValues(t), "--set", "logLevel=debug")
	g.Eventually(func(g Gomega) {
		var d appsv1.Deployment
		g.Expect(c.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release}, &d)).To(Succeed())
		g.Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--log-level=debug"))
		g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
		g.Expect(d.Status.UpdatedReplicas).To(BeEquivalentTo(1))
		g.Expect(d.Status.ReadyReplicas).To(BeEquivalentTo(1))
		g.Expect(d.Status.Replicas).To(BeEquivalentTo(1))
	}).WithTimeout(podTimeout).WithPolling(poll).Should(Succeed())
	upgraded := c.waitReady(t)
	g.Expect(upgraded.Name).NotTo(Equal(pod.Name))
	t.Logf("helm upgrade rolled out in %s", time.Since(step).Round(time.Millisecond))
	c.must(t, c.kubectl, "get", "polecats", "-A")

	step = time.Now()
	c.uninstall(t)
	t.Logf("helm uninstall done in %s", time.Since(step).Round(time.Millisecond))

	// The README's OpenShift variant: OpenShift would assign the user; here
	// the image's own (65532) applies.
	step = time.Now()
	c.install(t, find(t, install, "OpenShift"))
	pod = c.waitReady(t)
	g.Expect(pod.Spec.Containers[0].SecurityContext.RunAsUser).To(BeNil())
	t.Logf("the OpenShift variant was Ready in %s", time.Since(step).Round(time.Millisecond))
	c.verifyOperator(t, pod)
	c.uninstall(t)
	t.Logf("whole test: %s", time.Since(begin).Round(time.Millisecond))
}

// wholeLoop commits a bead, runs `flux reconcile`, and follows it: the
// in-cluster operator makes its polecat, whose pod pulls the runner's and
// claude's images from the registry, clones over SSH with the README's
// git-credentials, runs the real claude CLI against the Anthropic emulator
// with the README's claude-credentials, and pushes; the Refinery opens the
// pull request with the README's github-token and merges it once reviewed;
// the bead is closed in git. Then the README's polecat commands.
func wholeLoop(t *testing.T, c *cluster) {
	g := NewWithT(t)
	ctx := context.Background()
	env, ns := c.env, devenv.WorkersNamespace
	began := time.Now()
	_, err := env.Push("Add the health endpoint bead", map[string]string{devenv.BeadsDir + "/health.yaml": bead})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = env.ReconcileSource(ctx)
	g.Expect(err).NotTo(HaveOccurred())

	pc := &gastownv1.Polecat{}
	g.Eventually(func(g Gomega) {
		g.Expect(c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gt-health"}, pc)).To(Succeed())
		g.Expect(pc.Status.Phase).To(BeElementOf(gastownv1.PolecatPhaseSucceeded, gastownv1.PolecatPhaseFailed))
	}).WithTimeout(podTimeout).WithPolling(poll).Should(Succeed())
	g.Expect(pc.Status.Phase).To(Equal(gastownv1.PolecatPhaseSucceeded), "%+v", pc.Status)
	g.Expect(pc.Status.Result.Branch).To(Equal("polecat/gt-health"))
	t.Logf("bead committed → polecat pushed in %s", time.Since(began).Round(time.Millisecond))

	pod := &corev1.Pod{}
	g.Expect(c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "polecat-gt-health"}, pod)).To(Succeed())
	var pulled []string
	for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
		pulled = append(pulled, s.ImageID)
	}
	g.Expect(pulled).To(ContainElements(
		HavePrefix(c.reg.Host+"/boshu2/gastown-polecat@sha256:"),
		HavePrefix(c.reg.Host+"/boshu2/gastown-agent-claude-code@sha256:"),
	), "the node pulled the runner's and claude's images from the registry")
	g.Expect(env.SSHCloneURL).To(HavePrefix("ssh://"))

	// A reviewer approves, CI is green: the in-cluster Refinery merges.
	var pr int
	g.Eventually(func(g Gomega) {
		prs, err := env.GitHub.PullRequests(env.Owner, env.Repo)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(prs).To(HaveLen(1))
		g.Expect(prs[0].Head).To(Equal("polecat/gt-health"))
		pr = prs[0].Number
		g.Expect(env.GitHub.SetStatus(env.Owner, env.Repo, prs[0].HeadSHA, "ci", "success")).To(Succeed())
	}).WithTimeout(podTimeout).WithPolling(poll).Should(Succeed())
	g.Expect(env.GitHub.Approve(env.Owner, env.Repo, pr, "reviewer")).To(Succeed())
	g.Eventually(func(g Gomega) {
		b := &gastownv1.Bead{}
		g.Expect(c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gt-health"}, b)).To(Succeed())
		g.Expect(b.Status.PullRequest).NotTo(BeNil())
		g.Expect(b.Status.PullRequest.State).To(Equal(gastownv1.PullRequestMerged))
	}).WithTimeout(podTimeout).WithPolling(poll).Should(Succeed())
	_, err = env.ReconcileSource(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		b := &gastownv1.Bead{}
		g.Expect(c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gt-health"}, b)).To(Succeed())
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseClosed))
	}).WithTimeout(podTimeout).WithPolling(poll).Should(Succeed())
	t.Logf("bead committed → closed in git by the merge: %s", time.Since(began).Round(time.Millisecond))

	// The README's Verification commands about polecats and the plugin.
	cmds := readme(t, "## Verification Commands")
	g.Expect(c.sh(t, find(t, cmds, "get polecats -A"))).To(MatchRegexp(`(?m)^%s\s+gt-health\s`, ns))
	logs := strings.NewReplacer("logs -f ", "logs ", "polecat-<name>", "polecat-gt-health").Replace(find(t, cmds, "polecat-<name>"))
	g.Expect(c.sh(t, logs)).To(ContainSubstring(`"type":"result"`), "claude's stream-json")
	g.Expect(c.sh(t, find(t, cmds, "get gastown -A"))).To(ContainSubstring("gt-health"))
	g.Expect(c.sh(t, find(t, cmds, "gt rig list"))).To(ContainSubstring(env.Name))
	g.Expect(c.sh(t, find(t, cmds, "gt bead list -A"))).To(MatchRegexp(`gt-health\s+.*Closed`))
}
