package metrics

import (
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Counted is what a phase gauge reads of one object.
type Counted struct{ Namespace, Rig, Phase string }

// PhaseCounts is the phase of each object a gauge counts, kept from the
// manager's informer events: a scrape reads the counts instead of listing
// (and copying) thousands of cached objects. The counts come from the
// objects themselves, so they are right after a restart (the informer's
// first list adds every object) and after deletions.
type PhaseCounts struct {
	mu      sync.Mutex
	objects map[string]Counted // by namespace/name
	counts  map[Counted]int
	// groups counts the objects of each namespace and rig (Phase "").
	groups map[Counted]int
}

// NewPhaseCounts is an empty PhaseCounts.
func NewPhaseCounts() *PhaseCounts {
	return &PhaseCounts{objects: map[string]Counted{}, counts: map[Counted]int{}, groups: map[Counted]int{}}
}

// Set records the object under key as c, replacing what key had.
func (p *PhaseCounts) Set(key string, c Counted) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.objects[key]; ok {
		if old == c {
			return
		}
		p.forget(old)
	}
	p.objects[key] = c
	p.counts[c]++
	p.groups[Counted{Namespace: c.Namespace, Rig: c.Rig}]++
}

// Delete forgets the object under key.
func (p *PhaseCounts) Delete(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.objects[key]; ok {
		delete(p.objects, key)
		p.forget(old)
	}
}

func (p *PhaseCounts) forget(c Counted) {
	decrement(p.counts, c)
	decrement(p.groups, Counted{Namespace: c.Namespace, Rig: c.Rig})
}

func decrement(m map[Counted]int, k Counted) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// withZeros is the counts, with a zero for every one of phases that a
// namespace and rig with an object does not have.
func (p *PhaseCounts) withZeros(phases []string) map[Counted]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Counted]int, len(p.groups)*len(phases)+len(p.counts))
	for g := range p.groups {
		for _, ph := range phases {
			out[Counted{g.Namespace, g.Rig, ph}] = 0
		}
	}
	maps.Copy(out, p.counts)
	return out
}

// phaseCollector reports objects by namespace, rig and phase. Every known
// phase is reported for a namespace and rig that has an object, so that a
// phase that empties shows 0 rather than vanishing.
type phaseCollector struct {
	desc   *prometheus.Desc
	phases []string

	mu     sync.Mutex
	counts *PhaseCounts
	report func() bool
}

// newPhaseCollector is the gauge name, with help, of phases.
func newPhaseCollector(name, help string, phases []string) *phaseCollector {
	return &phaseCollector{desc: prometheus.NewDesc(name, help, []string{"namespace", "rig", "phase"}, nil), phases: phases}
}

var (
	polecats = newPhaseCollector("gastown_polecats",
		"Polecats by namespace, rig and phase, counted from the manager's cache (phase \"\" is a polecat not yet reconciled).",
		phaseNames(gastownv1.PolecatPhasePending, gastownv1.PolecatPhaseWorking, gastownv1.PolecatPhaseSucceeded,
			gastownv1.PolecatPhaseFailed, gastownv1.PolecatPhaseIdle, gastownv1.PolecatPhaseTerminated))
	beads = newPhaseCollector("gastown_beads",
		"Beads by namespace, rig and phase, counted from the manager's cache (phase \"\" is a bead not yet reconciled).",
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

// SetPolecatCounts and SetBeadCounts make the registered gauges report
// counts while report says so (only the leader reports: a sum over the
// replicas counts each object once). The last manager to set them in a
// process wins.
func SetPolecatCounts(counts *PhaseCounts, report func() bool) { polecats.set(counts, report) }

// SetBeadCounts: see SetPolecatCounts.
func SetBeadCounts(counts *PhaseCounts, report func() bool) { beads.set(counts, report) }

func (c *phaseCollector) set(counts *PhaseCounts, report func() bool) {
	c.mu.Lock()
	c.counts, c.report = counts, report
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *phaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *phaseCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	counts, report := c.counts, c.report
	c.mu.Unlock()
	if counts == nil || !report() {
		return
	}
	for k, n := range counts.withZeros(c.phases) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.Namespace, k.Rig, k.Phase)
	}
}
