package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestSeenSetForgetsOldest(t *testing.T) {
	s := newSeenSet(2)
	for _, step := range []struct {
		key   string
		first bool
	}{{"a", true}, {"a", false}, {"b", true}, {"c", true}, {"b", false}, {"a", true}} {
		if got := s.first(step.key); got != step.first {
			t.Errorf("first(%q) = %v, want %v", step.key, got, step.first)
		}
	}
}

func TestAgentResultCountsOncePerPolecat(t *testing.T) {
	rig := "rig-" + t.Name()
	AgentResult("uid-1", rig, "Pushed", "0.25", 1000, 200)
	AgentResult("uid-1", rig, "Pushed", "0.25", 1000, 200) // a re-reconcile
	AgentResult("uid-2", rig, "AgentFailed", "not a number", 10, 0)
	if got := value(t, agentCost.WithLabelValues(rig)); got != 0.25 {
		t.Errorf("cost = %v, want 0.25", got)
	}
	if got := value(t, agentTokens.WithLabelValues(rig, "input")); got != 1010 {
		t.Errorf("input tokens = %v, want 1010", got)
	}
	if got := value(t, agentTokens.WithLabelValues(rig, "output")); got != 200 {
		t.Errorf("output tokens = %v, want 200", got)
	}
	if got := value(t, polecatResults.WithLabelValues(rig, "Pushed")); got != 1 {
		t.Errorf("Pushed results = %v, want 1", got)
	}
}

func TestPullRequestCountsOncePerKey(t *testing.T) {
	rig := "rig-" + t.Name()
	PullRequest(rig, PullRequestOpened, "bead/1")
	PullRequest(rig, PullRequestOpened, "bead/1")
	PullRequest(rig, PullRequestMerged, "bead/1")
	PullRequest(rig, PullRequestRejected, "")
	PullRequest(rig, PullRequestRejected, "")
	for event, want := range map[string]float64{PullRequestOpened: 1, PullRequestMerged: 1, PullRequestRejected: 2} {
		if got := value(t, pullRequests.WithLabelValues(rig, event)); got != want {
			t.Errorf("%s = %v, want %v", event, got, want)
		}
	}
}

