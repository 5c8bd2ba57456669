package dispatch

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

type beadOpt func(*gastownv1.Bead)

func bead(name string, opts ...beadOpt) gastownv1.Bead {
	b := gastownv1.Bead{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0)},
		Spec:       gastownv1.BeadSpec{RigRef: "rig", Title: name, Status: gastownv1.BeadOpen},
	}
	for _, o := range opts {
		o(&b)
	}
	return b
}

func prio(p int32) beadOpt { return func(b *gastownv1.Bead) { b.Spec.Priority = &p } }
func age(minutes int) beadOpt {
	return func(b *gastownv1.Bead) {
		b.CreationTimestamp = metav1.NewTime(t0.Add(-time.Duration(minutes) * time.Minute))
	}
}
func deps(d ...string) beadOpt { return func(b *gastownv1.Bead) { b.Spec.DependsOn = d } }
func closedBead() beadOpt      { return func(b *gastownv1.Bead) { b.Spec.Status = gastownv1.BeadClosed } }
func retryToken(v string) beadOpt {
	return func(b *gastownv1.Bead) { b.Annotations = map[string]string{gastownv1.RetryAnnotation: v} }
}
func title(t string) beadOpt { return func(b *gastownv1.Bead) { b.Spec.Title = t } }

// reviewed is what a bead whose first attempt pushed has: the attempt's
// polecat, and the Refinery's merge request for it in the given state.
func reviewed(b gastownv1.Bead, state string, edit ...func(*gastownv1.PullRequestStatus)) ([]gastownv1.Polecat, []gastownv1.MergeRequest) {
	pc := dispatched(b, b.Name, gastownv1.PolecatPhaseSucceeded, finished(1, gastownv1.OutcomePushed))
	mr := gastownv1.MergeRequest{
		ObjectMeta: metav1.ObjectMeta{Name: pc.Name},
		Spec:       gastownv1.MergeRequestSpec{BeadRef: b.Name, RigRef: "rig", Polecat: pc.Name, HeadBranch: "polecat/" + b.Name},
		Status:     gastownv1.MergeRequestStatus{PullRequestStatus: gastownv1.PullRequestStatus{Number: 7, State: state}},
	}
	for _, e := range edit {
		e(&mr.Status.PullRequestStatus)
	}
	return []gastownv1.Polecat{pc}, []gastownv1.MergeRequest{mr}
}

// generation is b at metadata.generation n.
func generation(b gastownv1.Bead, n int64) gastownv1.Bead {
	b.Generation = n
	return b
}

// mergedAt is a merge request whose merge the Refinery recorded when the
// bead was at generation n.
func mergedAt(mrs []gastownv1.MergeRequest, n int64) []gastownv1.MergeRequest {
	out := append([]gastownv1.MergeRequest(nil), mrs...)
	out[0].Status.BeadGeneration = n
	return out
}

type pcOpt func(*gastownv1.Polecat)

// dispatched is a polecat the dispatcher made for b as it is now.
func dispatched(b gastownv1.Bead, name string, phase gastownv1.PolecatPhase, opts ...pcOpt) gastownv1.Polecat {
	pc := gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0),
			Annotations: map[string]string{SpecHashAnnotation: b.Spec.Hash(), RetryAnnotation: b.Annotations[gastownv1.RetryAnnotation]}},
		Spec:   gastownv1.PolecatSpec{Rig: "rig", BeadID: b.Name, DesiredState: gastownv1.DesiredWorking},
		Status: gastownv1.PolecatStatus{Phase: phase},
	}
	for _, o := range opts {
		o(&pc)
	}
	return pc
}

func finished(minutesAgo int, outcome gastownv1.PolecatOutcome) pcOpt {
	return func(pc *gastownv1.Polecat) {
		at := metav1.NewTime(t0.Add(-time.Duration(minutesAgo) * time.Minute))
		pc.Status.CompletedAt = &at
		pc.Status.Result = &gastownv1.PolecatResult{Outcome: outcome, Branch: "polecat/" + pc.Spec.BeadID}
	}
}

