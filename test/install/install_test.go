// Package install checks the two ways to install the operator, the Helm
// chart and config/default, against a real API server: they render, the
// server accepts every object (server-side dry run), and what the seed
// README's commands rely on is there.
package install

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/internal/version"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, nil) }

// The seed README's OpenShift install flags.
var openShift = []string{
	"--set", "securityContext.allowPrivilegeEscalation=false",
	"--set", "securityContext.runAsNonRoot=true",
	"--set", "securityContext.runAsUser=null",
	"--set", "securityContext.readOnlyRootFilesystem=true",
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	root, _ := testenv.ProjectRoot()
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func helm(t *testing.T, args ...string) string {
	t.Helper()
	path, err := testenv.HelmPath()
	if err != nil {
		t.Fatal(err)
	}
	return run(t, path, args...)
}

// applyDryRun sends the manifests to the API server with a server-side
// dry run, which validates them completely without keeping them.
func applyDryRun(t *testing.T, manifests string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "manifests.yaml")
	if err := os.WriteFile(file, []byte(manifests), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl("apply", "--dry-run=server", "-f", file); err != nil {
		t.Fatal(err)
	}
}

// objects decodes a YAML stream into kind/name -> document.
func objects(t *testing.T, manifests string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	for {
		doc, err := r.Read()
		if err != nil {
			break
		}
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil || meta.Kind == "" {
			continue
		}
		out[meta.Kind+"/"+meta.Metadata.Name] = doc
	}
	return out
}

func ensureNamespace(t *testing.T, name string) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_ = env.Client.Create(context.Background(), ns)
}

