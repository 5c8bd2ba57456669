package operator

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
)

// setupMetrics puts Flux's reconcile metrics and the domain's on the
// manager's /metrics (controller-runtime's registry), and has the polecat
// and bead gauges count the manager's cache at each scrape. Only the leader
// reports them, as only the leader reconciles and records Flux's: a sum
// over the replicas counts each object once.
func setupMetrics(mgr ctrl.Manager) error {
	if err := gsmetrics.Register(ctrlmetrics.Registry); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	cache := mgr.GetCache()
	elected := mgr.Elected()
	leader := func() bool {
		select {
		case <-elected:
			return true
		default:
			return false
		}
	}
	gsmetrics.SetPolecatLister(func(ctx context.Context) ([]gsmetrics.Counted, error) {
		if !leader() {
			return nil, nil
		}
		list := &gastownv1.PolecatList{}
		// Read-only: no copy of every polecat per scrape.
		if err := cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		out := make([]gsmetrics.Counted, len(list.Items))
		for i := range list.Items {
			pc := &list.Items[i]
			out[i] = gsmetrics.Counted{Namespace: pc.Namespace, Rig: pc.Spec.Rig, Phase: string(pc.Status.Phase)}
		}
		return out, nil
	})
	gsmetrics.SetBeadLister(func(ctx context.Context) ([]gsmetrics.Counted, error) {
		if !leader() {
			return nil, nil
		}
		list := &gastownv1.BeadList{}
		if err := cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		out := make([]gsmetrics.Counted, 0, len(list.Items))
		for i := range list.Items {
			b := &list.Items[i]
			if b.DeletionTimestamp == nil {
				out = append(out, gsmetrics.Counted{Namespace: b.Namespace, Rig: b.Spec.RigRef, Phase: string(b.Status.Phase)})
			}
		}
		return out, nil
	})
	return nil
}