func created(minutesAgo int) pcOpt {
	return func(pc *gastownv1.Polecat) {
		pc.CreationTimestamp = metav1.NewTime(t0.Add(-time.Duration(minutesAgo) * time.Minute))
	}
}

func convoy(name string, parallelism int32, beads ...string) gastownv1.Convoy {
	return gastownv1.Convoy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: gastownv1.ConvoySpec{TrackedBeads: beads, Parallelism: parallelism}}
}

var defaultRig = Rig{MaxPolecats: 5, MaxRetries: 2, RetryBackoff: time.Minute, MaxBackoff: 10 * time.Minute}

func rigWith(f func(*Rig)) Rig {
	r := defaultRig
	f(&r)
	return r
}

func TestDecide(t *testing.T) {
	a, b, c := bead("gt-a"), bead("gt-b"), bead("gt-c")
	failedA := dispatched(a, "gt-a", gastownv1.PolecatPhaseFailed, finished(5, gastownv1.OutcomeAgentFailed), created(20))
	pushedA, openA := reviewed(a, gastownv1.PullRequestOpen)
	_, closedA := reviewed(a, gastownv1.PullRequestClosed)
	_, mergedA := reviewed(a, gastownv1.PullRequestMerged)
	tests := []struct {
		name          string
		rig           Rig
		beads         []gastownv1.Bead
		polecats      []gastownv1.Polecat
		mergeRequests []gastownv1.MergeRequest
		convoys       []gastownv1.Convoy
		want          []string // polecat names created, in order
		ready         int
		retryAt       time.Time
	}{
		{name: "every ready bead within the rig limit", beads: []gastownv1.Bead{a, b, c}, want: []string{"gt-a", "gt-b", "gt-c"}, ready: 3},
		{name: "rig limit: highest priority first", rig: rigWith(func(r *Rig) { r.MaxPolecats = 1 }),
			beads: []gastownv1.Bead{bead("gt-low", prio(3)), bead("gt-high", prio(0)), bead("gt-mid")}, want: []string{"gt-high"}, ready: 3},
		{name: "same priority: oldest first", rig: rigWith(func(r *Rig) { r.MaxPolecats = 2 }),
			beads: []gastownv1.Bead{bead("gt-new", age(1)), bead("gt-old", age(60)), bead("gt-mid", age(30))}, want: []string{"gt-old", "gt-mid"}, ready: 3},
		{name: "running polecats take slots", rig: rigWith(func(r *Rig) { r.MaxPolecats = 2 }),
			beads: []gastownv1.Bead{a, b, c}, polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseWorking)},
			want: []string{"gt-b"}, ready: 2},
		{name: "a bead with a live polecat is not dispatched again",
			beads: []gastownv1.Bead{a}, polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhasePending)}, ready: 0},
		{name: "dependencies not closed block", beads: []gastownv1.Bead{bead("gt-api", deps("gt-db")), bead("gt-db")}, want: []string{"gt-db"}, ready: 1},
		{name: "closed dependencies unblock", beads: []gastownv1.Bead{bead("gt-api", deps("gt-db")), bead("gt-db", closedBead())}, want: []string{"gt-api"}, ready: 1},
		{name: "a dependency that does not exist blocks nothing, as in bd", beads: []gastownv1.Bead{bead("gt-api", deps("gt-gone"))},
			want: []string{"gt-api"}, ready: 1},
		{name: "closed beads are never dispatched", beads: []gastownv1.Bead{bead("gt-done", closedBead())}, ready: 0},
		{name: "convoy parallelism limits its beads",
			beads: []gastownv1.Bead{a, b, c}, convoys: []gastownv1.Convoy{convoy("sprint", 1, "gt-a", "gt-b")},
			want: []string{"gt-a", "gt-c"}, ready: 3},
		{name: "convoy parallelism counts running polecats",
			beads: []gastownv1.Bead{a, b, c}, convoys: []gastownv1.Convoy{convoy("sprint", 1, "gt-a", "gt-b")},
			polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseWorking)}, want: []string{"gt-c"}, ready: 2},
		{name: "a bead in two convoys respects both",
			beads: []gastownv1.Bead{a, b}, convoys: []gastownv1.Convoy{convoy("one", 0, "gt-a", "gt-b"), convoy("two", 1, "gt-a", "gt-b")},
			want: []string{"gt-a"}, ready: 2},
		{name: "convoy parallelism 0 means only the rig limit", beads: []gastownv1.Bead{a, b},
			convoys: []gastownv1.Convoy{convoy("free", 0, "gt-a", "gt-b")}, want: []string{"gt-a", "gt-b"}, ready: 2},
		{name: "pushed work is not dispatched again", beads: []gastownv1.Bead{a},
			polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseSucceeded, finished(1, gastownv1.OutcomePushed))}, ready: 0},
		{name: "a failed attempt waits for its backoff", beads: []gastownv1.Bead{a},
			polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseFailed, finished(0, gastownv1.OutcomeAgentFailed))},
			ready:    0, retryAt: t0.Add(time.Minute)},
		{name: "a failed attempt is retried after its backoff with the next name", beads: []gastownv1.Bead{a},
			polecats: []gastownv1.Polecat{failedA}, want: []string{"gt-a-2"}, ready: 1},
		{name: "the second retry waits twice as long", beads: []gastownv1.Bead{a},
			polecats: []gastownv1.Polecat{failedA, dispatched(a, "gt-a-2", gastownv1.PolecatPhaseFailed, finished(1, gastownv1.OutcomeGitFailed), created(3))},
			ready:    0, retryAt: t0.Add(time.Minute)},
		{name: "attempts exhausted: no more runs", beads: []gastownv1.Bead{a}, polecats: []gastownv1.Polecat{failedA,
			dispatched(a, "gt-a-2", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(40)),
			dispatched(a, "gt-a-3", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeNoChanges), created(35))}, ready: 0},
		{name: "an edited bead is dispatched again after exhausting attempts", beads: []gastownv1.Bead{bead("gt-a", title("clearer task"))},
			polecats: []gastownv1.Polecat{failedA,
				dispatched(a, "gt-a-2", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(40)),
				dispatched(a, "gt-a-3", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(35))},
			want: []string{"gt-a-4"}, ready: 1},
		{name: "a new retry token dispatches a terminated bead", beads: []gastownv1.Bead{bead("gt-a", retryToken("1"))},
			polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseTerminated, finished(30, gastownv1.OutcomeError))},
			want:     []string{"gt-a-2"}, ready: 1},
		{name: "a terminated polecat is not retried by itself", beads: []gastownv1.Bead{a},
			polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseTerminated, finished(30, gastownv1.OutcomeError))}, ready: 0},
		{name: "an open pull request is the refinery's", beads: []gastownv1.Bead{a}, polecats: pushedA, mergeRequests: openA, ready: 0},
		{name: "a rejected bead waits for an edit", beads: []gastownv1.Bead{a}, polecats: pushedA, mergeRequests: closedA, ready: 0},
		{name: "a rejected bead that was edited is dispatched, with its next name", beads: []gastownv1.Bead{bead("gt-a", title("v2"))},
			polecats: pushedA, mergeRequests: closedA, want: []string{"gt-a-2"}, ready: 1},
		{name: "a merged bead reopened in git is dispatched again", beads: []gastownv1.Bead{bead("gt-a", title("v2"))},
			polecats: pushedA, mergeRequests: mergedA, want: []string{"gt-a-2"}, ready: 1},
		{name: "a finished polecat made by hand does not hold the bead's name", beads: []gastownv1.Bead{a},
			polecats: []gastownv1.Polecat{{ObjectMeta: metav1.ObjectMeta{Name: "gt-a"}, Spec: gastownv1.PolecatSpec{BeadID: "gt-a"},
				Status: gastownv1.PolecatStatus{Phase: gastownv1.PolecatPhaseSucceeded}}},
			want: []string{"gt-a-2"}, ready: 1},
		{name: "idle polecats take no slot", rig: rigWith(func(r *Rig) { r.MaxPolecats = 1 }), beads: []gastownv1.Bead{b},
			polecats: []gastownv1.Polecat{{ObjectMeta: metav1.ObjectMeta{Name: "idle"}, Spec: gastownv1.PolecatSpec{DesiredState: gastownv1.DesiredIdle}, Status: gastownv1.PolecatStatus{Phase: gastownv1.PolecatPhaseIdle}}},
			want:     []string{"gt-b"}, ready: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := tt.rig
			if rig.MaxPolecats == 0 {
				rig = defaultRig
			}
			plan := Decide(rig, tt.beads, tt.polecats, tt.mergeRequests, tt.convoys, t0)
			var got []string
			for _, d := range plan.Create {
				got = append(got, d.Polecat)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("created %v, want %v", got, tt.want)
			}
			if plan.Ready != tt.ready {
				t.Errorf("ready = %d, want %d", plan.Ready, tt.ready)
			}
			if !plan.RetryAt.Equal(tt.retryAt) {
				t.Errorf("retryAt = %v, want %v", plan.RetryAt, tt.retryAt)
			}
		})
	}
}

