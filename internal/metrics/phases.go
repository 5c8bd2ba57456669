package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Counted is what a phase gauge reads of one object.
type Counted struct{ Namespace, Rig, Phase string }

// Lister lists the objects a phase gauge counts, from the manager's cache.
type Lister func(ctx context.Context) ([]Counted, error)

// listTimeout bounds one scrape's list of the cache.
const listTimeout = 5 * time.Second

// phaseCollector counts objects by namespace, rig and phase when scraped:
// the count comes from the objects, so it is right after a restart and
// after deletions, and costs no write. Every known phase is reported for a
// namespace and rig that has an object, so that a phase that empties shows
// 0 rather than vanishing.
type phaseCollector struct {
	desc   *prometheus.Desc
	phases []string

	mu   sync.Mutex
	list Lister
}

// newPhaseCollector is the gauge name, with help, of phases.
func newPhaseCollector(name, help string, phases []string) *phaseCollector {
	return &phaseCollector{desc: prometheus.NewDesc(name, help, []string{"namespace", "rig", "phase"}, nil), phases: phases}
}

var (
	polecats = newPhaseCollector("gastown_polecats",
		"Polecats by namespace, rig and phase, counted from the manager's cache at scrape time (phase \"\" is a polecat not yet reconciled).",
		phaseNames(gastownv1.PolecatPhasePending, gastownv1.PolecatPhaseWorking, gastownv1.PolecatPhaseSucceeded,
			gastownv1.PolecatPhaseFailed, gastownv1.PolecatPhaseIdle, gastownv1.PolecatPhaseTerminated))
	beads = newPhaseCollector("gastown_beads",
		"Beads by namespace, rig and phase, counted from the manager's cache at scrape time (phase \"\" is a bead not yet reconciled).",
		phaseNames(gastownv1.BeadPhaseOpen, gastownv1.BeadPhaseBlocked, gastownv1.BeadPhaseReady, gastownv1.BeadPhaseWorking,
			gastownv1.BeadPhaseInReview, gastownv1.BeadPhaseMerged, gastownv1.BeadPhaseClosed, gastownv1.BeadPhaseFailed,
			gastownv1.BeadPhaseRejected))
)

func phaseNames[P ~string](phases ...P) []string {
	out := make([]string, len(phases))
	for i, p := range phases {
		out[i] = string(p)
	}
	return out
}

// SetPolecatLister and SetBeadLister make the registered gauges count what
// list returns; the last manager to set one in a process wins.
func SetPolecatLister(list Lister) { polecats.SetLister(list) }

// SetBeadLister: see SetPolecatLister.
func SetBeadLister(list Lister) { beads.SetLister(list) }

// SetLister sets where the collector's objects come from.
func (c *phaseCollector) SetLister(list Lister) {
	c.mu.Lock()
	c.list = list
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *phaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. A failed list reports nothing
// rather than failing the scrape.
func (c *phaseCollector) Collect(ch chan<- prometheus.Metric) {
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
	for k, n := range c.count(items) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.Namespace, k.Rig, k.Phase)
	}
}

// count counts items by namespace, rig and phase, with a zero for every
// known phase of a namespace and rig that has an object.
func (c *phaseCollector) count(items []Counted) map[Counted]int {
	counts := map[Counted]int{}
	for _, it := range items {
		for _, p := range c.phases {
			k := Counted{it.Namespace, it.Rig, p}
			if _, ok := counts[k]; !ok {
				counts[k] = 0
			}
		}
		counts[it]++
	}
	return counts
}
