package controller

import (
	"sync"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// CreatedPolecats remembers the polecats this manager created that its
// cache has not shown yet: the ReplicaSet controller's expectations, by
// name. The Rig and the Refinery, the two creators of polecats, share one.
// A count of a rig's polecats from a cache that shows them all is the
// API server's count, but for changes that only free slots; a cache that
// misses one is confirmed with a LIST of the API server instead. After a
// restart nothing is remembered: the cache starts from a LIST.
type CreatedPolecats struct {
	mu    sync.Mutex
	byRig map[string]map[string]struct{}
}

// NewCreatedPolecats returns an empty record.
func NewCreatedPolecats() *CreatedPolecats {
	return &CreatedPolecats{byRig: map[string]map[string]struct{}{}}
}

// Add records a polecat of rig that was created, or found to exist.
func (c *CreatedPolecats) Add(rig, name string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.byRig[rig]
	if names == nil {
		names = map[string]struct{}{}
		c.byRig[rig] = names
	}
	names[name] = struct{}{}
}

// Shown forgets the polecats of rig that the cache's list holds, and says
// whether it holds every one recorded. A nil record knows nothing, so no
// list is trusted.
func (c *CreatedPolecats) Shown(rig string, cached []gastownv1.Polecat) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.byRig[rig]
	for i := range cached {
		delete(names, cached[i].Name)
	}
	if len(names) == 0 {
		delete(c.byRig, rig)
		return true
	}
	return false
}

// Confirmed takes the API server's list of rig's polecats: a recorded one
// it does not hold was deleted before the cache showed it, and is no
// longer waited for.
func (c *CreatedPolecats) Confirmed(rig string, live []gastownv1.Polecat) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.byRig[rig]
	if names == nil {
		return
	}
	exists := make(map[string]bool, len(live))
	for i := range live {
		exists[live[i].Name] = true
	}
	for name := range names {
		if !exists[name] {
			delete(names, name)
		}
	}
	if len(names) == 0 {
		delete(c.byRig, rig)
	}
}
