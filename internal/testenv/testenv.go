// Package testenv starts a real kube-apiserver and etcd (built by
// hack/testbin.sh) with this project's CRDs and Flux's source CRDs, for tests
// that need an API server. It never skips: when the binaries are missing it
// fails and says how to build them.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/boshu2/gastown-operator/internal/scheme"
)

// Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client
	env    *envtest.Environment
}

// ProjectRoot returns the directory of the project's go.mod.
func ProjectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// CacheDir is where hack/testbin.sh puts what it builds.
func CacheDir() string {
	if d := os.Getenv("GASTOWN_TESTBIN"); d != "" {
		return d
	}
	return UserCacheDir("testbin")
}

// UserCacheDir is the directory sub of this project's cache, where
// hack/testbin.sh and hack/agent-clis.sh keep theirs:
// $XDG_CACHE_HOME/gastown-operator/sub, by default under ~/.cache. It is
// outside Go's build cache, so that `go clean -cache` does not lose it. With
// no home directory it is under the temporary directory instead.
func UserCacheDir(sub string) string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".cache")
		} else {
			base = os.TempDir()
		}
	}
	return filepath.Join(base, "gastown-operator", sub)
}

// newest returns the last match of a glob in the cache, by name.
func newest(pattern string) string {
	matches, _ := filepath.Glob(filepath.Join(CacheDir(), pattern))
	sort.Strings(matches)
	if len(matches) == 0 {
		return ""
	}
	return matches[len(matches)-1]
}

// AssetsDir returns the directory holding etcd, kube-apiserver and kubectl:
// $KUBEBUILDER_ASSETS, else the newest one hack/testbin.sh built.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = newest("k8s-*-etcd-*")
	}
	for _, bin := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if dir == "" {
			return "", missing(bin, CacheDir())
		}
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", missing(bin, dir)
		}
	}
	return dir, nil
}

// FluxCRDsDir returns the directory holding Flux's source CRDs.
func FluxCRDsDir() (string, error) {
	dir := os.Getenv("GASTOWN_FLUX_CRDS")
	if dir == "" {
		dir = newest("flux-crds-*")
	}
	if dir == "" {
		return "", missing("Flux source CRDs", CacheDir())
	}
	return dir, nil
}

// SourceControllerPath returns the source-controller binary hack/testbin.sh built.
func SourceControllerPath() (string, error) {
	if path := os.Getenv("GASTOWN_SOURCE_CONTROLLER"); path != "" {
		return path, nil
	}
	dir := newest("source-controller-*")
	if dir == "" {
		return "", missing("source-controller", CacheDir())
	}
	path := filepath.Join(dir, "source-controller")
	if _, err := os.Stat(path); err != nil {
		return "", missing("source-controller", dir)
	}
	return path, nil
}

// FluxCLIPath returns the flux CLI hack/testbin.sh built.
func FluxCLIPath() (string, error) {
	if path := os.Getenv("GASTOWN_FLUX"); path != "" {
		return path, nil
	}
	dir := newest("flux-cli-*")
	if dir == "" {
		return "", missing("the flux CLI", CacheDir())
	}
	path := filepath.Join(dir, "flux")
	if _, err := os.Stat(path); err != nil {
		return "", missing("the flux CLI", dir)
	}
	return path, nil
}

// HelmPath returns the helm binary hack/testbin.sh built.
func HelmPath() (string, error) {
	if path := os.Getenv("GASTOWN_HELM"); path != "" {
		return path, nil
	}
	dir := newest("helm-*")
	if dir == "" {
		return "", missing("helm", CacheDir())
	}
	return filepath.Join(dir, "helm"), nil
}

func missing(what, where string) error {
	return fmt.Errorf("%s not found in %s: build the test binaries with 'make testbin' "+
		"(hack/testbin.sh compiles them from the Go module proxy, about 10 minutes the first time)", what, where)
}

// Options change the control plane Start would start.
type Options struct {
	// WithoutProjectCRDs installs only Flux's source CRDs, as a cluster
	// with Flux has before the operator's chart brings its own.
	WithoutProjectCRDs bool
	// ServiceAccounts turns the ServiceAccount admission plugin back on
	// (envtest turns it off), so that pods get their service account and
	// its token volume as on a real cluster; for pods on a node whose
	// kube-controller-manager makes the namespaces' default accounts.
	ServiceAccounts bool
}

// Start starts etcd and kube-apiserver and installs the CRDs.
func Start() (*Env, error) { return StartWith(Options{}) }

// StartWith starts etcd and kube-apiserver as Options say.
func StartWith(o Options) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	fluxCRDs, err := FluxCRDsDir()
	if err != nil {
		return nil, err
	}
	root, err := ProjectRoot()
	if err != nil {
		return nil, err
	}
	crds := []string{fluxCRDs}
	if !o.WithoutProjectCRDs {
		crds = append(crds, filepath.Join(root, "config", "crd", "bases"))
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crds,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.Scheme,
	}
	if o.ServiceAccounts {
		env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, env: env}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// Kubectl runs kubectl against the control plane and returns its output.
func (e *Env) Kubectl(args ...string) (string, error) {
	stdout, stderr, err := e.env.ControlPlane.KubeCtl().Run(args...)
	out := ""
	if stdout != nil {
		b, _ := io.ReadAll(stdout)
		out = string(b)
	}
	if err != nil {
		msg := ""
		if stderr != nil {
			b, _ := io.ReadAll(stderr)
			msg = strings.TrimSpace(string(b))
		}
		return out, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// Kubeconfig writes a kubeconfig for the control plane to path.
func (e *Env) Kubeconfig(path string) error {
	user, err := e.env.ControlPlane.AddUser(envtest.User{Name: "gastown-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	b, err := user.KubeConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Main starts the control plane, runs setup (when not nil; for example to
// start a manager), runs the package's tests, then tears down and stops the
// control plane. It exits with status 1 when the control plane cannot start.
func Main(m *testing.M, env **Env, setup func(*Env) (teardown func(), err error)) {
	e, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the test control plane did not start: %v\n", err)
		os.Exit(1)
	}
	*env = e
	teardown := func() {}
	if setup != nil {
		if teardown, err = setup(e); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: test setup: %v\n", err)
			_ = e.Stop()
			os.Exit(1)
		}
	}
	code := m.Run()
	teardown()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the test control plane: %v\n", err)
	}
	os.Exit(code)
}

var nsCounter atomic.Int64

// Namespace creates a namespace for one test and deletes it when the test ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsCounter.Add(1), sanitize(t.Name()))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return name
}

// sanitize turns a test name into the tail of a DNS label.
func sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 40 {
		out = strings.TrimRight(out[:40], "-")
	}
	return out
}
