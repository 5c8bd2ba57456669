package githubemu

import "sync"

// hold keeps one request waiting before the emulator handles it.
type hold struct {
	route   string // "PUT /repos/{owner}/{repo}/pulls/{number}/merge"
	arrived chan struct{}
	release chan struct{}
}

// holds are apart from Server.mu: a held request must not stop the others.
type holds struct {
	mu      sync.Mutex
	pending []*hold
}

// HoldNext holds the next request of route (a method and path template as
// Calls names them, e.g. "PUT /repos/{owner}/{repo}/pulls/{number}/merge")
// before it is handled, as a slow GitHub would: arrived is closed when it
// comes, and it goes on when release is called. Other requests are served
// meanwhile.
func (s *Server) HoldNext(route string) (arrived <-chan struct{}, release func()) {
	h := &hold{route: route, arrived: make(chan struct{}), release: make(chan struct{})}
	s.holds.mu.Lock()
	s.holds.pending = append(s.holds.pending, h)
	s.holds.mu.Unlock()
	var once sync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// wait holds a request of route if a hold is pending for it.
func (hs *holds) wait(route string) {
	hs.mu.Lock()
	var h *hold
	for i, p := range hs.pending {
		if p.route == route {
			h = p
			hs.pending = append(hs.pending[:i], hs.pending[i+1:]...)
			break
		}
	}
	hs.mu.Unlock()
	if h != nil {
		close(h.arrived)
		<-h.release
	}
}
