package install

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/boshu2/gastown-operator/internal/testenv"
)

// The namespaced install: two workers namespaces and Flux's namespace for
// the GitRepositories.
var namespacedRBAC = []string{
	"--set", "rbac.namespaced=true",
	"--set", "rbac.workersNamespaces={gastown-workers,team-b}",
	"--set", "rbac.sourceNamespaces={flux-system}",
}

// rbacObject is a rendered ClusterRole, Role or Deployment, kept whole.
type rbacObject struct {
	Kind     string              `json:"kind"`
	Metadata metav1.ObjectMeta   `json:"metadata"`
	Rules    []rbacv1.PolicyRule `json:"rules"`
	doc      []byte
}

func rbacObjects(t *testing.T, manifests string) []rbacObject {
	t.Helper()
	var out []rbacObject
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	for {
		doc, err := r.Read()
		if err != nil {
			break
		}
		var o rbacObject
		if err := yaml.Unmarshal(doc, &o); err != nil || o.Kind == "" {
			continue
		}
		o.doc = doc
		out = append(out, o)
	}
	return out
}

// grants says whether rules allow verb on group/resource.
func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func managerArgs(t *testing.T, objs []rbacObject) []string {
	t.Helper()
	for _, o := range objs {
		if o.Kind == "Deployment" {
			var d appsv1.Deployment
			if err := yaml.Unmarshal(o.doc, &d); err != nil {
				t.Fatal(err)
			}
			return d.Spec.Template.Spec.Containers[0].Args
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

// TestHelmChartRBAC checks both RBAC modes of the chart: the default is one
// ClusterRole with secrets get only; the namespaced mode splits the same
// generated rules into Roles per workers namespace and a ClusterRole with
// only the cluster-scoped ones, and makes the manager watch those
// namespaces. test/e2e's TestLeastPrivilege runs the manager with both.
func TestHelmChartRBAC(t *testing.T) {
	g := NewWithT(t)
	for _, ns := range []string{"gastown-system", "gastown-workers", "team-b", "flux-system"} {
		ensureNamespace(t, ns)
	}
	var generated rbacv1.ClusterRole
	b, err := os.ReadFile(filepath.Join(root(t), "config", "rbac", "role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(yaml.Unmarshal(b, &generated)).To(Succeed())
	for _, r := range generated.Rules {
		if slices.Contains(r.Resources, "secrets") {
			g.Expect(r.Verbs).To(Equal([]string{"get"}), "the operator reads secrets by name only")
		}
		g.Expect(r.Verbs).NotTo(ContainElement("*"))
	}

	// Default: the generated ClusterRole and the leader election Role; the
	// manager watches all namespaces.
	objs := rbacObjects(t, helm(t, "template", "gastown-operator", "charts/gastown-operator", "--namespace", "gastown-system"))
	var roles []string
	for _, o := range objs {
		if o.Kind == "Role" || o.Kind == "RoleBinding" {
			roles = append(roles, o.Kind+" "+o.Metadata.Namespace+"/"+o.Metadata.Name)
		}
	}
	g.Expect(roles).To(ConsistOf("Role gastown-system/gastown-operator-leader-election", "RoleBinding gastown-system/gastown-operator-leader-election"),
		"the default install makes nothing in the workers namespace, which the README creates after it")
	args := managerArgs(t, objs)
	g.Expect(args).To(ContainElement("--watch-all-namespaces=true"))
	g.Expect(strings.Join(args, " ")).NotTo(ContainSubstring("--watch-namespaces"))

	// Namespaced.
	helm(t, append([]string{"lint", "--strict", "charts/gastown-operator"}, namespacedRBAC...)...)
	rendered := helm(t, append([]string{"template", "gastown-operator", "charts/gastown-operator", "--namespace", "gastown-system"}, namespacedRBAC...)...)
	applyDryRun(t, rendered)
	objs = rbacObjects(t, rendered)
	args = managerArgs(t, objs)
	g.Expect(args).To(ContainElements("--watch-all-namespaces=false", "--watch-namespaces=gastown-workers,team-b", "--source-namespaces=flux-system"))

	var cluster []rbacv1.PolicyRule
	workers := map[string][]rbacv1.PolicyRule{}
	roles = nil
	for _, o := range objs {
		switch o.Kind {
		case "ClusterRole":
			cluster = append(cluster, o.Rules...)
		case "Role":
			roles = append(roles, o.Metadata.Namespace+"/"+o.Metadata.Name)
			if o.Metadata.Name == "gastown-operator-manager" {
				workers[o.Metadata.Namespace] = o.Rules
			}
		}
		for _, r := range o.Rules {
			g.Expect(r.Verbs).NotTo(ContainElement("*"), "%s %s", o.Kind, o.Metadata.Name)
			g.Expect(r.Resources).NotTo(ContainElement("*"), "%s %s", o.Kind, o.Metadata.Name)
			if slices.Contains(r.Resources, "secrets") {
				g.Expect(o.Kind).To(Equal("Role"), "only the workers' Roles may grant secrets")
				g.Expect(r.Verbs).To(Equal([]string{"get"}))
			}
		}
	}
	g.Expect(roles).To(ConsistOf("gastown-workers/gastown-operator-manager", "team-b/gastown-operator-manager",
		"flux-system/gastown-operator-sources", "gastown-system/gastown-operator-leader-election"))
	for _, r := range cluster {
		for _, res := range r.Resources {
			g.Expect(res).To(BeElementOf("rigs", "rigs/status", "rigs/finalizers", "namespaces", "events"),
				"the namespaced mode's ClusterRole holds only what is cluster-scoped")
		}
	}
	// The split loses no generated rule: each is in the ClusterRole or in
	// every workers namespace's Role.
	for _, r := range generated.Rules {
		for _, res := range r.Resources {
			for _, verb := range r.Verbs {
				if grants(cluster, r.APIGroups[0], res, verb) {
					continue
				}
				for ns, rules := range workers {
					g.Expect(grants(rules, r.APIGroups[0], res, verb)).To(BeTrue(), "%s %s/%s in %s", verb, r.APIGroups[0], res, ns)
				}
			}
		}
	}
	for _, o := range objs {
		if o.Kind == "Role" && o.Metadata.Name == "gastown-operator-sources" {
			g.Expect(o.Rules).To(HaveLen(1))
			g.Expect(o.Rules[0].Resources).To(Equal([]string{"gitrepositories"}))
			g.Expect(o.Rules[0].Verbs).To(ConsistOf("get", "list", "watch"))
		}
	}

	// The namespaced mode needs its namespaces.
	helmPath, err := testenv.HelmPath()
	g.Expect(err).NotTo(HaveOccurred())
	out, err := exec.Command(helmPath, "template", "gastown-operator", filepath.Join(root(t), "charts", "gastown-operator"),
		"--set", "rbac.namespaced=true", "--set", "rbac.workersNamespaces=null").CombinedOutput()
	g.Expect(err).To(HaveOccurred())
	g.Expect(string(out)).To(ContainSubstring("rbac.workersNamespaces"))
}
