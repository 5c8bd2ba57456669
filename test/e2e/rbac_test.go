package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/operator"
	"github.com/boshu2/gastown-operator/internal/scheme"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// The chart's release, as the README installs it.
const (
	releaseName      = "gastown-operator"
	releaseNamespace = "gastown-system"
)

// TestLeastPrivilege runs the whole loop of one bead with the operator
// talking to the API server as the chart's service account, with exactly
// the RBAC the chart renders: the default ClusterRole, and the namespaced
// mode's Roles in the workers and source namespaces plus its small
// ClusterRole. The manager reads the Refinery's GitHub token and the
// polecat's secrets with a GET each; it may not list or watch Secrets.
func TestLeastPrivilege(t *testing.T) {
	for _, mode := range []struct {
		name       string
		namespaced bool
	}{
		{"default ClusterRole", false},
		{"namespaced Roles", true},
	} {
		t.Run(mode.name, func(t *testing.T) { leastPrivilegeLoop(t, mode.namespaced) })
	}
}

func leastPrivilegeLoop(t *testing.T, namespaced bool) {
	g := NewWithT(t)
	ctx := context.Background()
	var values []string
	if namespaced {
		values = []string{"--set", "rbac.namespaced=true",
			"--set", "rbac.workersNamespaces={" + devenv.WorkersNamespace + "}",
			"--set", "rbac.sourceNamespaces={" + devenv.FluxNamespace + "}"}
	}
	var operatorClient client.Client
	env := startEnv(t, devenv.Options{
		Beads: map[string]string{},
		Operator: func(o *operator.Options) {
			// As the chart runs it: leader election in the release namespace,
			// and in namespaced mode the flags the chart passes.
			o.LeaderElection.Enable = true
			o.Namespace = releaseNamespace
			if namespaced {
				o.WatchAllNamespaces = false
				o.WatchNamespaces = []string{devenv.WorkersNamespace}
				o.SourceNamespaces = []string{devenv.FluxNamespace}
			}
		},
		OperatorConfig: func(ctx context.Context, env *devenv.Env) (*rest.Config, error) {
			cfg, err := asChartServiceAccount(ctx, t, env, values, namespaced)
			if err == nil {
				operatorClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
			}
			return cfg, err
		},
	})

	// The operator is not admin: it may get a secret it knows the name of,
	// but not list them, nor read one outside the workers namespace in
	// namespaced mode.
	token := &corev1.Secret{}
	g.Expect(operatorClient.Get(ctx, client.ObjectKey{Namespace: devenv.WorkersNamespace, Name: devenv.GitHubTokenSecret}, token)).To(Succeed())
	err := operatorClient.List(ctx, &corev1.SecretList{}, client.InNamespace(devenv.WorkersNamespace))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "listing secrets: %v", err)
	if namespaced {
		fluxSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "flux-git", Namespace: devenv.FluxNamespace}}
		g.Expect(env.Client.Create(ctx, fluxSecret)).To(Succeed())
		err = operatorClient.Get(ctx, client.ObjectKeyFromObject(fluxSecret), &corev1.Secret{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "getting a secret in %s: %v", devenv.FluxNamespace, err)
	}

	// The manager took the leader election lease in the release namespace
	// with the chart's leader election Role.
	g.Eventually(func(g Gomega) {
		leases := &coordinationv1.LeaseList{}
		g.Expect(env.Client.List(ctx, leases, client.InNamespace(releaseNamespace))).To(Succeed())
		g.Expect(leases.Items).To(HaveLen(1))
		g.Expect(leases.Items[0].Spec.HolderIdentity).NotTo(BeNil())
	}, timeout, poll).Should(Succeed())

	const bead = "gt-rbac"
	if _, err := env.Push("Add a bead", map[string]string{devenv.BeadsDir + "/rbac.yaml": `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: ` + bead + `
spec:
  title: Add a note on least privilege
  description: Write changes/gt-rbac.md.
`}); err != nil {
		t.Fatal(err)
	}
	reconcileSource(t, env)
	// merge waits for the pull request the Refinery opened with the token
	// it read, and for the Refinery to see it merged.
	merge(t, env, bead)
	reconcileSource(t, env)
	g.Eventually(func(g Gomega) {
		g.Expect(phase(g, env.Client, devenv.WorkersNamespace, bead)).To(Equal(gastownv1.BeadPhaseClosed))
	}, timeout, poll).Should(Succeed())

	log, err := os.ReadFile(env.OperatorLog)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.ToLower(string(log))).NotTo(ContainSubstring("forbidden"),
		"the operator was refused a request: its RBAC misses a rule")
}