func TestDecisionCarriesAttemptAndHash(t *testing.T) {
	a := bead("gt-a", retryToken("r1"))
	failed := dispatched(a, "gt-a", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(40))
	plan := Decide(defaultRig, []gastownv1.Bead{a}, []gastownv1.Polecat{failed}, nil, nil, t0)
	if len(plan.Create) != 1 {
		t.Fatalf("plan %+v", plan)
	}
	d := plan.Create[0]
	want := Decision{Bead: "gt-a", Polecat: "gt-a-2", Attempt: 2, Run: 2, SpecHash: a.Spec.Hash(), Retry: "r1"}
	if d != want {
		t.Errorf("decision %+v, want %+v", d, want)
	}
}

func TestEvaluatePhases(t *testing.T) {
	a := bead("gt-a")
	inReview, openMR := reviewed(a, gastownv1.PullRequestOpen)
	_, mergedMR := reviewed(a, gastownv1.PullRequestMerged)
	_, closedMR := reviewed(a, gastownv1.PullRequestClosed)
	_, failedMR := reviewed(a, gastownv1.PullRequestOpen, func(s *gastownv1.PullRequestStatus) { s.Failure = "conflicts" })
	// The same bead after the work: reopened with a new description, or
	// retried with the annotation.
	reopened := bead("gt-a", func(b *gastownv1.Bead) { b.Spec.Description = "do it again, differently" })
	retried := bead("gt-a", retryToken("again"))
	tests := []struct {
		name          string
		bead          gastownv1.Bead
		polecats      []gastownv1.Polecat
		mergeRequests []gastownv1.MergeRequest
		others        []gastownv1.Bead
		phase         gastownv1.BeadPhase
		reason        string
		message       string
	}{
		{name: "ready", bead: a, phase: gastownv1.BeadPhaseReady},
		{name: "blocked names the open dependencies", bead: bead("gt-b", deps("gt-x", "gt-y", "gt-missing")), others: []gastownv1.Bead{bead("gt-x"), bead("gt-y", closedBead())},
			phase: gastownv1.BeadPhaseBlocked, message: "waiting for gt-x to close"},
		{name: "working", bead: a, polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseWorking)},
			phase: gastownv1.BeadPhaseWorking, message: "polecat gt-a is working"},
		{name: "pushed, waiting for the refinery", bead: a,
			polecats: []gastownv1.Polecat{dispatched(a, "gt-a", gastownv1.PolecatPhaseSucceeded, finished(1, gastownv1.OutcomePushed))},
			phase:    gastownv1.BeadPhaseInReview, reason: gastownv1.WaitingReason},
		{name: "in review", bead: a, polecats: inReview, mergeRequests: openMR, phase: gastownv1.BeadPhaseInReview, message: "pull request #7 is open"},
		{name: "merged", bead: a, polecats: inReview, mergeRequests: mergedMR, phase: gastownv1.BeadPhaseMerged},
		{name: "closed in git wins", bead: bead("gt-a", closedBead()), polecats: inReview, mergeRequests: mergedMR, phase: gastownv1.BeadPhaseClosed},
		{name: "rejected", bead: a, polecats: inReview, mergeRequests: closedMR, phase: gastownv1.BeadPhaseRejected, reason: gastownv1.PullRequestClosedReason},
		{name: "given up by the refinery", bead: a, polecats: inReview, mergeRequests: failedMR, phase: gastownv1.BeadPhaseFailed, reason: gastownv1.MergeConflictReason},
		{name: "reopened after merge runs again", bead: reopened, polecats: inReview, mergeRequests: mergedMR, phase: gastownv1.BeadPhaseReady},
		{name: "edited after rejection runs again", bead: reopened, polecats: inReview, mergeRequests: closedMR, phase: gastownv1.BeadPhaseReady},
		{name: "retried after rejection runs again", bead: retried, polecats: inReview, mergeRequests: closedMR, phase: gastownv1.BeadPhaseReady},
		// Its branch is the bead's: the Refinery closes the failed pull
		// request and deletes the branch before the bead runs again.
		{name: "edited after the refinery gave up waits for its pull request to close", bead: reopened, polecats: inReview, mergeRequests: failedMR,
			phase: gastownv1.BeadPhaseInReview, message: "the refinery closes it, then the bead runs again"},
		{name: "retried after the refinery gave up waits too", bead: retried, polecats: inReview, mergeRequests: failedMR,
			phase: gastownv1.BeadPhaseInReview, message: "the refinery closes it"},
		{name: "merged, the bead unchanged since the merge", bead: generation(a, 3), polecats: inReview,
			mergeRequests: mergedAt(mergedMR, 3), phase: gastownv1.BeadPhaseMerged},
		{name: "reopened after merge, its file as it was before", bead: generation(a, 5), polecats: inReview,
			mergeRequests: mergedAt(mergedMR, 3), phase: gastownv1.BeadPhaseReady},
		{name: "edited while in review, then merged", bead: generation(reopened, 4), polecats: inReview,
			mergeRequests: mergedAt(mergedMR, 4), phase: gastownv1.BeadPhaseMerged},
		{name: "edited while in review waits for the open pull request", bead: reopened, polecats: inReview, mergeRequests: openMR, phase: gastownv1.BeadPhaseInReview},
		{name: "another bead's merge request is not this one's", bead: bead("gt-b"), polecats: []gastownv1.Polecat{
			dispatched(bead("gt-b"), "gt-a", gastownv1.PolecatPhaseSucceeded, finished(1, gastownv1.OutcomePushed))},
			mergeRequests: mergedMR, phase: gastownv1.BeadPhaseInReview, reason: gastownv1.WaitingReason},
		{name: "failed after retries, with the last reason", bead: a, polecats: []gastownv1.Polecat{
			dispatched(a, "gt-a", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(50)),
			dispatched(a, "gt-a-2", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(45)),
			dispatched(a, "gt-a-3", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeGitFailed), created(40))},
			phase: gastownv1.BeadPhaseFailed, reason: gastownv1.RetriesExhaustedReason, message: "3 attempts failed, last: GitFailed"},
		{name: "no rig", bead: func() gastownv1.Bead { b := bead("gt-a"); b.Spec.RigRef = ""; return b }(), phase: gastownv1.BeadPhaseOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGraph(SourceOfBeads(append([]gastownv1.Bead{tt.bead}, tt.others...)))
			st := Evaluate(&tt.bead, tt.polecats, tt.mergeRequests, g, defaultRig, t0)
			if st.Phase != tt.phase {
				t.Errorf("phase %s (%s), want %s", st.Phase, st.Message, tt.phase)
			}
			if tt.reason != "" && st.Reason != tt.reason {
				t.Errorf("reason %s, want %s", st.Reason, tt.reason)
			}
			if tt.message != "" && !strings.Contains(st.Message, tt.message) {
				t.Errorf("message %q, want it to contain %q", st.Message, tt.message)
			}
		})
	}
}

