package refinery

import "sync"

// Lanes let one merge at a time into each target branch, across all the
// Refineries of a manager. Two rigs on one repository share their target's
// lane: the second compares its branch with the target only after the
// first merge landed, so it is updated and tested again rather than merged
// on a base it was never tested on.
type Lanes[T comparable] struct {
	mu      sync.Mutex
	holders map[string]T
	waiters map[string][]T
}

// Enter takes the lane for holder. When another holds it, Enter returns
// that one and false, and holder is told when the lane is free (Leave).
func (l *Lanes[T]) Enter(lane string, holder T) (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holders == nil {
		l.holders, l.waiters = map[string]T{}, map[string][]T{}
	}
	if h, busy := l.holders[lane]; busy && h != holder {
		for _, w := range l.waiters[lane] {
			if w == holder {
				return h, false
			}
		}
		l.waiters[lane] = append(l.waiters[lane], holder)
		return h, false
	}
	l.holders[lane] = holder
	return holder, true
}

// Leave frees holder's lane and returns those that found it taken since.
func (l *Lanes[T]) Leave(lane string, holder T) []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.holders[lane]; !ok || h != holder {
		return nil
	}
	delete(l.holders, lane)
	waiters := l.waiters[lane]
	delete(l.waiters, lane)
	return waiters
}
