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
	// fromCache lists a kind from the cache, read-only (no copy of every
	// object per scrape), on the leader only.
	fromCache := func(newList func() client.ObjectList, count func(client.ObjectList) []gsmetrics.Counted) gsmetrics.Lister {
		return func(ctx context.Context) ([]gsmetrics.Counted, error) {
			select {
			case <-elected:
			default:
				return nil, nil
			}
			list := newList()
			if err := cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
				return nil, err
			}
			return count(list), nil
		}
	}
	gsmetrics.SetPolecatLister(fromCache(func() client.ObjectList { return &gastownv1.PolecatList{} }, func(l client.ObjectList) []gsmetrics.Counted {
		items := l.(*gastownv1.PolecatList).Items
		out := make([]gsmetrics.Counted, len(items))
		for i := range items {
			pc := &items[i]
			out[i] = gsmetrics.Counted{Namespace: pc.Namespace, Rig: pc.Spec.Rig, Phase: string(pc.Status.Phase)}
		}
		return out
	}))
	gsmetrics.SetBeadLister(fromCache(func() client.ObjectList { return &gastownv1.BeadList{} }, func(l client.ObjectList) []gsmetrics.Counted {
		items := l.(*gastownv1.BeadList).Items
		out := make([]gsmetrics.Counted, 0, len(items))
		for i := range items {
			if b := &items[i]; b.DeletionTimestamp == nil {
				out = append(out, gsmetrics.Counted{Namespace: b.Namespace, Rig: b.Spec.RigRef, Phase: string(b.Status.Phase)})
			}
		}
		return out
	}))
	return nil
}