func TestHelmChart(t *testing.T) {
	g := NewWithT(t)
	ensureNamespace(t, "gastown-system")
	helm(t, "lint", "--strict", "charts/gastown-operator")
	helm(t, append([]string{"lint", "--strict", "charts/gastown-operator"}, openShift...)...)

	rendered := helm(t, "template", "gastown-operator", "charts/gastown-operator", "--namespace", "gastown-system")
	applyDryRun(t, rendered)
	objs := objects(t, rendered)

	var deploy appsv1.Deployment
	g.Expect(yaml.Unmarshal(objs["Deployment/gastown-operator"], &deploy)).To(Succeed(),
		"the seed README's `kubectl logs -f deployment/gastown-operator -n gastown-system` needs this name")
	g.Expect(deploy.Namespace).To(Equal("gastown-system"))
	c := deploy.Spec.Template.Spec.Containers[0]
	// The chart's images are the ones make images tags and the operator
	// defaults to: one version for all.
	g.Expect(c.Image).To(Equal(version.Image("gastown-operator")))
	g.Expect(c.Args).To(ContainElements("--enable-leader-election=true", "--runner-image="+polecat.DefaultRunnerImage))
	g.Expect(*c.SecurityContext.RunAsUser).To(BeEquivalentTo(65532))
	g.Expect(*c.SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
	g.Expect(c.SecurityContext.Capabilities.Drop).To(ContainElement(corev1.Capability("ALL")))

	var role rbacv1.ClusterRole
	g.Expect(yaml.Unmarshal(objs["ClusterRole/gastown-operator-manager"], &role)).To(Succeed())
	var generated rbacv1.ClusterRole
	b, err := os.ReadFile(filepath.Join(root(t), "config", "rbac", "role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(yaml.Unmarshal(b, &generated)).To(Succeed())
	g.Expect(role.Rules).To(Equal(generated.Rules), "the chart's rules are the generated ones")

	// The seed README's OpenShift command: OpenShift assigns the user.
	rendered = helm(t, append([]string{"template", "gastown-operator", "charts/gastown-operator", "--namespace", "gastown-system"}, openShift...)...)
	applyDryRun(t, rendered)
	var openShiftDeploy appsv1.Deployment
	g.Expect(yaml.Unmarshal(objects(t, rendered)["Deployment/gastown-operator"], &openShiftDeploy)).To(Succeed())
	sc := openShiftDeploy.Spec.Template.Spec.Containers[0].SecurityContext
	g.Expect(sc.RunAsUser).To(BeNil())
	g.Expect(*sc.RunAsNonRoot).To(BeTrue())
	g.Expect(*sc.AllowPrivilegeEscalation).To(BeFalse())

	// The chart's CRDs are the generated ones.
	for _, crd := range []string{"rigs", "beadstores", "beads", "convoys", "polecats", "witnesses", "refineries", "mergerequests"} {
		name := "gastown.gastown.io_" + crd + ".yaml"
		inChart, err := os.ReadFile(filepath.Join(root(t), "charts", "gastown-operator", "crds", name))
		g.Expect(err).NotTo(HaveOccurred())
		generated, err := os.ReadFile(filepath.Join(root(t), "config", "crd", "bases", name))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(inChart).To(Equal(generated), name)
	}
}

func TestKustomizeDefault(t *testing.T) {
	g := NewWithT(t)
	assets, err := testenv.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	rendered := run(t, filepath.Join(assets, "kubectl"), "kustomize", "config/default")
	applyDryRun(t, rendered)
	objs := objects(t, rendered)
	for _, key := range []string{"Namespace/gastown-system", "Deployment/gastown-operator", "ServiceAccount/gastown-operator",
		"ClusterRole/gastown-operator-manager", "ClusterRoleBinding/gastown-operator-manager", "CustomResourceDefinition/polecats.gastown.gastown.io"} {
		g.Expect(objs).To(HaveKey(key))
	}
}

func root(t *testing.T) string {
	r, err := testenv.ProjectRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// networkPolicies decodes the NetworkPolicies of a YAML stream.
func networkPolicies(t *testing.T, manifests string) []networkingv1.NetworkPolicy {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	for {
		doc, err := r.Read()
		if err != nil {
			break
		}
		var np networkingv1.NetworkPolicy
		if err := yaml.Unmarshal(doc, &np); err != nil {
			t.Fatalf("decoding %s: %v", doc, err)
		}
		if np.Kind == "NetworkPolicy" {
			out = append(out, np)
		}
	}
	return out
}

// polecatPods are pods as the operator builds them for polecats: for a
// bead, for a bare task, and for a rig whose pod template sets labels of
// its own.
func polecatPods(t *testing.T, namespace string) []*corev1.Pod {
	t.Helper()
	rig := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: "templated"},
		Spec: gastownv1.RigSpec{
			GitURL: "https://github.com/org/repo.git",
			Kubernetes: gastownv1.RigKubernetes{PodTemplate: &gastownv1.PolecatPodTemplate{
				Labels: map[string]string{gastownv1.ManagedByLabel: "someone-else", "team": "b"},
			}},
		},
	}
	cases := []struct {
		pc  *gastownv1.Polecat
		rig *gastownv1.Rig
	}{
		{pc: &gastownv1.Polecat{
			ObjectMeta: metav1.ObjectMeta{Name: "for-bead", Namespace: namespace, UID: "uid-1"},
			Spec: gastownv1.PolecatSpec{Rig: "my-project", BeadID: "gt-1", TaskDescription: "Fix it.",
				Kubernetes: &gastownv1.PolecatKubernetes{GitRepository: "git@github.com:org/repo.git", GitBranch: "main"}},
		}},
		{pc: &gastownv1.Polecat{
			ObjectMeta: metav1.ObjectMeta{Name: "bare-task", Namespace: namespace, UID: "uid-2"},
			Spec: gastownv1.PolecatSpec{Rig: "my-project", TaskDescription: "Fix the typo.",
				Kubernetes: &gastownv1.PolecatKubernetes{GitRepository: "https://github.com/org/repo.git"}},
		}},
		{pc: &gastownv1.Polecat{
			ObjectMeta: metav1.ObjectMeta{Name: "templated", Namespace: namespace, UID: "uid-3"},
			Spec:       gastownv1.PolecatSpec{Rig: "templated", TaskDescription: "Fix it."},
		}, rig: rig},
	}
	var pods []*corev1.Pod
	for _, c := range cases {
		s, err := polecat.Resolve(c.pc, nil, c.rig, polecat.Defaults{RunnerImage: polecat.DefaultRunnerImage})
		if err != nil {
			t.Fatal(err)
		}
		pod, err := polecat.BuildPod(c.pc, s)
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, pod)
	}
	return pods
}

// TestHelmChartNetworkPolicy: with networkPolicy.enabled the chart renders
// a NetworkPolicy in each workers namespace that selects exactly the pods
// the operator builds for polecats, allows no ingress, and allows egress
// only to DNS (port 53, UDP and TCP, to kube-dns) and to the given peers;
// the API server stores it. By default the chart renders none.
func TestHelmChartNetworkPolicy(t *testing.T) {
	g := NewWithT(t)
	ensureNamespace(t, "gastown-system")
	template := []string{"template", "gastown-operator", "charts/gastown-operator", "--namespace", "gastown-system"}

	g.Expect(networkPolicies(t, helm(t, template...))).To(BeEmpty(), "off by default")

	// Both namespaces exist before the install, as values.yaml says.
	ensureNamespace(t, gastownv1.DefaultWorkersNamespace)
	other := env.Namespace(t)
	values := filepath.Join(t.TempDir(), "values.yaml")
	g.Expect(os.WriteFile(values, []byte(`
networkPolicy:
  enabled: true
  namespaces: [`+gastownv1.DefaultWorkersNamespace+`, `+other+`]
  egress:
    - to:
        - ipBlock: {cidr: 140.82.112.0/20}
      ports:
        - {port: 22, protocol: TCP}
        - {port: 443, protocol: TCP}
    - to:
        - ipBlock: {cidr: 160.79.104.0/23}
      ports:
        - {port: 443, protocol: TCP}
`), 0o600)).To(Succeed())
	args := append(append([]string{}, template...), "-f", values)
	helm(t, "lint", "--strict", "charts/gastown-operator", "-f", values)
	rendered := helm(t, args...)
	applyDryRun(t, rendered)

	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p int, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(int32(p))
		return networkingv1.NetworkPolicyPort{Port: &v, Protocol: proto}
	}
	wantEgress := []networkingv1.NetworkPolicyEgressRule{
		{
			Ports: []networkingv1.NetworkPolicyPort{port(53, &udp), port(53, &tcp)},
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			}},
		},
		{
			Ports: []networkingv1.NetworkPolicyPort{port(22, &tcp), port(443, &tcp)},
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "140.82.112.0/20"}}},
		},
		{
			Ports: []networkingv1.NetworkPolicyPort{port(443, &tcp)},
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "160.79.104.0/23"}}},
		},
	}

	var deploy appsv1.Deployment
	g.Expect(yaml.Unmarshal(objects(t, rendered)["Deployment/gastown-operator"], &deploy)).To(Succeed())
	others := map[string]labels.Set{
		"the manager": deploy.Spec.Template.Labels,
		"another pod": {"app": "web"},
		"a pod with a polecat label the operator did not make": {gastownv1.ManagedByLabel: "Helm", gastownv1.PolecatLabel: "x"},
	}

	policies := networkPolicies(t, rendered)
	g.Expect(policies).To(HaveLen(2))
	var namespaces []string
	for _, np := range policies {
		namespaces = append(namespaces, np.Namespace)
		g.Expect(np.Name).To(Equal("gastown-operator-polecats"))

		selector, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		g.Expect(err).NotTo(HaveOccurred())
		for _, pod := range polecatPods(t, np.Namespace) {
			g.Expect(selector.Matches(labels.Set(pod.Labels))).To(BeTrue(),
				"the policy selects polecat pod %s with labels %v", pod.Name, pod.Labels)
		}
		for what, l := range others {
			g.Expect(selector.Matches(l)).To(BeFalse(), "the policy selects %s (%v)", what, l)
		}

		// No ingress rule under policyType Ingress: no ingress at all.
		g.Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
		g.Expect(np.Spec.Ingress).To(BeEmpty())
		// Egress: DNS and the given peers, nothing else; no rule open to
		// every port or every destination.
		g.Expect(np.Spec.Egress).To(Equal(wantEgress))
		for _, rule := range np.Spec.Egress {
			g.Expect(rule.To).NotTo(BeEmpty())
			g.Expect(rule.Ports).NotTo(BeEmpty())
		}
	}
	g.Expect(namespaces).To(ConsistOf(gastownv1.DefaultWorkersNamespace, other))

	// Applied for real, the API server keeps the policies as rendered.
	only := helm(t, append(args, "--show-only", "templates/networkpolicy.yaml")...)
	file := filepath.Join(t.TempDir(), "networkpolicy.yaml")
	g.Expect(os.WriteFile(file, []byte(only), 0o600)).To(Succeed())
	_, err := env.Kubectl("apply", "-f", file)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _, _ = env.Kubectl("delete", "--ignore-not-found", "-f", file) })
	for _, np := range policies {
		var stored networkingv1.NetworkPolicy
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(&np), &stored)).To(Succeed())
		g.Expect(stored.Spec.PodSelector).To(Equal(np.Spec.PodSelector))
		g.Expect(stored.Spec.PolicyTypes).To(Equal(np.Spec.PolicyTypes))
		g.Expect(stored.Spec.Ingress).To(BeEmpty())
		g.Expect(stored.Spec.Egress).To(Equal(wantEgress))
	}

	// Enabled without egress, polecats could not clone: the chart refuses.
	path, err := testenv.HelmPath()
	g.Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(path, append(template, "--set", "networkPolicy.enabled=true")...)
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	g.Expect(err).To(HaveOccurred())
	g.Expect(string(out)).To(ContainSubstring("networkPolicy.egress is empty"))
}

