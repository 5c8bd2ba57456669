package controller

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
)

// series finds the gotk_* series of an object by name, kind and the other
// labels given.
func series(g Gomega, reg *prometheus.Registry, family string, labels map[string]string) []*dto.Metric {
	mfs, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metrics
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func TestRecordMetrics(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(gsmetrics.Reconcile.Collectors()...)

	rig := &gastownv1.Rig{ObjectMeta: metav1.ObjectMeta{Name: "metrics-rig"}, Spec: gastownv1.RigSpec{Suspend: true}}
	conditions.MarkTrue(rig, meta.ReadyCondition, meta.SucceededReason, "ok")
	recordMetrics(withReconcileStart(context.Background()), rig)

	ready := series(g, reg, "gotk_reconcile_condition", map[string]string{"kind": "Rig", "name": "metrics-rig", "type": meta.ReadyCondition})
	g.Expect(ready).To(HaveLen(3), "one series a status")
	for _, m := range ready {
		want := 0.0
		for _, l := range m.GetLabel() {
			if l.GetName() == "status" && l.GetValue() == "True" {
				want = 1
			}
		}
		g.Expect(m.GetGauge().GetValue()).To(Equal(want))
	}
	stalled := series(g, reg, "gotk_reconcile_condition", map[string]string{"kind": "Rig", "name": "metrics-rig", "type": meta.StalledCondition, "status": "Unknown"})
	g.Expect(stalled).To(HaveLen(1))
	g.Expect(stalled[0].GetGauge().GetValue()).To(Equal(1.0), "a missing condition is Unknown")
	suspend := series(g, reg, "gotk_suspend_status", map[string]string{"kind": "Rig", "name": "metrics-rig"})
	g.Expect(suspend).To(HaveLen(1))
	g.Expect(suspend[0].GetGauge().GetValue()).To(Equal(1.0))
	duration := series(g, reg, "gotk_reconcile_duration_seconds", map[string]string{"kind": "Rig", "name": "metrics-rig"})
	g.Expect(duration).To(HaveLen(1))
	g.Expect(duration[0].GetHistogram().GetSampleCount()).To(BeEquivalentTo(1))

	// No start in the context: no duration, the rest as before.
	ref := &gastownv1.Refinery{ObjectMeta: metav1.ObjectMeta{Name: "metrics-ref", Namespace: "ns"}}
	recordMetrics(context.Background(), ref)
	g.Expect(series(g, reg, "gotk_reconcile_duration_seconds", map[string]string{"kind": "Refinery", "name": "metrics-ref"})).To(BeEmpty())
	g.Expect(series(g, reg, "gotk_reconcile_condition", map[string]string{"kind": "Refinery", "name": "metrics-ref", "namespace": "ns"})).To(HaveLen(9))

	// Beads and polecats, thousands to a repository, share one duration
	// series per namespace and have no condition series.
	for _, name := range []string{"gt-a", "gt-b", "gt-c"} {
		b := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "beads-ns"}}
		conditions.MarkTrue(b, meta.ReadyCondition, "Closed", "closed")
		recordMetrics(withReconcileStart(context.Background()), b)
		pc := &gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "beads-ns", Finalizers: []string{gastownv1.GastownFinalizer}}}
		conditions.MarkTrue(pc, meta.ReadyCondition, "Succeeded", "done")
		recordMetrics(withReconcileStart(context.Background()), pc)
	}
	for _, kind := range []string{"Bead", "Polecat"} {
		all := series(g, reg, "gotk_reconcile_duration_seconds", map[string]string{"kind": kind, "namespace": "beads-ns"})
		g.Expect(all).To(HaveLen(1), kind)
		g.Expect(all[0].GetHistogram().GetSampleCount()).To(BeEquivalentTo(3), kind)
		g.Expect(series(g, reg, "gotk_reconcile_condition", map[string]string{"kind": kind})).To(BeEmpty(), kind)
		g.Expect(series(g, reg, "gotk_suspend_status", map[string]string{"kind": kind})).To(BeEmpty(), kind)
	}
}

func TestRecordPolecatMetricsOnTransitions(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(gsmetrics.Collectors()...)
	rig := "rig-" + t.Name()
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-" + "transitions", CreationTimestamp: metav1.NewTime(time.Now().Add(-3 * time.Second))},
		Spec:       gastownv1.PolecatSpec{Rig: rig},
	}
	pc.Status.Attempts, pc.Status.Phase = 1, gastownv1.PolecatPhaseWorking
	recordPolecatMetrics(pc, gastownv1.PolecatPhasePending)
	recordPolecatMetrics(pc, gastownv1.PolecatPhaseWorking) // still working: nothing new
	latency := series(g, reg, "gastown_dispatch_latency_seconds", map[string]string{"rig": rig})
	g.Expect(latency).To(HaveLen(1))
	g.Expect(latency[0].GetHistogram().GetSampleCount()).To(BeEquivalentTo(1))
	g.Expect(latency[0].GetHistogram().GetSampleSum()).To(BeNumerically("~", 3, 1))

	pc.Status.Phase = gastownv1.PolecatPhaseSucceeded
	pc.Status.Result = &gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, CostUSD: "0.5", InputTokens: 10, OutputTokens: 5}
	recordPolecatMetrics(pc, gastownv1.PolecatPhaseWorking)
	recordPolecatMetrics(pc, gastownv1.PolecatPhaseSucceeded) // a re-reconcile of the finished polecat
	recordPolecatMetrics(pc, gastownv1.PolecatPhaseWorking)   // a stale cache showing it working
	cost := series(g, reg, "gastown_agent_cost_usd_total", map[string]string{"rig": rig})
	g.Expect(cost).To(HaveLen(1))
	g.Expect(cost[0].GetCounter().GetValue()).To(Equal(0.5))
	tokens := series(g, reg, "gastown_agent_tokens_total", map[string]string{"rig": rig, "direction": "input"})
	g.Expect(tokens).To(HaveLen(1))
	g.Expect(tokens[0].GetCounter().GetValue()).To(Equal(10.0))
}

func TestDispatchStartsWhenTheBeadBecameReady(t *testing.T) {
	g := NewWithT(t)
	created := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	pc := &gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created), Annotations: map[string]string{}}}
	g.Expect(dispatchStart(pc)).To(Equal(created), "no record: from the polecat's creation")
	pc.Annotations[dispatch.ReadySinceAnnotation] = "2026-12-02T09:58:30Z"
	g.Expect(dispatchStart(pc)).To(Equal(created.Add(-90 * time.Second)))
	pc.Annotations[dispatch.ReadySinceAnnotation] = "2026-12-02T10:05:00Z"
	g.Expect(dispatchStart(pc)).To(Equal(created), "a time after the creation is no start")
	pc.Annotations[dispatch.ReadySinceAnnotation] = "yesterday"
	g.Expect(dispatchStart(pc)).To(Equal(created))
}
