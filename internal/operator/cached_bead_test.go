package operator_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	"github.com/boshu2/gastown-operator/internal/operator"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// A bead that exists before the manager's cache starts arrives in its
// first list, which client-go may transform twice: its cached copy has no
// text and the spec hash of the bead on the API server.
func TestACachedBeadHasTheSpecHashOfTheWholeBead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := env.Namespace(t)
	bead := &gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-a", Namespace: ns},
		Spec: gastownv1.BeadSpec{Title: "Ping the database", Description: "Add a ping.", Acceptance: "The ping answers.",
			RigRef: "alpha", SourcePath: ".gastown/a.yaml"},
	}
	if err := env.Client.Create(ctx, bead); err != nil {
		t.Fatal(err)
	}

	c, err := cache.New(env.Config, operator.CacheTransforms(cache.Options{Scheme: scheme.Scheme}))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}
	cached := &gastownv1.Bead{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(bead), cached); err != nil {
		t.Fatal(err)
	}
	if cached.Spec.Description != "" || cached.Spec.Acceptance != "" {
		t.Errorf("the cached bead has its text: %q, %q", cached.Spec.Description, cached.Spec.Acceptance)
	}
	if got, want := dispatch.SpecHash(cached), bead.Spec.Hash(); got != want {
		t.Errorf("the cached bead's spec hash is %s, the API server's bead's %s", got, want)
	}
}
