//go:build linux

// Package incluster runs the README's Installation and Verification
// sections for real: the chart, pushed to a loopback OCI registry with
// helm, installed with `helm install oci://...`, runs the operator's image,
// pulled from that registry, as a pod on a real node (test/node) beside a
// real kube-apiserver; then the README's kubectl commands are run against
// it, and helm upgrade and helm uninstall.
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
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/boshu2/gastown-operator/internal/scheme"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/internal/version"
	"github.com/boshu2/gastown-operator/test/images"
	"github.com/boshu2/gastown-operator/test/node"
	"github.com/boshu2/gastown-operator/test/registry"
)

const (
	namespace = "gastown-system"
	release   = "gastown-operator"
	// podTimeout bounds a pull from the loopback registry, the manager's
	// start and its readiness probe.
	podTimeout = 3 * time.Minute
	poll       = 200 * time.Millisecond
	// leaseTimeout bounds the wait for the manager to lead. A reinstall may
	// wait for the last install's Lease to expire (the manager's default
	// lease duration, 35 s, then its retry period): helm uninstall deletes
	// the chart's RBAC while the old pod is still stopping, so that pod is
	// forbidden to release its Lease.
	leaseTimeout = 90 * time.Second
)

// The seed README's OpenShift install flags.
var openShift = []string{
	"--set", "securityContext.allowPrivilegeEscalation=false",
	"--set", "securityContext.runAsNonRoot=true",
	"--set", "securityContext.runAsUser=null",
	"--set", "securityContext.readOnlyRootFilesystem=true",
}

// The CRDs the chart's crds/ installs.
var crds = []string{"beads", "beadstores", "convoys", "polecats", "refineries", "rigs", "witnesses"}

// cluster is what the test installs into.
type cluster struct {
	config     *rest.Config
	client     client.Client
	kubeconfig string
	kubectl    string
	helm       string
	helmHome   string
	reg        *registry.Registry
	chart      string // oci://<registry>/charts/gastown-operator
	apiHost    string
	apiPort    string
}

// startAPIServer starts etcd and a kube-apiserver as testenv does, but
// with the ServiceAccount admission plugin on (envtest turns it off), so
// that pods get their service account token volume as on a real cluster,
// and with only Flux's source CRDs, the README's prerequisite: the
// project's CRDs come from the chart.
func startAPIServer(t *testing.T) (*envtest.Environment, *rest.Config) {
	t.Helper()
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	fluxCRDs, err := testenv.FluxCRDsDir()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{fluxCRDs},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.Scheme,
	}
	env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", assets, err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return env, cfg
}

func setup(t *testing.T) *cluster {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	env, cfg := startAPIServer(t)
	c := &cluster{config: cfg, helmHome: t.TempDir()}
	var err error
	c.client, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "gastown-admin", Groups: []string{"system:masters"}}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	kc, err := user.KubeConfig()
	g.Expect(err).NotTo(HaveOccurred())
	c.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(c.kubeconfig, kc, 0o600)).To(Succeed())
	assets, _ := testenv.AssetsDir()
	c.kubectl = filepath.Join(assets, "kubectl")
	c.helm, err = testenv.HelmPath()
	g.Expect(err).NotTo(HaveOccurred())
	u, err := url.Parse(cfg.Host)
	g.Expect(err).NotTo(HaveOccurred())
	c.apiHost, c.apiPort, err = net.SplitHostPort(u.Host)
	g.Expect(err).NotTo(HaveOccurred())

	// The images and the chart, in a registry on loopback.
	step := time.Now()
	set, err := images.Build(ctx, images.Options{Logf: t.Logf})
	g.Expect(err).NotTo(HaveOccurred())
	t.Logf("images ready in %s", time.Since(step).Round(time.Millisecond))
	c.reg, err = registry.Start(nil)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = c.reg.Stop() })
	step = time.Now()
	for _, img := range []images.Image{set.Manager, set.Runner} {
		repo := strings.TrimPrefix(strings.SplitN(img.Name, ":", 2)[0], "ghcr.io/")
		g.Expect(c.reg.PushTarball(img.Tarball, c.reg.Ref(repo, "v"+version.Version))).To(Succeed())
	}
	root, err := testenv.ProjectRoot()
	g.Expect(err).NotTo(HaveOccurred())
	c.chart, err = c.reg.PushChart(c.helm, filepath.Join(root, "charts", "gastown-operator"), "charts")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.chart).To(Equal("oci://" + c.reg.Host + "/charts/gastown-operator"))
	t.Logf("pushed the manager's and the runner's images and the chart to %s in %s", c.reg.Host, time.Since(step).Round(time.Millisecond))

	// The node pulls from the registry; nothing is imported but its pause image.
	n, err := node.Start(ctx, node.Options{
		Config:            cfg,
		Scheduler:         true,
		ControllerManager: true,
		Registries:        []string{c.reg.Host},
		Logf:              t.Logf,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stopping the node: %v", err)
		}
	})
	return c
}

