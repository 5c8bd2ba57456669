package operator

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
)

// setupMetrics puts Flux's reconcile metrics and the domain's on the
// manager's /metrics (controller-runtime's registry), and has the polecat
// and bead gauges count the objects of the manager's cache as its
// informers see them change. Only the leader reports them, as only the
// leader reconciles and records Flux's: a sum over the replicas counts
// each object once.
func setupMetrics(mgr ctrl.Manager) error {
	if err := gsmetrics.Register(ctrlmetrics.Registry); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	elected := mgr.Elected()
	leader := func() bool {
		select {
		case <-elected:
			return true
		default:
			return false
		}
	}
	polecats, err := countPhases(mgr, &gastownv1.Polecat{}, func(o client.Object) (gsmetrics.Counted, bool) {
		pc := o.(*gastownv1.Polecat)
		return gsmetrics.Counted{Namespace: pc.Namespace, Rig: pc.Spec.Rig, Phase: string(pc.Status.Phase)}, true
	})
	if err != nil {
		return err
	}
	beads, err := countPhases(mgr, &gastownv1.Bead{}, func(o client.Object) (gsmetrics.Counted, bool) {
		b := o.(*gastownv1.Bead)
		return gsmetrics.Counted{Namespace: b.Namespace, Rig: b.Spec.RigRef, Phase: string(b.Status.Phase)}, b.DeletionTimestamp == nil
	})
	if err != nil {
		return err
	}
	gsmetrics.SetPolecatCounts(polecats, leader)
	gsmetrics.SetBeadCounts(beads, leader)
	return nil
}

// countPhases keeps the phase of every cached object of obj's kind, as
// counted says (false: not counted, e.g. being deleted), from the events of
// the kind's informer, the one the controllers share.
func countPhases(mgr ctrl.Manager, obj client.Object, counted func(client.Object) (gsmetrics.Counted, bool)) (*gsmetrics.PhaseCounts, error) {
	informer, err := mgr.GetCache().GetInformer(context.Background(), obj)
	if err != nil {
		return nil, fmt.Errorf("phase gauge of %T: %w", obj, err)
	}
	counts := gsmetrics.NewPhaseCounts()
	set := func(o any) {
		co, ok := o.(client.Object)
		if !ok {
			return
		}
		// The informer's own key, as a deletion's below.
		key, err := toolscache.MetaNamespaceKeyFunc(co)
		if err != nil {
			return
		}
		if c, ok := counted(co); ok {
			counts.Set(key, c)
		} else {
			counts.Delete(key)
		}
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, o any) { set(o) },
		DeleteFunc: func(o any) {
			// A deletion the watch missed comes as a tombstone.
			if key, err := toolscache.DeletionHandlingMetaNamespaceKeyFunc(o); err == nil {
				counts.Delete(key)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("phase gauge of %T: %w", obj, err)
	}
	return counts, nil
}
