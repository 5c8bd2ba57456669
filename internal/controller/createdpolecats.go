package controller

import (
	"context"
	"slices"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// CreatedPolecats lets the two creators of polecats, the Rig and the
// Refinery, count a rig's polecats against its limits from the cache: the
// ReplicaSet controller's expectations, by name. It remembers the polecats
// this manager created until the cache shows them. A count while the cache
// misses one, or the first count of a rig in this process (a replica that
// just became the leader has a cache that may lag behind the last
// leader's creates), lists the API server instead. Polecats made elsewhere
// (kubectl gt sling, by hand) count once the cache shows them.
//
// A creator holds Lock(rig) from its count to its last create, so that
// the two never count past each other's creates.
type CreatedPolecats struct {
	mu   sync.Mutex
	rigs map[string]*rigRecord
}

// rigRecord is one rig's; its fields are used with lock held.
type rigRecord struct {
	lock sync.Mutex
	// confirmed: the API server was counted once in this process.
	confirmed bool
	// unseen: the polecats created that the cache did not show yet.
	unseen map[string]struct{}
}

// NewCreatedPolecats returns an empty record.
func NewCreatedPolecats() *CreatedPolecats {
	return &CreatedPolecats{rigs: map[string]*rigRecord{}}
}

func (c *CreatedPolecats) record(rig string) *rigRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rigs[rig]
	if r == nil {
		r = &rigRecord{unseen: map[string]struct{}{}}
		c.rigs[rig] = r
	}
	return r
}

// Lock holds the rig's count and creates for the caller, until the
// function it returns is called. A nil record locks nothing.
func (c *CreatedPolecats) Lock(rig string) (unlock func()) {
	if c == nil {
		return func() {}
	}
	r := c.record(rig)
	r.lock.Lock()
	return r.lock.Unlock
}

// Live returns rig's polecats to count against its limits, with Lock(rig)
// held: the cache's, when it shows every polecat this manager created
// since the API server was last asked, else the API server's (ns is the
// rig's workers namespace). A nil record always asks the API server.
func (c *CreatedPolecats) Live(ctx context.Context, cache, api client.Reader, rig, ns string) ([]gastownv1.Polecat, error) {
	if c != nil {
		cached := &gastownv1.PolecatList{}
		if err := cache.List(ctx, cached, client.InNamespace(ns), client.MatchingFields{polecatRigIndex: rig}, readOnly); err != nil {
			return nil, err
		}
		if c.shown(rig, cached.Items) {
			return cached.Items, nil
		}
	}
	all := &gastownv1.PolecatList{}
	if err := api.List(ctx, all, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	live := slices.DeleteFunc(all.Items, func(pc gastownv1.Polecat) bool { return pc.Spec.Rig != rig })
	if c != nil {
		// A polecat created and deleted before the cache showed it is no
		// longer waited for; the others still are.
		exists := make(map[string]bool, len(live))
		for i := range live {
			exists[live[i].Name] = true
		}
		r := c.record(rig)
		r.confirmed = true
		for name := range r.unseen {
			if !exists[name] {
				delete(r.unseen, name)
			}
		}
	}
	return live, nil
}

// shown forgets the polecats of rig that the cache's list holds, and says
// whether that list can be counted.
func (c *CreatedPolecats) shown(rig string, cached []gastownv1.Polecat) bool {
	r := c.record(rig)
	for i := range cached {
		delete(r.unseen, cached[i].Name)
	}
	return r.confirmed && len(r.unseen) == 0
}

// Add records a polecat of rig that was created, or found to exist, with
// Lock(rig) held.
func (c *CreatedPolecats) Add(rig, name string) {
	if c == nil {
		return
	}
	c.record(rig).unseen[name] = struct{}{}
}

// Forget drops what is known of a rig that is gone.
func (c *CreatedPolecats) Forget(rig string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rigs, rig)
}