// serviceMonitor is the part of a monitoring.coreos.com/v1 ServiceMonitor
// the chart sets. Its CRD is not on the test API server: render only.
type serviceMonitor struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port, Path, Interval, ScrapeTimeout string
		} `json:"endpoints"`
	} `json:"spec"`
}

// TestHelmChartServiceMonitor: serviceMonitor.enabled renders a
// ServiceMonitor that selects the metrics Service (and no other Service of
// the chart) and scrapes its metrics port at the interval given, with the
// labels given; by default the chart renders none, and it refuses one
// without the metrics Service.
func TestHelmChartServiceMonitor(t *testing.T) {
	g := NewWithT(t)
	template := []string{"template", "gastown-operator", "charts/gastown-operator", "--namespace", "gastown-system"}
	for key := range objects(t, helm(t, template...)) {
		g.Expect(key).NotTo(HavePrefix("ServiceMonitor/"), "off by default")
	}

	on := append(append([]string{}, template...),
		"--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.interval=15s", "--set", "webhook.enabled=true",
		"--set-string", "serviceMonitor.labels.release=kube-prometheus-stack")
	helm(t, append([]string{"lint", "--strict", "charts/gastown-operator"}, on[len(template):]...)...)
	objs := objects(t, helm(t, on...))
	var sm serviceMonitor
	g.Expect(yaml.Unmarshal(objs["ServiceMonitor/gastown-operator"], &sm)).To(Succeed(), "a ServiceMonitor in %v", keys(objs))
	g.Expect(sm.Metadata.Namespace).To(Equal("gastown-system"))
	g.Expect(sm.Metadata.Labels).To(HaveKeyWithValue("release", "kube-prometheus-stack"))
	g.Expect(sm.Spec.NamespaceSelector.MatchNames).To(Equal([]string{"gastown-system"}))
	selector, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(selector.Empty()).To(BeFalse())

	var selected []corev1.Service
	for key, doc := range objs {
		if !strings.HasPrefix(key, "Service/") {
			continue
		}
		var svc corev1.Service
		g.Expect(yaml.Unmarshal(doc, &svc)).To(Succeed())
		if selector.Matches(labels.Set(svc.Labels)) {
			selected = append(selected, svc)
		}
	}
	g.Expect(selected).To(HaveLen(1), "the ServiceMonitor selects exactly one Service")
	svc := selected[0]
	g.Expect(svc.Name).To(Equal("gastown-operator-metrics"))
	g.Expect(sm.Spec.Endpoints).To(HaveLen(1))
	ep := sm.Spec.Endpoints[0]
	g.Expect(ep.Path).To(Equal("/metrics"))
	g.Expect(ep.Interval).To(Equal("15s"))
	g.Expect(svc.Spec.Ports).To(ContainElement(HaveField("Name", ep.Port)), "the endpoint names a port of the Service")

	// Without the metrics Service there is nothing to monitor.
	path, err := testenv.HelmPath()
	g.Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(path, append(on, "--set", "metrics.service=false")...)
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	g.Expect(err).To(HaveOccurred())
	g.Expect(string(out)).To(ContainSubstring("serviceMonitor.enabled needs metrics.service"))
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestHelmChartWebhook: webhook.enabled serves --webhook-addr on the
// webhook port, behind a Service and, with webhook.ingress.enabled, an
// Ingress that routes /hooks/github/ to it; by default none of it.
func TestHelmChartWebhook(t *testing.T) {
	g := NewWithT(t)
	template := []string{"template", "gastown-operator", "charts/gastown-operator", "--namespace", "gastown-system"}
	objs := objects(t, helm(t, template...))
	g.Expect(objs).NotTo(HaveKey("Service/gastown-operator-webhook"))
	g.Expect(objs).NotTo(HaveKey("Ingress/gastown-operator-webhook"))
	g.Expect(string(objs["Deployment/gastown-operator"])).NotTo(ContainSubstring("--webhook-addr"))

	on := append(append([]string{}, template...), "--set", "webhook.enabled=true", "--set", "webhook.ingress.enabled=true",
		"--set", "webhook.ingress.host=hooks.example.com")
	helm(t, append([]string{"lint", "--strict", "charts/gastown-operator"}, on[len(template):]...)...)
	objs = objects(t, helm(t, on...))
	var dep appsv1.Deployment
	g.Expect(yaml.Unmarshal(objs["Deployment/gastown-operator"], &dep)).To(Succeed())
	c := dep.Spec.Template.Spec.Containers[0]
	g.Expect(c.Args).To(ContainElement("--webhook-addr=:9292"))
	g.Expect(c.Ports).To(ContainElement(And(HaveField("Name", "http-webhook"), HaveField("ContainerPort", int32(9292)))))
	var svc corev1.Service
	g.Expect(yaml.Unmarshal(objs["Service/gastown-operator-webhook"], &svc)).To(Succeed(), "a webhook Service in %v", keys(objs))
	g.Expect(svc.Spec.Ports).To(ConsistOf(HaveField("TargetPort.StrVal", "http-webhook")))
	var ing networkingv1.Ingress
	g.Expect(yaml.Unmarshal(objs["Ingress/gastown-operator-webhook"], &ing)).To(Succeed())
	g.Expect(ing.Spec.Rules).To(HaveLen(1))
	g.Expect(ing.Spec.Rules[0].Host).To(Equal("hooks.example.com"))
	path := ing.Spec.Rules[0].HTTP.Paths[0]
	g.Expect(path.Path).To(Equal("/hooks/github/"))
	g.Expect(path.Backend.Service.Name).To(Equal(svc.Name))
	g.Expect(path.Backend.Service.Port.Name).To(Equal("http-webhook"))
}