// cmd runs a command as the README's reader would, with KUBECONFIG set and
// helm's homes in a temporary directory.
func (c *cluster) cmd(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+c.kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(c.helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(c.helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(c.helmHome, "data"),
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

// testValues are what this node needs and a real cluster does not: the
// images come from the loopback registry, and with no pod network or
// kube-proxy the manager runs in the node's network namespace and reaches
// the kube-apiserver at its loopback address instead of the kubernetes
// Service's cluster IP. Its ports are free ones, as it shares the machine's.
func (c *cluster) testValues(t *testing.T) string {
	t.Helper()
	addrs, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]any{
		"image":       map[string]any{"repository": c.reg.Host + "/boshu2/gastown-operator"},
		"runnerImage": map[string]any{"repository": c.reg.Host + "/boshu2/gastown-polecat"},
		// Named as they would be; not pushed, as no polecat runs here.
		"agentImages": map[string]any{
			"claude-code": c.reg.Ref("boshu2/gastown-agent-claude-code", "v"+version.Version),
			"opencode":    c.reg.Ref("boshu2/gastown-agent-opencode", "v"+version.Version),
		},
		"hostNetwork": true,
		"ports":       map[string]any{"metrics": addrs[0], "health": addrs[1]},
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

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// install runs the README's helm install against the loopback registry.
func (c *cluster) install(t *testing.T, extra ...string) time.Duration {
	t.Helper()
	start := time.Now()
	args := append([]string{"install", release, c.chart,
		"--version", version.Version,
		"--namespace", namespace,
		"--create-namespace",
		"--plain-http",
		"-f", c.testValues(t),
	}, extra...)
	c.must(t, c.helm, args...)
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

// verify runs the README's Verification commands.
func (c *cluster) verify(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	g := NewWithT(t)
	out := c.must(t, c.kubectl, "get", "pods", "-n", namespace)
	g.Expect(out).To(MatchRegexp(`(?m)^%s\s+1/1\s+Running\s`, pod.Name))
	g.Eventually(func() string {
		out, _ := c.cmd(t, c.kubectl, "logs", "deployment/"+release, "-n", namespace)
		return out
	}).WithTimeout(leaseTimeout).WithPolling(poll).Should(And(
		ContainSubstring("starting manager"),
		ContainSubstring("Successfully acquired lease"),
		ContainSubstring("Starting workers"),
	))
	out = c.must(t, c.kubectl, "get", "crds")
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "gastown") {
			got = append(got, strings.Fields(line)[0])
		}
	}
	var want []string
	for _, crd := range crds {
		want = append(want, crd+".gastown.gastown.io")
	}
	g.Expect(got).To(ConsistOf(want), "kubectl get crds | grep gastown")
	out = c.must(t, c.kubectl, "get", "polecats", "-A")
	g.Expect(out).To(BeEmpty(), "no polecats yet (kubectl says so on stderr)")
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

// TestReadmeInstall installs the chart from the registry as the README
// says, verifies it as the README says, upgrades it, uninstalls it, and
// installs it again with the README's OpenShift flags.
func TestReadmeInstall(t *testing.T) {
	begin := time.Now()
	c := setup(t)
	t.Logf("control plane, images, registry and node ready in %s", time.Since(begin).Round(time.Millisecond))
	g := NewWithT(t)
	ctx := context.Background()

	step := time.Now()
	took := c.install(t)
	pod := c.waitReady(t)
	t.Logf("helm install took %s; the operator's pod was Ready %s after it began", took.Round(time.Millisecond), time.Since(step).Round(time.Millisecond))
	g.Expect(pod.Spec.NodeName).To(Equal(node.Name))
	g.Expect(pod.Status.ContainerStatuses[0].ImageID).To(HavePrefix(c.reg.Host+"/boshu2/gastown-operator@sha256:"),
		"the node pulled the operator's image from the registry")
	g.Expect(pod.Spec.Volumes).To(ContainElement(HaveField("Name", HavePrefix("kube-api-access-"))),
		"the service account token comes from the TokenRequest API")
	c.verify(t, pod)
	warnings, _ := c.cmd(t, c.kubectl, "get", "events", "-n", namespace, "--field-selector", "type=Warning")
	t.Logf("warning events:\n%s", warnings)

	// helm upgrade rolls the Deployment out with the new values. The new
	// pod starts beside the old one, as the rolling update asks; on the
	// node's network both would want the same ports (the scheduler would
	// keep the new one Pending), so the test values move them.
	step = time.Now()
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
	c.install(t, openShift...)
	pod = c.waitReady(t)
	g.Expect(pod.Spec.Containers[0].SecurityContext.RunAsUser).To(BeNil())
	t.Logf("the OpenShift variant was Ready in %s", time.Since(step).Round(time.Millisecond))
	c.verify(t, pod)
	c.uninstall(t)
	t.Logf("whole test: %s", time.Since(begin).Round(time.Millisecond))
}
