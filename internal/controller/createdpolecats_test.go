package controller

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// countedLists counts the LISTs read through it.
type countedLists struct {
	client.Reader
	n int
}

func (c *countedLists) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	c.n++
	return c.Reader.List(ctx, list, opts...)
}

func TestCreatedPolecatsCountFromTheCacheOnceItShowsTheirCreates(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	polecat := func(name, rig string) *gastownv1.Polecat {
		return &gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: gastownv1.PolecatSpec{Rig: rig}}
	}
	newClient := func(objs ...client.Object) client.Client {
		return fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).
			WithIndex(&gastownv1.Polecat{}, polecatRigIndex, func(o client.Object) []string { return []string{o.(*gastownv1.Polecat).Spec.Rig} }).
			Build()
	}
	names := func(pcs []gastownv1.Polecat) []string {
		var out []string
		for _, pc := range pcs {
			out = append(out, pc.Name)
		}
		return out
	}
	// The API server has a, b (made by this manager) and another rig's x;
	// the cache has only a.
	api := &countedLists{Reader: newClient(polecat("a", "rig"), polecat("b", "rig"), polecat("x", "other"))}
	cache := newClient(polecat("a", "rig"))
	c := NewCreatedPolecats()
	live := func() []string {
		defer c.Lock("rig")()
		pcs, err := c.Live(ctx, cache, api, "rig", "ns")
		g.Expect(err).NotTo(HaveOccurred())
		return names(pcs)
	}

	g.Expect(live()).To(ConsistOf("a", "b"), "a rig's first count in this process is the API server's")
	g.Expect(api.n).To(Equal(1))
	g.Expect(live()).To(ConsistOf("a"), "then the cache's: nothing made since")
	g.Expect(api.n).To(Equal(1))

	c.Add("rig", "b")
	g.Expect(live()).To(ConsistOf("a", "b"), "the cache misses b, made here")
	g.Expect(api.n).To(Equal(2))
	g.Expect(live()).To(ConsistOf("a", "b"), "still waited for: the API server still has it")
	g.Expect(api.n).To(Equal(3))

	g.Expect(cache.Create(ctx, polecat("b", "rig"))).To(Succeed())
	g.Expect(live()).To(ConsistOf("a", "b"), "the cache shows b")
	g.Expect(api.n).To(Equal(3))

	// c is made here and deleted before the cache shows it: the API
	// server's count stops waiting for it.
	c.Add("rig", "c")
	g.Expect(live()).To(ConsistOf("a", "b"))
	g.Expect(api.n).To(Equal(4))
	g.Expect(live()).To(ConsistOf("a", "b"))
	g.Expect(api.n).To(Equal(4))

	c.Forget("rig")
	g.Expect(live()).To(ConsistOf("a", "b"), "a rig forgotten is counted from the API server first")
	g.Expect(api.n).To(Equal(5))

	var none *CreatedPolecats
	defer none.Lock("rig")()
	none.Add("rig", "a")
	pcs, err := none.Live(ctx, cache, api, "rig", "ns")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(names(pcs)).To(ConsistOf("a", "b"))
	g.Expect(api.n).To(Equal(6), "no record: every count is the API server's")
}
