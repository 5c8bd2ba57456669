package operator_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/boshu2/gastown-operator/internal/operator"
	"github.com/boshu2/gastown-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, nil) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestManagerServesProbesAndMetricsAndStops(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gastown-system"}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}

	opts := operator.DefaultOptions()
	opts.MetricsAddr = freeAddr(t)
	opts.HealthAddr = freeAddr(t)
	opts.LeaderElection.Enable = true
	opts.Namespace = ns.Name
	mgr, err := operator.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()

	waitFor(t, func() error {
		for _, path := range []string{"/healthz", "/readyz"} {
			code, body, err := get("http://" + opts.HealthAddr + path)
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("%s: %d %s", path, code, body)
			}
		}
		return nil
	})
	// Leader election must have taken the lease before controllers run.
	select {
	case <-mgr.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("the manager was not elected leader")
	}
	waitFor(t, func() error {
		code, body, err := get("http://" + opts.MetricsAddr + "/metrics")
		if err != nil {
			return err
		}
		if code != http.StatusOK || !strings.Contains(body, "leader_election_master_status") {
			return fmt.Errorf("/metrics: %d, no leader election metric", code)
		}
		return nil
	})

	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("manager stopped with %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("manager did not stop after its context was cancelled")
	}
	if _, _, err := get("http://" + opts.HealthAddr + "/healthz"); err == nil {
		t.Error("health endpoint still serves after stop")
	}
}

func waitFor(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
