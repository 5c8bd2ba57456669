package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/boshu2/gastown-operator/test/devenv"
)

// scrape is the operator's /metrics, parsed.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, env *devenv.Env) scrape {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+env.Endpoints().OperatorMetrics+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping the operator's metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping the operator's metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the operator's metrics: %v", err)
	}
	return mfs
}

// sum adds the values (a histogram's count) of the family's series whose
// labels include want; found says whether any did.
func (s scrape) sum(name string, want map[string]string) (total float64, found bool) {
	mf := s[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total, found
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// delta is how much a series grew between two scrapes.
func delta(before, after scrape, name string, labels map[string]string) float64 {
	b, _ := before.sum(name, labels)
	a, _ := after.sum(name, labels)
	return a - b
}

// checkMetrics checks the operator's /metrics after the whole loop took
// merged beads of the env's rig through polecats to merged pull requests:
// before is a scrape from the test's start (counters are process-wide, and
// other tests of the package may have counted before).
func checkMetrics(t *testing.T, env *devenv.Env, before scrape, merged int) {
	t.Helper()
	g := NewWithT(t)
	after := scrapeMetrics(t, env)
	rig := env.Name
	describe := func(name string) string { return fmt.Sprintf("%s in %v", name, after[name]) }

	// Flux's reconcile metrics, for every kind the loop went through.
	for _, kind := range []string{"Rig", "BeadStore", "Bead", "Convoy", "Polecat", "Refinery"} {
		n, found := after.sum("gotk_reconcile_duration_seconds", map[string]string{"kind": kind})
		g.Expect(found && n > 0).To(BeTrue(), "gotk_reconcile_duration_seconds of kind %s", kind)
	}
	ready, found := after.sum("gotk_reconcile_condition", map[string]string{"kind": "BeadStore", "name": rig, "namespace": devenv.WorkersNamespace, "type": "Ready", "status": "True"})
	g.Expect(found).To(BeTrue(), describe("gotk_reconcile_condition"))
	g.Expect(ready).To(BeEquivalentTo(1))
	suspended, found := after.sum("gotk_suspend_status", map[string]string{"kind": "Rig", "name": rig})
	g.Expect(found).To(BeTrue(), describe("gotk_suspend_status"))
	g.Expect(suspended).To(BeZero())

	// The domain's.
	g.Expect(delta(before, after, "gastown_pull_requests_total", map[string]string{"rig": rig, "event": "opened"})).To(BeEquivalentTo(merged))
	g.Expect(delta(before, after, "gastown_pull_requests_total", map[string]string{"rig": rig, "event": "merged"})).To(BeEquivalentTo(merged))
	g.Expect(delta(before, after, "gastown_pull_requests_total", map[string]string{"rig": rig, "event": "rejected"})).To(BeZero())
	g.Expect(delta(before, after, "gastown_polecat_results_total", map[string]string{"rig": rig, "outcome": "Pushed"})).To(BeEquivalentTo(merged))
	// Each bead of the sprint has its scripted run report $0.0042, 1200
	// input and 300 output tokens.
	g.Expect(delta(before, after, "gastown_agent_cost_usd_total", map[string]string{"rig": rig})).To(BeNumerically("~", 0.0042*float64(merged), 1e-9))
	g.Expect(delta(before, after, "gastown_agent_tokens_total", map[string]string{"rig": rig, "direction": "input"})).To(BeEquivalentTo(1200 * merged))
	g.Expect(delta(before, after, "gastown_agent_tokens_total", map[string]string{"rig": rig, "direction": "output"})).To(BeEquivalentTo(300 * merged))
	beadsOfRig := map[string]string{"namespace": devenv.WorkersNamespace, "rig": rig}
	closed, found := after.sum("gastown_beads", map[string]string{"namespace": devenv.WorkersNamespace, "rig": rig, "phase": "Closed"})
	g.Expect(found).To(BeTrue(), describe("gastown_beads"))
	g.Expect(closed).To(BeEquivalentTo(merged))
	all, _ := after.sum("gastown_beads", beadsOfRig)
	g.Expect(all).To(BeEquivalentTo(merged), "the rig's beads, all closed: %s", describe("gastown_beads"))
	succeeded, found := after.sum("gastown_polecats", map[string]string{"namespace": devenv.WorkersNamespace, "rig": rig, "phase": "Succeeded"})
	g.Expect(found).To(BeTrue(), describe("gastown_polecats"))
	g.Expect(succeeded).To(BeEquivalentTo(merged))
	// One observation a polecat the operator saw running (a local run
	// could finish before it looks, but the scripted ones take longer).
	dispatched := delta(before, after, "gastown_dispatch_latency_seconds", map[string]string{"rig": rig})
	g.Expect(dispatched).To(And(BeNumerically(">=", 1), BeNumerically("<=", merged)))
	t.Logf("dispatch latency observations: %v of %d polecats", dispatched, merged)
	g.Expect(delta(before, after, "gastown_github_requests_total", map[string]string{"method": "GET"})).To(BeNumerically(">", 0))
	g.Expect(delta(before, after, "gastown_github_requests_total", map[string]string{"method": "PUT"})).To(BeNumerically(">=", merged), "the merges")
	remaining, found := after.sum("gastown_github_rate_limit_remaining", map[string]string{"repository": env.Owner + "/" + env.Repo})
	g.Expect(found).To(BeTrue(), describe("gastown_github_rate_limit_remaining"))
	g.Expect(remaining).To(BeNumerically(">", 0))
}
