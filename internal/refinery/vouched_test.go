package refinery

import (
	"context"
	"testing"
	"time"
)

// countingProvider answers reads and counts them; during, when set, runs
// inside a pull request read, as a delivery arriving meanwhile would.
type countingProvider struct {
	Provider
	calls     map[string]int
	during    func()
	mergeable bool
	computing bool // GitHub has not computed mergeability yet
}

func (p *countingProvider) GetPullRequest(_ context.Context, n int) (*PullRequest, error) {
	p.calls["pull"]++
	if p.during != nil {
		p.during()
	}
	pr := &PullRequest{Number: n, State: StateOpen, HeadSHA: "abc", Mergeable: &p.mergeable, MergeableState: "clean"}
	if p.computing {
		pr.Mergeable, pr.MergeableState = nil, "unknown"
	}
	return pr, nil
}

func (p *countingProvider) Reviews(context.Context, int) ([]Review, error) {
	p.calls["reviews"]++
	return []Review{{ID: 1, State: ReviewApproved}}, nil
}

func (p *countingProvider) Checks(context.Context, string, []string) (CheckSummary, error) {
	p.calls["checks"]++
	return CheckSummary{State: CheckSuccess, Checks: map[string]string{"test": CheckSuccess}}, nil
}

func (p *countingProvider) CreatePullRequest(_ context.Context, in NewPullRequest) (*PullRequest, error) {
	p.calls["create"]++
	return &PullRequest{Number: 7, HeadBranch: in.Head, Opened: true}, nil
}

func (p *countingProvider) Merge(context.Context, int, string, string, string, string) (string, error) {
	p.calls["merge"]++
	return "", ErrHeadChanged
}

func TestVouchedReadsAgainOnlyWhatADeliverySaysChanged(t *testing.T) {
	ctx := context.Background()
	fake := &countingProvider{calls: map[string]int{}, mergeable: true}
	v := NewVouched(fake)
	clock := time.Unix(1_700_000_000, 0)
	v.now = func() time.Time { return clock }
	read := func() {
		t.Helper()
		if _, err := v.GetPullRequest(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Reviews(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Checks(ctx, "abc", nil); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(step string, want map[string]int) {
		t.Helper()
		for k, n := range want {
			if fake.calls[k] != n {
				t.Errorf("%s: %d %s reads, want %d (all: %v)", step, fake.calls[k], k, n, fake.calls)
			}
		}
	}

	read()
	read()
	expect("without a maximum age every read goes through", map[string]int{"pull": 2, "reviews": 2, "checks": 2})

	v.SetMaxAge(time.Minute)
	read()
	read()
	expect("remembered", map[string]int{"pull": 3, "reviews": 3, "checks": 3})

	v.Observe(&Webhook{Event: "pull_request", Action: "labeled", PullRequest: 1})
	read()
	expect("a label changes nothing the gate reads", map[string]int{"pull": 3, "reviews": 3, "checks": 3})

	v.Observe(&Webhook{Event: "pull_request_review", Action: "submitted", PullRequest: 1})
	v.Observe(&Webhook{Event: "status", SHA: "other"})
	read()
	expect("a review of #1 and a status of another commit", map[string]int{"pull": 3, "reviews": 4, "checks": 3})

	v.Observe(&Webhook{Event: "check_run", Action: "completed", SHA: "abc"})
	v.Observe(&Webhook{Event: "push", Ref: "refs/heads/main"})
	read()
	expect("a check run of the head and a push to the base", map[string]int{"pull": 4, "reviews": 4, "checks": 4})

	v.Forget(1, clock)
	read()
	expect("a polecat that ended after the read", map[string]int{"pull": 5})
	v.Forget(1, clock.Add(-time.Second))
	read()
	expect("a polecat that ended before it", map[string]int{"pull": 5})

	if _, err := v.Merge(ctx, 1, "abc", MergeSquash, "t", "m"); err == nil {
		t.Fatal("the fake's merge fails")
	}
	read()
	expect("a merge that failed on a changed head", map[string]int{"pull": 6})

	fake.during = func() { v.Observe(&Webhook{Event: "pull_request", Action: "synchronize", PullRequest: 1}) }
	v.Forget(1, clock)
	read()
	fake.during = nil
	read()
	expect("a read with a delivery in flight is not remembered", map[string]int{"pull": 8})

	clock = clock.Add(time.Minute)
	read()
	expect("older than the maximum age", map[string]int{"pull": 9, "reviews": 5, "checks": 5})

	pr, err := v.CreatePullRequest(ctx, NewPullRequest{Head: "polecat/gt-a"})
	if err != nil {
		t.Fatal(err)
	}
	if reviews, err := v.Reviews(ctx, pr.Number); err != nil || len(reviews) != 0 {
		t.Fatalf("reviews of a pull request just opened = %v, %v", reviews, err)
	}
	expect("a pull request just opened has no reviews to read", map[string]int{"reviews": 5})

	fake.computing = true
	v.Observe(&Webhook{Event: "push", Ref: "refs/heads/main"})
	read()
	read()
	fake.computing = false
	read()
	read()
	expect("mergeability not computed yet is read until it is", map[string]int{"pull": 12})

	v.SetMaxAge(0)
	read()
	expect("turned off", map[string]int{"pull": 13, "reviews": 6, "checks": 6})
}
