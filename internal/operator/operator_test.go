package operator_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"

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

func TestPhaseGaugesComeFromTheLeaderOnly(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	bead := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-a", Namespace: ns},
		Spec: gastownv1.BeadSpec{Title: "A bead", RigRef: "gauges"}}
	if err := env.Client.Create(ctx, bead); err != nil {
		t.Fatal(err)
	}
	type replica struct {
		mgr     manager.Manager
		metrics string
		stop    context.CancelFunc
		stopped chan error
	}
	start := func() replica {
		opts := operator.DefaultOptions()
		opts.MetricsAddr, opts.HealthAddr = freeAddr(t), freeAddr(t)
		opts.Namespace = ns
		opts.SkipNameValidation = true
		opts.LeaderElection.Enable, opts.LeaderElection.ReleaseOnCancel = true, true
		opts.LeaderElection.LeaseDuration, opts.LeaderElection.RenewDeadline, opts.LeaderElection.RetryPeriod = 4*time.Second, 2*time.Second, 500*time.Millisecond
		mgr, err := operator.New(env.Config, opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(ctx)
		r := replica{mgr, "http://" + opts.MetricsAddr + "/metrics", cancel, make(chan error, 1)}
		go func() { r.stopped <- mgr.Start(ctx) }()
		return r
	}
	elected := func(r replica) {
		t.Helper()
		select {
		case <-r.mgr.Elected():
		case <-time.After(30 * time.Second):
			t.Fatal("no replica was elected leader")
		}
	}
	series := `gastown_beads{namespace="` + ns + `"`

	first := start()
	elected(first)
	// The second replica's gauges are the process's (one registry a
	// process), and it is not the leader: it reports no bead.
	second := start()
	waitFor(t, func() error {
		code, body, err := get(second.metrics)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("/metrics: %d %v", code, err)
		}
		if !strings.Contains(body, "leader_election_master_status") {
			return fmt.Errorf("no leader election metric yet")
		}
		if strings.Contains(body, series) {
			t.Fatalf("a replica that is not the leader reports %s", series)
		}
		return nil
	})

	// The leader goes; the second takes over and reports the bead.
	first.stop()
	if err := <-first.stopped; err != nil {
		t.Fatal(err)
	}
	elected(second)
	waitFor(t, func() error {
		_, body, err := get(second.metrics)
		if err != nil {
			return err
		}
		if !strings.Contains(body, series) {
			return fmt.Errorf("the leader does not report %s", series)
		}
		return nil
	})

	// The counts follow the beads as the leader's cache sees them: one
	// more, then one deleted, each in its phase once.
	beads := func() (float64, error) {
		_, body, err := get(second.metrics)
		if err != nil {
			return 0, err
		}
		return sumSeries(body, series)
	}
	expectBeads := func(want float64) {
		t.Helper()
		waitFor(t, func() error {
			got, err := beads()
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("gastown_beads of %s: %v, want %v", ns, got, want)
			}
			return nil
		})
	}
	expectBeads(1)
	other := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-b", Namespace: ns},
		Spec: gastownv1.BeadSpec{Title: "Another bead", RigRef: "gauges"}}
	if err := env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	expectBeads(2)
	if err := env.Client.Delete(ctx, bead); err != nil {
		t.Fatal(err)
	}
	expectBeads(1)
	second.stop()
	if err := <-second.stopped; err != nil {
		t.Fatal(err)
	}
}

// sumSeries adds up the values of the series of a /metrics body that start
// with prefix (a metric's name and its first labels).
func sumSeries(body, prefix string) (float64, error) {
	var sum float64
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", line, err)
		}
		sum += v
	}
	return sum, nil
}
