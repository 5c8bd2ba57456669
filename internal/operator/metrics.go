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
// gauge count the manager's cache at each scrape.
func setupMetrics(mgr ctrl.Manager) error {
	if err := gsmetrics.Register(ctrlmetrics.Registry); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	cache := mgr.GetCache()
	gsmetrics.SetPolecatLister(func(ctx context.Context) ([]gastownv1.Polecat, error) {
		list := &gastownv1.PolecatList{}
		// Read-only: no copy of every polecat per scrape.
		err := cache.List(ctx, list, client.UnsafeDisableDeepCopy)
		return list.Items, err
	})
	return nil
}
