package refinery

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Vouched answers a provider's reads from memory while the repository's
// webhook deliveries vouch for them: a pull request, its reviews and a
// commit's checks are read again only once a delivery (Observe) or one of
// the Refinery's own writes says they changed, or they are older than the
// maximum age. With a maximum age of zero, the default, every read goes to
// the provider. This is what lets a Refinery on webhooks spend its requests
// on what changed, where polling reads everything each time.
type Vouched struct {
	Provider

	mu     sync.Mutex
	now    func() time.Time
	maxAge time.Duration
	// epoch counts what was forgotten: a read in flight across a change
	// is not remembered.
	epoch   uint64
	pulls   map[int]vouched[PullRequest]
	reviews map[int]vouched[[]Review]
	checks  map[string]vouched[CheckSummary] // by checksKey
}

type vouched[T any] struct {
	value T
	at    time.Time
}

// NewVouched wraps a provider; SetMaxAge turns the memory on.
func NewVouched(p Provider) *Vouched {
	return &Vouched{Provider: p, now: time.Now,
		pulls: map[int]vouched[PullRequest]{}, reviews: map[int]vouched[[]Review]{}, checks: map[string]vouched[CheckSummary]{}}
}

// SetMaxAge is how long a read stays good without a delivery saying it
// changed; zero forgets everything and reads through.
func (v *Vouched) SetMaxAge(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if d == v.maxAge {
		return
	}
	v.maxAge = d
	v.epoch++
	if d == 0 {
		clear(v.pulls)
		clear(v.reviews)
		clear(v.checks)
	}
}

// Observe forgets what a webhook delivery says changed.
func (v *Vouched) Observe(w *Webhook) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.epoch++
	switch w.Event {
	case "pull_request":
		if w.Wakes() {
			v.forgetPull(w.PullRequest)
		}
	case "pull_request_review":
		if w.PullRequest == 0 {
			clear(v.reviews)
		}
		delete(v.reviews, w.PullRequest)
	case "status", "check_run", "check_suite":
		for key := range v.checks {
			if w.SHA == "" || strings.HasPrefix(key, w.SHA+"\x00") {
				delete(v.checks, key)
			}
		}
	case "push":
		// A moved base changes every pull request's mergeability; a moved
		// head comes with its synchronize too.
		clear(v.pulls)
	}
}

// Forget drops what was read of a pull request before changedAt, e.g. the
// end of a polecat that pushed to its branch.
func (v *Vouched) Forget(number int, changedAt time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.epoch++
	if e, ok := v.pulls[number]; ok && !e.at.After(changedAt) {
		delete(v.pulls, number)
	}
}

func (v *Vouched) forgetPull(number int) {
	if number == 0 {
		clear(v.pulls)
		return
	}
	delete(v.pulls, number)
}

// fresh says whether an entry read at at may still be used.
func (v *Vouched) fresh(at time.Time) bool {
	return v.maxAge > 0 && v.now().Sub(at) < v.maxAge
}

// CreatePullRequest opens a pull request. One it opened (not one it found
// open) has no reviews yet; its mergeability GitHub computes later.
func (v *Vouched) CreatePullRequest(ctx context.Context, in NewPullRequest) (*PullRequest, error) {
	pr, err := v.Provider.CreatePullRequest(ctx, in)
	if pr != nil && pr.Opened {
		v.mu.Lock()
		if v.maxAge > 0 {
			v.reviews[pr.Number] = vouched[[]Review]{at: v.now()}
		}
		v.mu.Unlock()
	}
	return pr, err
}

// GetPullRequest reads a pull request, or remembers it. One whose
// mergeability GitHub has not computed yet is not remembered: no delivery
// says when it has.
func (v *Vouched) GetPullRequest(ctx context.Context, number int) (*PullRequest, error) {
	pr, err := remembered(v, v.pulls, number, func(p PullRequest) PullRequest { return p }, func() (PullRequest, bool, error) {
		pr, err := v.Provider.GetPullRequest(ctx, number)
		if err != nil {
			return PullRequest{}, false, err
		}
		return *pr, pr.State != StateOpen || (pr.Mergeable != nil && pr.MergeableState != "unknown"), nil
	})
	if err != nil {
		return nil, err
	}
	return &pr, nil
}

// Reviews lists a pull request's reviews, or remembers them.
func (v *Vouched) Reviews(ctx context.Context, number int) ([]Review, error) {
	return remembered(v, v.reviews, number, slices.Clone, func() ([]Review, bool, error) {
		reviews, err := v.Provider.Reviews(ctx, number)
		return reviews, true, err
	})
}

// Checks summarises a commit's checks, or remembers them.
func (v *Vouched) Checks(ctx context.Context, sha string, required []string) (CheckSummary, error) {
	key := sha + "\x00" + strings.Join(required, "\x00")
	return remembered(v, v.checks, key, copySummary, func() (CheckSummary, bool, error) {
		sum, err := v.Provider.Checks(ctx, sha, required)
		return sum, true, err
	})
}

// remembered answers from m while its entry is fresh, and otherwise reads
// and remembers the answer if read says it may be, unless something was
// forgotten while the read was in flight: the answer may predate that
// change.
func remembered[K comparable, T any](v *Vouched, m map[K]vouched[T], key K, clone func(T) T, read func() (T, bool, error)) (T, error) {
	v.mu.Lock()
	e, ok := m[key]
	fresh := ok && v.fresh(e.at)
	epoch, start := v.epoch, v.now()
	v.mu.Unlock()
	if fresh {
		return clone(e.value), nil
	}
	value, keep, err := read()
	if err != nil {
		return value, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if keep && v.maxAge > 0 && v.epoch == epoch {
		m[key] = vouched[T]{value: clone(value), at: start}
	}
	return value, nil
}

// UpdateBranch moves the pull request's head.
func (v *Vouched) UpdateBranch(ctx context.Context, number int, headSHA string) error {
	defer v.drop(number)
	return v.Provider.UpdateBranch(ctx, number, headSHA)
}

// Merge merges, or fails on something the pull request as remembered did
// not show: either way it is read again.
func (v *Vouched) Merge(ctx context.Context, number int, headSHA, method, title, message string) (string, error) {
	defer v.drop(number)
	return v.Provider.Merge(ctx, number, headSHA, method, title, message)
}

func (v *Vouched) drop(number int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.epoch++
	delete(v.pulls, number)
}

func copySummary(s CheckSummary) CheckSummary {
	s.Checks = maps.Clone(s.Checks)
	s.Missing = slices.Clone(s.Missing)
	return s
}