// asChartServiceAccount renders the chart's RBAC and service account with
// helm template, checks the rules, applies them and returns the env's
// configuration impersonating that service account.
func asChartServiceAccount(ctx context.Context, t *testing.T, env *devenv.Env, values []string, namespaced bool) (*rest.Config, error) {
	helm, err := testenv.HelmPath()
	if err != nil {
		return nil, err
	}
	root, err := testenv.ProjectRoot()
	if err != nil {
		return nil, err
	}
	args := append([]string{"template", releaseName, filepath.Join(root, "charts", "gastown-operator"),
		"--namespace", releaseNamespace,
		"--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml"}, values...)
	cmd := exec.CommandContext(ctx, helm, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	rendered, err := cmd.Output()
	if err != nil {
		return nil, errors.New("helm " + strings.Join(args, " ") + ": " + err.Error() + ": " + stderr.String())
	}
	checkRules(t, rendered, namespaced)

	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}}); err != nil {
		return nil, err
	}
	file := filepath.Join(env.Dir, "rbac.yaml")
	if err := os.WriteFile(file, rendered, 0o600); err != nil {
		return nil, err
	}
	if _, err := env.Kubectl(ctx, "apply", "-f", file); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + releaseNamespace + ":" + releaseName,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
	}
	return cfg, nil
}

// checkRules holds the chart's roles to least privilege: no wildcard, no
// list or watch of Secrets, and in namespaced mode no Secret in a
// ClusterRole, and Roles only in the namespaces the values name.
func checkRules(t *testing.T, rendered []byte, namespaced bool) {
	t.Helper()
	g := NewWithT(t)
	type role struct {
		Kind     string              `json:"kind"`
		Metadata metav1.ObjectMeta   `json:"metadata"`
		Rules    []rbacv1.PolicyRule `json:"rules"`
	}
	var roles []role
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		g.Expect(err).NotTo(HaveOccurred())
		var r role
		g.Expect(yaml.Unmarshal(doc, &r)).To(Succeed())
		if r.Kind == "ClusterRole" || r.Kind == "Role" {
			roles = append(roles, r)
		}
	}
	var namespaces []string
	for _, r := range roles {
		name := r.Kind + " " + r.Metadata.Namespace + "/" + r.Metadata.Name
		if r.Kind == "Role" {
			namespaces = append(namespaces, r.Metadata.Namespace)
		}
		for _, rule := range r.Rules {
			for _, field := range [][]string{rule.Verbs, rule.Resources, rule.APIGroups} {
				g.Expect(field).NotTo(ContainElement("*"), "%s: %+v", name, rule)
			}
			if !slices.Contains(rule.Resources, "secrets") {
				continue
			}
			g.Expect(rule.Verbs).To(Equal([]string{"get"}), "%s: secrets", name)
			if namespaced {
				g.Expect(r.Kind).To(Equal("Role"), "%s grants secrets", name)
				g.Expect(r.Metadata.Namespace).To(Equal(devenv.WorkersNamespace), "%s grants secrets", name)
			}
		}
	}
	if namespaced {
		g.Expect(namespaces).To(ConsistOf(devenv.WorkersNamespace, devenv.FluxNamespace, releaseNamespace))
	} else {
		g.Expect(namespaces).To(ConsistOf(releaseNamespace))
	}
}
