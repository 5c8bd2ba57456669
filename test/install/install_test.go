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
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

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
	for _, crd := range []string{"rigs", "beadstores", "beads", "convoys", "polecats", "witnesses", "refineries"} {
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
