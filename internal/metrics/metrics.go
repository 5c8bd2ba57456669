// Package metrics holds the operator's Prometheus collectors: Flux's
// reconcile metrics (gotk_*) and the domain's own (gastown_*), with small
// functions the controllers and the GitHub client record through. Register
// puts them on a registry (the manager's, controller-runtime's
// metrics.Registry), so that they show on /metrics.
//
// Collectors are process-wide, as the registry they go on is; recording
// into them before Register is harmless.
package metrics

import (
	"errors"
	"strconv"
	"sync"
	"time"

	fluxmetrics "github.com/fluxcd/pkg/runtime/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Reconcile records Flux's gotk_reconcile_duration_seconds,
// gotk_reconcile_condition and gotk_suspend_status for every kind.
var Reconcile = fluxmetrics.NewRecorder()

// PR events, the values of the event label of gastown_pull_requests_total.
const (
	PullRequestOpened   = "opened"
	PullRequestMerged   = "merged"
	PullRequestRejected = "rejected"
)

// Webhook delivery results, the values of the result label of
// gastown_webhook_deliveries_total.
const (
	WebhookAccepted     = "accepted"      // verified, and it woke the Refinery
	WebhookIgnored      = "ignored"       // verified, an event that changes no gate
	WebhookBadSignature = "bad_signature" // refused: signature missing or wrong
	WebhookInvalid      = "invalid"       // refused: the body is not a delivery
	WebhookUnknown      = "unknown"       // refused: no Refinery with a webhook at that path
)

var (
	webhookDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gastown_webhook_deliveries_total",
		Help: "GitHub webhook deliveries the manager received, by rig (empty when the path names no Refinery with a webhook) and result (accepted, ignored, bad_signature, invalid, unknown).",
	}, []string{"rig", "result"})

	pullRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gastown_pull_requests_total",
		Help: "Pull requests of a rig's beads the Refinery opened, merged, or saw closed without merging (rejected).",
	}, []string{"rig", "event"})

	agentCost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gastown_agent_cost_usd_total",
		Help: "Cost in US dollars the agents of a rig's finished polecats reported.",
	}, []string{"rig"})

	agentTokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gastown_agent_tokens_total",
		Help: "Tokens the agents of a rig's finished polecats reported, by direction (input, output).",
	}, []string{"rig", "direction"})

	polecatResults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gastown_polecat_results_total",
		Help: "Finished polecat runs of a rig, by outcome (Pushed, NoChanges, AgentFailed, GitFailed, Error).",
	}, []string{"rig", "outcome"})

	dispatchLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gastown_dispatch_latency_seconds",
		Help:    "Time from a bead becoming Ready (its status.readySince; a hand-made polecat: its creation) to its polecat's pod (or local process) running.",
		Buckets: []float64{0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800},
	}, []string{"rig"})

	githubRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gastown_github_requests_total",
		Help: "HTTP requests sent to the GitHub API, retries and conditional requests included, by method and status code (\"error\" when no response came).",
	}, []string{"method", "status"})

	githubRateLimitRemaining = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gastown_github_rate_limit_remaining",
		Help: "Requests left in the current GitHub rate limit window (X-RateLimit-Remaining of the latest response), by repository and rate limit resource.",
	}, []string{"repository", "resource"})
)

// Collectors are every collector of the package but the phase gauges.
func Collectors() []prometheus.Collector {
	return append(Reconcile.Collectors(),
		pullRequests, agentCost, agentTokens, polecatResults, dispatchLatency, githubRequests, githubRateLimitRemaining, webhookDeliveries)
}

var registerOnce sync.Once

// Register puts the collectors and the phase gauges on reg, once per
// process: a second manager in the process (tests, the demo) shares them.
func Register(reg prometheus.Registerer) error {
	var err error
	registerOnce.Do(func() {
		for _, c := range append(Collectors(), polecats, beads) {
			if e := reg.Register(c); e != nil && !errors.As(e, &prometheus.AlreadyRegisteredError{}) {
				err = errors.Join(err, e)
			}
		}
	})
	return err
}

// Webhook counts one webhook delivery for the rig's Refinery.
func Webhook(rig, result string) { webhookDeliveries.WithLabelValues(rig, result).Inc() }

// PullRequest counts a pull request event of the rig's bead. key names the
// event's subject (e.g. the bead's UID and the pull request number): an
// event seen again for the same key, as a re-reconcile from a stale cache
// would, is not counted twice. An empty key always counts.
func PullRequest(rig, event, key string) {
	if key != "" && !counted.first(event+"/"+key) {
		return
	}
	pullRequests.WithLabelValues(rig, event).Inc()
}

// AgentResult counts a finished polecat's outcome, cost and tokens, once per
// uid (the polecat's UID).
func AgentResult(uid, rig, outcome, costUSD string, inputTokens, outputTokens int64) {
	if !counted.first("result/" + uid) {
		return
	}
	polecatResults.WithLabelValues(rig, outcome).Inc()
	if cost, err := strconv.ParseFloat(costUSD, 64); err == nil && cost > 0 {
		agentCost.WithLabelValues(rig).Add(cost)
	} else {
		agentCost.WithLabelValues(rig) // the series exists from the first result
	}
	agentTokens.WithLabelValues(rig, "input").Add(float64(max(inputTokens, 0)))
	agentTokens.WithLabelValues(rig, "output").Add(float64(max(outputTokens, 0)))
}

// DispatchLatency observes d, a polecat's time from dispatch to running,
// once per uid.
func DispatchLatency(uid, rig string, d time.Duration) {
	if !counted.first("running/" + uid) {
		return
	}
	dispatchLatency.WithLabelValues(rig).Observe(max(d, 0).Seconds())
}

// counted remembers the keys already counted, the newest countedKeys.
var counted = newSeenSet(countedKeys)

// countedKeys bounds the memory of counted events: far more than the
// events a re-reconcile can repeat.
const countedKeys = 1 << 16

// seenSet is a bounded set: when full it forgets its oldest key.
type seenSet struct {
	mu    sync.Mutex
	keys  map[string]struct{}
	order []string
	size  int
	next  int
}

func newSeenSet(size int) *seenSet {
	// Grown as keys come: most managers never count size of them.
	return &seenSet{keys: map[string]struct{}{}, size: size}
}

// first adds key and says whether it was new.
func (s *seenSet) first(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; ok {
		return false
	}
	if len(s.order) < s.size {
		s.order = append(s.order, key)
	} else {
		delete(s.keys, s.order[s.next])
		s.order[s.next] = key
		s.next = (s.next + 1) % s.size
	}
	s.keys[key] = struct{}{}
	return true
}
