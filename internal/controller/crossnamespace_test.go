package controller

import (
	"context"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// With --no-cross-namespace-refs, a source outside the workers namespace is
// refused, as Flux's controllers refuse cross-namespace references.
func TestCrossNamespaceSourcesCanBeRefused(t *testing.T) {
	rig := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: gastownv1.RigSpec{WorkersNamespace: "workers",
			SourceRef: &gastownv1.SourceReference{Kind: "GitRepository", Name: "app", Namespace: "flux-system"}},
	}
	store := &gastownv1.BeadStore{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "workers"},
		Spec: gastownv1.BeadStoreSpec{RigRef: "app"}}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(rig, store).Build()
	ctx := context.Background()

	rr := &RigReconciler{Client: c, NoCrossNamespaceRefs: true}
	if err := rr.resolveSource(ctx, rig); err != nil {
		t.Fatal(err)
	}
	if got := conditions.GetReason(rig, gastownv1.SourceReadyCondition); got != gastownv1.CrossNamespaceRefReason {
		t.Errorf("rig SourceReady reason %q, want %q", got, gastownv1.CrossNamespaceRefReason)
	}

	sr := &BeadStoreReconciler{Client: c, NoCrossNamespaceRefs: true}
	src, err := sr.resolveSource(ctx, store)
	if err != nil || src != nil {
		t.Fatalf("resolveSource = %v, %v; want no source and no error", src, err)
	}
	if got := conditions.GetReason(store, meta.StalledCondition); got != gastownv1.CrossNamespaceRefReason {
		t.Errorf("store Stalled reason %q, want %q", got, gastownv1.CrossNamespaceRefReason)
	}
	if msg := conditions.GetMessage(store, meta.StalledCondition); msg == "" {
		t.Error("the refusal has no message")
	}

	// Without the flag the same reference is followed (and here not found).
	rr.NoCrossNamespaceRefs = false
	if err := rr.resolveSource(ctx, rig); err != nil {
		t.Fatal(err)
	}
	if got := conditions.GetReason(rig, gastownv1.SourceReadyCondition); got != gastownv1.SourceNotFoundReason {
		t.Errorf("rig SourceReady reason %q, want %q", got, gastownv1.SourceNotFoundReason)
	}
}