// TestDecideSkipsBeadsThePolicyRefuses: a bead asking for an image is
// Failed with PolicyViolation and gets no polecat; the others still do. A
// bead whose work is already pushed is not undone by the policy.
func TestDecideSkipsBeadsThePolicyRefuses(t *testing.T) {
	policy := beads.DefaultPolicy()
	rig := defaultRig
	rig.Policy = &policy
	hostile := bead("gt-evil", prio(0), func(b *gastownv1.Bead) {
		b.Spec.Agent = &gastownv1.AgentSpec{AgentConfig: gastownv1.AgentConfig{Image: "evil:latest"}}
	})
	good := bead("gt-good", prio(4))
	plan := Decide(rig, []gastownv1.Bead{hostile, good}, nil, nil, nil, t0)
	if len(plan.Create) != 1 || plan.Create[0].Bead != "gt-good" {
		t.Fatalf("created %+v, want gt-good alone", plan.Create)
	}
	st := Evaluate(&hostile, nil, nil, nil, rig, t0)
	if st.Phase != gastownv1.BeadPhaseFailed || st.Reason != gastownv1.PolicyViolationReason || !strings.Contains(st.Message, "spec.agent.image: a bead may not choose an image") {
		t.Errorf("got %s %s %q, want Failed PolicyViolation naming spec.agent.image", st.Phase, st.Reason, st.Message)
	}
	done := dispatched(hostile, "gt-evil", gastownv1.PolecatPhaseSucceeded, func(pc *gastownv1.Polecat) {
		pc.Status.Result = &gastownv1.PolecatResult{Outcome: gastownv1.OutcomePushed, Branch: "polecat/gt-evil"}
	})
	if st := Evaluate(&hostile, []gastownv1.Polecat{done}, nil, nil, rig, t0); st.Phase != gastownv1.BeadPhaseInReview {
		t.Errorf("pushed work: got %s %s, want InReview", st.Phase, st.Reason)
	}
}