func TestDispatchLatencyOncePerPolecat(t *testing.T) {
	rig := "rig-" + t.Name()
	DispatchLatency("uid-a", rig, 3*time.Second)
	DispatchLatency("uid-a", rig, 9*time.Second)
	DispatchLatency("uid-b", rig, -time.Second) // clock skew: 0
	want := `
# HELP gastown_dispatch_latency_seconds Time from a bead becoming Ready (its status.readySince; a hand-made polecat: its creation) to its polecat's pod (or local process) running.
# TYPE gastown_dispatch_latency_seconds histogram
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="0.25"} 1
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="0.5"} 1
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="1"} 1
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="2"} 1
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="5"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="10"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="20"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="30"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="60"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="120"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="300"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="600"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="1800"} 2
gastown_dispatch_latency_seconds_bucket{rig="` + rig + `",le="+Inf"} 2
gastown_dispatch_latency_seconds_sum{rig="` + rig + `"} 3
gastown_dispatch_latency_seconds_count{rig="` + rig + `"} 2
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(dispatchLatency)
	if got := gather(t, reg); strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPhaseGaugesCountByPhase(t *testing.T) {
	c := &phaseCollector{desc: polecats.desc, phases: polecats.phases}
	counts := NewPhaseCounts()
	leader := true
	c.set(counts, func() bool { return leader })
	counts.Set("w1/a", Counted{"w1", "demo", string(gastownv1.PolecatPhasePending)})
	counts.Set("w1/b", Counted{"w1", "demo", string(gastownv1.PolecatPhaseWorking)})
	counts.Set("w1/c", Counted{"w1", "demo", string(gastownv1.PolecatPhaseSucceeded)})
	counts.Set("w2/d", Counted{"w2", "other", ""})
	// A polecat moves on: it is counted in its new phase only, once.
	counts.Set("w1/a", Counted{"w1", "demo", string(gastownv1.PolecatPhaseWorking)})
	counts.Set("w1/a", Counted{"w1", "demo", string(gastownv1.PolecatPhaseWorking)})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `
# HELP gastown_polecats Polecats by namespace, rig and phase, counted from the manager's cache (phase "" is a polecat not yet reconciled).
# TYPE gastown_polecats gauge
gastown_polecats{namespace="w1",phase="Failed",rig="demo"} 0
gastown_polecats{namespace="w1",phase="Idle",rig="demo"} 0
gastown_polecats{namespace="w1",phase="Pending",rig="demo"} 0
gastown_polecats{namespace="w1",phase="Succeeded",rig="demo"} 1
gastown_polecats{namespace="w1",phase="Terminated",rig="demo"} 0
gastown_polecats{namespace="w1",phase="Working",rig="demo"} 2
gastown_polecats{namespace="w2",phase="",rig="other"} 1
gastown_polecats{namespace="w2",phase="Failed",rig="other"} 0
gastown_polecats{namespace="w2",phase="Idle",rig="other"} 0
gastown_polecats{namespace="w2",phase="Pending",rig="other"} 0
gastown_polecats{namespace="w2",phase="Succeeded",rig="other"} 0
gastown_polecats{namespace="w2",phase="Terminated",rig="other"} 0
gastown_polecats{namespace="w2",phase="Working",rig="other"} 0
`
	if got := gather(t, reg); strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// Deleted objects are gone at the next scrape, and a namespace and rig
	// left with none has no series.
	counts.Delete("w2/d")
	counts.Delete("w1/b")
	counts.Delete("w1/c")
	counts.Delete("w1/unknown")
	if n := count(t, c); n != len(polecats.phases) {
		t.Errorf("after deletions: %d series, want %d", n, len(polecats.phases))
	}
	if got := sum(t, c); got != 1 {
		t.Errorf("after deletions: %v polecats, want 1", got)
	}
	// A replica that is not the leader reports nothing.
	leader = false
	if n := count(t, c); n != 0 {
		t.Errorf("not the leader: %d series, want 0", n)
	}

	// The bead gauge reports every bead phase.
	b := &phaseCollector{desc: beads.desc, phases: beads.phases}
	bc := NewPhaseCounts()
	bc.Set("w1/gt-1", Counted{"w1", "demo", string(gastownv1.BeadPhaseReady)})
	b.set(bc, func() bool { return true })
	if n := count(t, b); n != 9 {
		t.Errorf("bead gauge: %d series, want one for each of the 9 bead phases", n)
	}
}

func TestGitHubTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("X-RateLimit-Remaining", "4321")
			w.Header().Set("X-RateLimit-Resource", "core")
			return
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	repo := "owner/" + t.Name()
	hc := &http.Client{Transport: GitHubTransport(nil, repo)}
	before := value(t, githubRequests.WithLabelValues("GET", "200"))
	for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, srv.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := value(t, githubRequests.WithLabelValues("GET", "200")) - before; got != 2 {
		t.Errorf("GET 200 = %v, want 2", got)
	}
	if got := value(t, githubRequests.WithLabelValues("POST", "422")); got < 1 {
		t.Errorf("POST 422 = %v, want 1", got)
	}
	if got := value(t, githubRateLimitRemaining.WithLabelValues(repo, "core")); got != 4321 {
		t.Errorf("rate limit remaining = %v, want 4321", got)
	}
	errsBefore := value(t, githubRequests.WithLabelValues("GET", "error"))
	srv.Close()
	if resp, err := hc.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("want an error from a closed server")
	}
	if got := value(t, githubRequests.WithLabelValues("GET", "error")) - errsBefore; got != 1 {
		t.Errorf("GET error = %v, want 1", got)
	}
}

func TestRegisterOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg); err != nil {
		t.Fatalf("a second manager: %v", err)
	}
	Reconcile.RecordSuspend(fluxRef(), true)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	if !names["gotk_suspend_status"] {
		t.Errorf("gotk_suspend_status missing from %v", names)
	}
}

func fluxRef() corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Rig", Name: "demo"}
}

// value is a counter's or gauge's value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	pb := &dto.Metric{}
	if err := m.Write(pb); err != nil {
		t.Fatal(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

// count is the number of series c reports.
func count(t *testing.T, c prometheus.Collector) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// sum is the sum of the values c reports.
func sum(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	var total float64
	for m := range ch {
		total += value(t, m)
	}
	return total
}

// gather is reg's metrics in the text format.
func gather(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
