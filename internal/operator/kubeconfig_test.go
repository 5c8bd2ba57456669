package operator_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"

	"github.com/boshu2/gastown-operator/internal/operator"
)

func TestClientFlagsAreFluxs(t *testing.T) {
	fs := pflag.NewFlagSet("manager", pflag.ContinueOnError)
	var o operator.ClientOptions
	o.BindFlags(fs)
	if o.QPS != 50 || o.Burst != 300 {
		t.Fatalf("defaults %v/%d, want Flux's 50/300", o.QPS, o.Burst)
	}
	if err := fs.Parse([]string{"--kube-api-qps=20", "--kube-api-burst=40"}); err != nil {
		t.Fatal(err)
	}
	if o.QPS != 20 || o.Burst != 40 {
		t.Fatalf("parsed %v/%d, want 20/40", o.QPS, o.Burst)
	}
}

func TestRESTConfigLeavesRateLimitingToPriorityAndFairness(t *testing.T) {
	o := operator.ClientOptions{QPS: 20, Burst: 40}

	// A real apiserver has API Priority and Fairness: no client limiter.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	if c := operator.RESTConfig(o); c.QPS != -1 || c.Burst != -1 {
		t.Errorf("with Priority and Fairness: QPS %v, burst %d; want -1, -1", c.QPS, c.Burst)
	}

	// A server without it (no X-Kubernetes-PF-* headers) gets the flags'.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer plain.Close()
	config := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: " + plain.URL + "}}]\n" +
		"users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n"
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := operator.RESTConfig(o); c.QPS != 20 || c.Burst != 40 {
		t.Errorf("without Priority and Fairness: QPS %v, burst %d; want 20, 40", c.QPS, c.Burst)
	}
}