// TestRecordIsReadFromThePolecats: the dispatch record is the polecats'
// annotations summed up; follow-ups and polecats made by hand do not count.
func TestRecordIsReadFromThePolecats(t *testing.T) {
	a := bead("gt-a")
	if d := Record(&a, nil); d != nil {
		t.Fatalf("no polecats: got %+v, want nil", d)
	}
	first := dispatched(a, "gt-a", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(40))
	retried := bead("gt-a", retryToken("r1"))
	second := dispatched(retried, "gt-a-2", gastownv1.PolecatPhaseWorking, created(20))
	revision := dispatched(retried, "gt-a-rev-1", gastownv1.PolecatPhaseWorking, created(10), func(pc *gastownv1.Polecat) {
		pc.Spec.Purpose = gastownv1.PurposeRevision
	})
	d := Record(&retried, []gastownv1.Polecat{revision, second, first})
	if d == nil || d.Polecat != "gt-a-2" || d.Runs != 2 || d.Attempts != 1 || d.Retry != "r1" || d.SpecHash != retried.Spec.Hash() {
		t.Fatalf("got %+v, want gt-a-2, 2 runs, 1 attempt for retry r1", d)
	}
}

// TestHasSlot: a follow-up polecat fits when the rig's limit and the
// bead's convoys leave room, counting every live polecat of the rig.
func TestHasSlot(t *testing.T) {
	rig := rigWith(func(r *Rig) { r.MaxPolecats = 2 })
	sprint := []gastownv1.Convoy{convoy("sprint", 1, "gt-a", "gt-b")}
	b := bead("gt-b")
	workingB := dispatched(b, "gt-b", gastownv1.PolecatPhaseWorking, func(pc *gastownv1.Polecat) {
		pc.Labels = map[string]string{gastownv1.BeadLabel: "gt-b"}
	})
	done := dispatched(bead("gt-c"), "gt-c", gastownv1.PolecatPhaseSucceeded)
	for _, tt := range []struct {
		name     string
		bead     string
		polecats []gastownv1.Polecat
		want     bool
	}{
		{"a free rig", "gt-a", nil, true},
		{"the convoy's one slot is taken", "gt-a", []gastownv1.Polecat{workingB}, false},
		{"a bead outside the convoy", "gt-c", []gastownv1.Polecat{workingB, done}, true},
		{"the rig is full", "gt-c", []gastownv1.Polecat{workingB, dispatched(bead("gt-d"), "gt-d", gastownv1.PolecatPhasePending)}, false},
	} {
		if got := HasSlot(rig, tt.bead, tt.polecats, sprint); got != tt.want {
			t.Errorf("%s: HasSlot = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestNamesNoBeadsShare: bead health's second run would be health-2, the
// name of bead health-2's first; and a run under a skipped name is not
// taken for the next one.
func TestNamesNoBeadsShare(t *testing.T) {
	health, health2 := bead("health"), bead("health-2")
	first := dispatched(health, "health", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(40))
	other := dispatched(health2, "health-2", gastownv1.PolecatPhaseFailed, finished(30, gastownv1.OutcomeAgentFailed), created(40))
	plan := Decide(defaultRig, []gastownv1.Bead{health}, []gastownv1.Polecat{first, other}, nil, nil, t0)
	if len(plan.Create) != 1 || plan.Create[0].Polecat != "health-3" || plan.Create[0].Run != 3 {
		t.Fatalf("health's second run: %+v, want polecat health-3", plan.Create)
	}

	// Its third run, once health-3 failed too, is health-4: health-3 is its
	// own and counted, but its name is held.
	third := dispatched(health, "health-3", gastownv1.PolecatPhaseFailed, finished(5, gastownv1.OutcomeAgentFailed), created(10))
	plan = Decide(rigWith(func(r *Rig) { r.MaxRetries = 5 }), []gastownv1.Bead{health}, []gastownv1.Polecat{first, other, third}, nil, nil, t0)
	if len(plan.Create) != 1 || plan.Create[0].Polecat != "health-4" {
		t.Fatalf("health's third run: %+v, want polecat health-4", plan.Create)
	}

	// Decided in one plan, health's second run leaves health-2 to bead
	// health-2's first.
	plan = Decide(defaultRig, []gastownv1.Bead{health, health2}, []gastownv1.Polecat{first}, nil, nil, t0)
	got := map[string]string{}
	for _, d := range plan.Create {
		got[d.Bead] = d.Polecat
	}
	if got["health"] != "health-3" || got["health-2"] != "health-2" {
		t.Fatalf("polecats by bead %v, want health: health-3, health-2: health-2", got)
	}
}

// TestNamesNoOtherRigHolds: another rig sharing the workers namespace holds
// polecat health (its own bead health's) and bead health-2: this rig's
// bead health runs as health-3, never under their names.
func TestNamesNoOtherRigHolds(t *testing.T) {
	elsewhere := rigWith(func(r *Rig) {
		r.PolecatExists = func(name string) bool { return name == "health" }
		r.BeadExists = func(name string) bool { return name == "health-2" }
	})
	plan := Decide(elsewhere, []gastownv1.Bead{bead("health")}, nil, nil, nil, t0)
	if len(plan.Create) != 1 || plan.Create[0].Polecat != "health-3" {
		t.Fatalf("health's first run: %+v, want polecat health-3", plan.Create)
	}
	// A bead's first run is named after the bead itself, whose name no
	// other bead holds: the bead check is for later runs only.
	own := rigWith(func(r *Rig) { r.BeadExists = func(string) bool { return true } })
	plan = Decide(own, []gastownv1.Bead{bead("health")}, nil, nil, nil, t0)
	if len(plan.Create) != 1 || plan.Create[0].Polecat != "health" {
		t.Fatalf("health's first run: %+v, want polecat health", plan.Create)
	}
}
