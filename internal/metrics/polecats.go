package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// PolecatLister lists every polecat the operator watches, from the
// manager's cache.
type PolecatLister func(ctx context.Context) ([]gastownv1.Polecat, error)

// polecatPhases are the phases reported for every namespace and rig that
// has a polecat, so that a phase that empties shows 0 rather than
// vanishing.
var polecatPhases = []gastownv1.PolecatPhase{
	gastownv1.PolecatPhasePending, gastownv1.PolecatPhaseWorking, gastownv1.PolecatPhaseSucceeded,
	gastownv1.PolecatPhaseFailed, gastownv1.PolecatPhaseIdle, gastownv1.PolecatPhaseTerminated,
}

// listTimeout bounds one scrape's list of the cache.
const listTimeout = 5 * time.Second

var polecatsDesc = prometheus.NewDesc("gastown_polecats",
	"Polecats by namespace, rig and phase, counted from the manager's cache at scrape time (phase \"\" is a polecat not yet reconciled).",
	[]string{"namespace", "rig", "phase"}, nil)

// PolecatCollector counts polecats by phase when scraped: the count comes
// from the objects, so it is right after a restart and after deletions.
type PolecatCollector struct {
	mu   sync.Mutex
	list PolecatLister
}

// polecats is the collector Register registers; SetPolecatLister feeds it.
var polecats = &PolecatCollector{}

// SetPolecatLister makes the registered collector count the polecats list
// returns; the last manager to set it in a process wins.
func SetPolecatLister(list PolecatLister) { polecats.SetLister(list) }

// SetLister sets where the collector's polecats come from.
func (c *PolecatCollector) SetLister(list PolecatLister) {
	c.mu.Lock()
	c.list = list
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *PolecatCollector) Describe(ch chan<- *prometheus.Desc) { ch <- polecatsDesc }

// Collect implements prometheus.Collector. A failed list reports nothing
// rather than failing the scrape.
func (c *PolecatCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	list := c.list
	c.mu.Unlock()
	if list == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	items, err := list(ctx)
	if err != nil {
		return
	}
	for k, n := range countPolecats(items) {
		ch <- prometheus.MustNewConstMetric(polecatsDesc, prometheus.GaugeValue, float64(n), k.namespace, k.rig, k.phase)
	}
}

type polecatKey struct{ namespace, rig, phase string }

// countPolecats counts items by namespace, rig and phase, with a zero for
// every known phase of a namespace and rig that has a polecat.
func countPolecats(items []gastownv1.Polecat) map[polecatKey]int {
	counts := map[polecatKey]int{}
	for i := range items {
		pc := &items[i]
		rig := pc.Spec.Rig
		for _, p := range polecatPhases {
			k := polecatKey{pc.Namespace, rig, string(p)}
			if _, ok := counts[k]; !ok {
				counts[k] = 0
			}
		}
		counts[polecatKey{pc.Namespace, rig, string(pc.Status.Phase)}]++
	}
	return counts
}
