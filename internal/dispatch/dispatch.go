// Package dispatch decides which beads of a rig get a polecat now, and what
// phase each bead is in. It is plain Go over snapshots of the rig's beads,
// polecats and convoys, so that one decision per rig holds the limits and
// can be table-tested without a cluster.
package dispatch

import (
	"fmt"
	"sort"
	"strings"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
)

// Annotations a dispatched Polecat carries, so that attempts can be counted
// from the polecats themselves after any restart.
const (
	SpecHashAnnotation = "gastown.gastown.io/spec-hash"
	RetryAnnotation    = "gastown.gastown.io/retry-token"
	// ReadySinceAnnotation on a polecat is its bead's status.readySince
	// when the Rig made it (RFC 3339): where its dispatch latency starts.
	ReadySinceAnnotation = "gastown.gastown.io/bead-ready-since"
)

// CachedSpecHashAnnotation is set on the operator's cached copy of a bead
// only, never on the API server's (a bead file cannot set it): the cache
// drops the bead's text, so the hash of its whole spec is taken before (see
// SpecHash).
const CachedSpecHashAnnotation = "gastown.gastown.io/cached-spec-hash"

// OutlinedAnnotation marks the operator's cached copies of beads, with a
// value each manager process makes afresh: a bead without text keeps its
// CachedSpecHashAnnotation only under that mark. Never written either.
const OutlinedAnnotation = "gastown.gastown.io/outlined-by"

// SpecHash is the hash of the bead's spec: the one its cached copy carries,
// taken before the cache dropped the text, or else the spec's own. Both
// are the hash `kubectl gt sling` takes of the bead it reads.
func SpecHash(b *gastownv1.Bead) string {
	if h := b.Annotations[CachedSpecHashAnnotation]; h != "" {
		return h
	}
	return b.Spec.Hash()
}

// Rig holds the limits of one decision.
type Rig struct {
	MaxPolecats int
	MaxRetries  int
	// RetryBackoff is the wait before the first retry; it doubles per retry,
	// up to MaxBackoff.
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// WorkTypes are the bead types dispatched: the BeadStore's
	// spec.workTypes, gastownv1.DefaultWorkTypes when empty.
	WorkTypes []gastownv1.BeadType
	// Policy is what the rig lets its beads choose (beads.PolicyOf); a bead
	// that asks for more is Failed with reason PolicyViolation and never
	// dispatched. Nil checks nothing.
	Policy *beads.Policy
	// PolecatExists and BeadExists say whether the workers namespace holds
	// a polecat, or a bead, of that name beyond the ones given to Decide:
	// another rig's, or one made by hand. A run never takes such a name.
	// Nil: none.
	PolecatExists, BeadExists func(name string) bool
}

// Decision is a polecat to create for a bead.
type Decision struct {
	Bead     string
	Polecat  string
	Attempt  int // 1-based, for the bead's current spec and retry token
	Run      int // 1-based, over the bead's whole life
	SpecHash string
	Retry    string
}

// Plan is the outcome of one dispatch decision.
type Plan struct {
	Create []Decision
	// Ready counts beads that are ready, including those not created for
	// lack of a slot.
	Ready int
	// Running counts live polecats of the rig.
	Running int
	// RetryAt is the earliest time a bead waiting in backoff becomes ready.
	RetryAt time.Time
}

// Decide returns the polecats to create now. mergeRequests are the rig's
// (the Refinery's records of pushed work), which hold a bead whose pull
// request is open, merged or closed.
func Decide(rig Rig, beads []gastownv1.Bead, polecats []gastownv1.Polecat, mergeRequests []gastownv1.MergeRequest, convoys []gastownv1.Convoy, now time.Time) Plan {
	byBead := polecatsByBead(polecats)
	mrsByBead := mergeRequestsByBead(mergeRequests)
	graph := NewGraph(SourceOfBeads(beads))

	var plan Plan
	convoyRunning := map[string]int{}
	// Convoys track bead IDs; polecats name the bead object.
	idOfName := make(map[string]string, len(beads))
	for i := range beads {
		idOfName[beads[i].Name] = beads[i].BeadID()
	}
	beadConvoys := map[string][]*gastownv1.Convoy{}
	for i := range convoys {
		c := &convoys[i]
		for _, id := range c.Spec.TrackedBeads {
			beadConvoys[id] = append(beadConvoys[id], c)
		}
	}
	for i := range polecats {
		pc := &polecats[i]
		if IsLive(pc) {
			plan.Running++
			id, ok := idOfName[pc.Spec.BeadID]
			if !ok {
				id = pc.Spec.BeadID
			}
			for _, c := range beadConvoys[id] {
				convoyRunning[c.Name]++
			}
		}
	}

	var ready []*gastownv1.Bead
	for i := range beads {
		b := &beads[i]
		st := Evaluate(b, byBead[b.Name], mrsByBead[b.Name], graph, rig, now)
		if st.Phase != gastownv1.BeadPhaseReady {
			continue
		}
		if !st.RetryAt.IsZero() {
			if plan.RetryAt.IsZero() || st.RetryAt.Before(plan.RetryAt) {
				plan.RetryAt = st.RetryAt
			}
			continue
		}
		ready = append(ready, b)
	}
	plan.Ready = len(ready)
	sort.SliceStable(ready, func(i, j int) bool { return less(ready[i], ready[j]) })

	names := heldNamesOf(rig, beads, polecats)
	slots := rig.MaxPolecats - plan.Running
	for _, b := range ready {
		if slots <= 0 {
			break
		}
		if !convoysAllow(beadConvoys[b.BeadID()], convoyRunning) {
			continue
		}
		d := nextDecision(b, byBead[b.Name], names)
		names.polecats[d.Polecat] = true
		plan.Create = append(plan.Create, d)
		slots--
		for _, c := range beadConvoys[b.BeadID()] {
			convoyRunning[c.Name]++
		}
	}
	return plan
}

// HasSlot says whether one more polecat for the bead with ID beadID fits
// the rig's maxPolecats and the parallelism of the bead's convoys, given
// the rig's polecats: the Refinery's revision and conflict polecats take
// slots like the dispatcher's.
func HasSlot(rig Rig, beadID string, polecats []gastownv1.Polecat, convoys []gastownv1.Convoy) bool {
	tracking := map[string][]*gastownv1.Convoy{}
	for i := range convoys {
		for _, id := range convoys[i].Spec.TrackedBeads {
			tracking[id] = append(tracking[id], &convoys[i])
		}
	}
	running, convoyRunning := 0, map[string]int{}
	for i := range polecats {
		pc := &polecats[i]
		if !IsLive(pc) {
			continue
		}
		running++
		id := pc.Labels[gastownv1.BeadLabel]
		if id == "" {
			id = pc.Spec.BeadID
		}
		for _, c := range tracking[id] {
			convoyRunning[c.Name]++
		}
	}
	return running < rig.MaxPolecats && convoysAllow(tracking[beadID], convoyRunning)
}

// less orders beads by priority, then age, then name.
func less(a, b *gastownv1.Bead) bool {
	if pa, pb := a.Spec.PriorityValue(), b.Spec.PriorityValue(); pa != pb {
		return pa < pb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

func convoysAllow(convoys []*gastownv1.Convoy, running map[string]int) bool {
	for _, c := range convoys {
		if c.Spec.Parallelism > 0 && running[c.Name] >= int(c.Spec.Parallelism) {
			return false
		}
	}
	return true
}

// heldNames are the names a run may not take: every polecat's, every
// name the plan gives, and, for a later run, every bead's (its own first
// run's): bead health's second run and bead health-2's first would both
// be health-2.
type heldNames struct {
	polecats, beads map[string]bool
	rig             Rig
}

func heldNamesOf(rig Rig, beads []gastownv1.Bead, polecats []gastownv1.Polecat) heldNames {
	h := heldNames{polecats: make(map[string]bool, len(polecats)), beads: make(map[string]bool, len(beads)), rig: rig}
	for i := range polecats {
		h.polecats[polecats[i].Name] = true
	}
	for i := range beads {
		h.beads[beads[i].Name] = true
	}
	return h
}

// free says whether the run-th polecat of a bead may be named name.
func (h heldNames) free(name string, run int) bool {
	if h.polecats[name] || (h.rig.PolecatExists != nil && h.rig.PolecatExists(name)) {
		return false
	}
	if run == 1 {
		return true
	}
	return !h.beads[name] && (h.rig.BeadExists == nil || !h.rig.BeadExists(name))
}

// nextDecision names the bead's next polecat: the bead ID for its first run,
// then <id>-<run>, skipping the names held. Names depend only on the
// objects that exist, so a restart computes the same name and never
// creates a twin.
func nextDecision(b *gastownv1.Bead, polecats []gastownv1.Polecat, names heldNames) Decision {
	runs := 0
	for i := range polecats {
		if IsDispatched(&polecats[i]) {
			runs++
		}
	}
	// A taken name is skipped, the bead's own runs' included: adopting it
	// would count another run (or another bead's) as this one.
	run := runs + 1
	for !names.free(PolecatName(b.Name, run), run) {
		run++
	}
	return Decision{
		Bead:     b.Name,
		Polecat:  PolecatName(b.Name, run),
		Attempt:  len(currentAttempts(b, polecats)) + 1,
		Run:      run,
		SpecHash: SpecHash(b),
		Retry:    b.Annotations[gastownv1.RetryAnnotation],
	}
}

// PolecatName is the name of a bead's run-th dispatched polecat.
func PolecatName(bead string, run int) string {
	if run <= 1 {
		return bead
	}
	return fmt.Sprintf("%s-%d", bead, run)
}

// IsDispatched says whether pc counts as a run of its bead: the dispatcher
// (or `kubectl gt sling`) made it for a spec hash; review or conflict
// follow-ups and polecats made by hand do not count.
func IsDispatched(pc *gastownv1.Polecat) bool {
	_, ok := pc.Annotations[SpecHashAnnotation]
	return ok && pc.Spec.Purpose != gastownv1.PurposeRevision && pc.Spec.Purpose != gastownv1.PurposeConflictFix
}

// currentAttempts are the dispatched polecats for the bead's current spec
// and retry token, oldest first.
func currentAttempts(b *gastownv1.Bead, polecats []gastownv1.Polecat) []*gastownv1.Polecat {
	hash, retry := SpecHash(b), b.Annotations[gastownv1.RetryAnnotation]
	var out []*gastownv1.Polecat
	for i := range polecats {
		pc := &polecats[i]
		if IsDispatched(pc) && pc.Annotations[SpecHashAnnotation] == hash && pc.Annotations[RetryAnnotation] == retry {
			out = append(out, pc)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) ||
			(out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) && out[i].Name < out[j].Name)
	})
	return out
}

func mergeRequestsByBead(mrs []gastownv1.MergeRequest) map[string][]gastownv1.MergeRequest {
	out := map[string][]gastownv1.MergeRequest{}
	for _, mr := range mrs {
		out[mr.Spec.BeadRef] = append(out[mr.Spec.BeadRef], mr)
	}
	return out
}

// Record sums up the bead's dispatched polecats: nil when there are none.
func Record(b *gastownv1.Bead, polecats []gastownv1.Polecat) *gastownv1.DispatchStatus {
	var last *gastownv1.Polecat
	runs := 0
	for i := range polecats {
		pc := &polecats[i]
		if !IsDispatched(pc) {
			continue
		}
		runs++
		if last == nil || last.CreationTimestamp.Before(&pc.CreationTimestamp) ||
			(last.CreationTimestamp.Equal(&pc.CreationTimestamp) && last.Name < pc.Name) {
			last = pc
		}
	}
	if last == nil {
		return nil
	}
	d := &gastownv1.DispatchStatus{
		Polecat:  last.Name,
		SpecHash: last.Annotations[SpecHashAnnotation],
		Retry:    last.Annotations[RetryAnnotation],
		Runs:     int32(runs),
	}
	created := last.CreationTimestamp
	d.LastDispatchTime = &created
	for i := range polecats {
		pc := &polecats[i]
		if IsDispatched(pc) && pc.Annotations[SpecHashAnnotation] == d.SpecHash && pc.Annotations[RetryAnnotation] == d.Retry {
			d.Attempts++
		}
	}
	return d
}

// currentPullRequest is the pull request of the bead's latest dispatched
// polecat, as its merge request has it, and whether it still decides the
// bead's phase. A merge does while the bead is as it was when the merge was
// recorded; a rejection or a failure while the bead is as it was
// dispatched (spec and retry token). Otherwise the pull request shows, but
// the bead (reopened, edited, retried) runs again.
func currentPullRequest(b *gastownv1.Bead, d *gastownv1.DispatchStatus, mrs []gastownv1.MergeRequest) (*gastownv1.PullRequestStatus, bool) {
	if d == nil {
		return nil, false
	}
	retry := b.Annotations[gastownv1.RetryAnnotation]
	for i := range mrs {
		mr := &mrs[i]
		if mr.Name != d.Polecat || mr.Spec.BeadRef != b.Name || mr.Status.State == "" {
			continue
		}
		pr := mr.Status.PullRequestStatus
		if pr.State == gastownv1.PullRequestMerged && mr.Status.BeadGeneration != 0 {
			return &pr, mr.Status.BeadGeneration == b.Generation && mr.Status.BeadRetry == retry
		}
		return &pr, d.SpecHash == SpecHash(b) && d.Retry == retry
	}
	return nil, false
}

// Superseded says whether the bead changed (its spec or retry token)
// since its latest dispatch: that attempt's failure no longer holds it.
func Superseded(b *gastownv1.Bead) bool {
	d := b.Status.Dispatch
	return d != nil && (d.SpecHash != SpecHash(b) || d.Retry != b.Annotations[gastownv1.RetryAnnotation])
}

func polecatsByBead(polecats []gastownv1.Polecat) map[string][]gastownv1.Polecat {
	out := map[string][]gastownv1.Polecat{}
	for _, pc := range polecats {
		if pc.Spec.BeadID != "" {
			out[pc.Spec.BeadID] = append(out[pc.Spec.BeadID], pc)
		}
	}
	return out
}

// State is a bead's evaluated phase with the reason and message for its
// Ready condition.
type State struct {
	Phase   gastownv1.BeadPhase
	Reason  string
	Message string
	// Attempts made for the current spec and retry token.
	Attempts int
	// Latest is the latest polecat of the bead, dispatched or follow-up.
	Latest *gastownv1.Polecat
	// Dispatch sums up the bead's dispatched polecats (Record).
	Dispatch *gastownv1.DispatchStatus
	// PullRequest is the latest dispatched polecat's, from its merge request.
	PullRequest *gastownv1.PullRequestStatus
	// RetryAt is set for a Ready bead waiting for its retry backoff.
	RetryAt time.Time
}

// Evaluate returns the phase of bead b given its polecats, its merge
// requests and the rig's beads, through g (nil: no other bead is known).
// It is the one place a bead's phase is computed: the Bead controller
// stores it, the dispatcher checks it against the polecats it is about to
// add to.
func Evaluate(b *gastownv1.Bead, polecats []gastownv1.Polecat, mergeRequests []gastownv1.MergeRequest, g *Graph, rig Rig, now time.Time) State {
	st := State{Latest: latest(polecats), Dispatch: Record(b, polecats)}
	pr, current := currentPullRequest(b, st.Dispatch, mergeRequests)
	st.PullRequest = pr
	attempts := currentAttempts(b, polecats)
	if pr != nil && pr.State == gastownv1.PullRequestMerged && !current {
		// Reopened after its merge, even to the very same spec: the merged
		// attempts are done, the bead starts over.
		attempts = nil
	}
	st.Attempts = len(attempts)

	// A merged, failed or rejected pull request of the bead as it was is
	// history (see currentPullRequest): the bead as it is now (reopened,
	// edited, retried) runs again. An open one still holds it: its branch is
	// in review.
	switch {
	case b.Spec.Status == gastownv1.BeadClosed:
		return st.with(gastownv1.BeadPhaseClosed, "Closed", "the bead is closed in git")
	case pr != nil && pr.State == gastownv1.PullRequestMerged && current:
		return st.with(gastownv1.BeadPhaseMerged, gastownv1.PullRequestMergedReason,
			fmt.Sprintf("pull request %s merged as %s; waiting for the source to show the bead closed", prName(pr), short(pr.MergeCommit)))
	case pr != nil && pr.Failure != "" && current:
		return st.with(gastownv1.BeadPhaseFailed, gastownv1.MergeConflictReason, fmt.Sprintf("pull request %s: %s", prName(pr), pr.Failure))
	case pr != nil && pr.Failure != "" && pr.State == gastownv1.PullRequestOpen:
		// Its branch is the bead's, so the new attempt waits for it to go.
		return st.with(gastownv1.BeadPhaseInReview, gastownv1.PullRequestOpenReason,
			fmt.Sprintf("the bead changed since pull request %s failed; the refinery closes it, then the bead runs again", prName(pr)))
	case pr != nil && pr.State == gastownv1.PullRequestOpen:
		msg := fmt.Sprintf("pull request %s is open", prName(pr))
		if pr.Gate != "" {
			msg += ": " + pr.Gate
		}
		return st.with(gastownv1.BeadPhaseInReview, gastownv1.PullRequestOpenReason, msg)
	case pr != nil && pr.State == gastownv1.PullRequestClosed && current:
		return st.with(gastownv1.BeadPhaseRejected, gastownv1.PullRequestClosedReason,
			fmt.Sprintf("pull request %s was closed unmerged; edit the bead or set the %s annotation to try again", prName(pr), gastownv1.RetryAnnotation))
	}
	if live := liveOf(polecats); live != nil {
		return st.with(gastownv1.BeadPhaseWorking, gastownv1.PodRunningReason, fmt.Sprintf("polecat %s is working", live.Name))
	}
	if n := len(attempts); n > 0 {
		last := attempts[n-1]
		if res := last.Status.Result; last.Status.Phase == gastownv1.PolecatPhaseSucceeded && res != nil && res.Outcome == gastownv1.OutcomePushed {
			return st.with(gastownv1.BeadPhaseInReview, gastownv1.WaitingReason,
				fmt.Sprintf("branch %s pushed by polecat %s; waiting for the refinery", res.Branch, last.Name))
		}
		if last.Status.Phase == gastownv1.PolecatPhaseTerminated {
			return st.with(gastownv1.BeadPhaseFailed, gastownv1.TerminatedReason,
				fmt.Sprintf("polecat %s was terminated; set the %s annotation to try again", last.Name, gastownv1.RetryAnnotation))
		}
	}
	// Before anything that would (re)dispatch the bead: work already
	// pushed or running is not undone by a policy that changed since.
	if rig.Policy != nil {
		if errs := rig.Policy.Check(&b.Spec); len(errs) > 0 {
			return st.with(gastownv1.BeadPhaseFailed, gastownv1.PolicyViolationReason,
				"the rig's agent policy refuses the bead: "+beads.Messages(errs)+"; edit the bead, or ask the rig's admin to allow it in spec.agentPolicy")
		}
	}
	if n := len(attempts); n > 0 {
		last := attempts[n-1]
		if n > rig.MaxRetries {
			return st.with(gastownv1.BeadPhaseFailed, gastownv1.RetriesExhaustedReason,
				fmt.Sprintf("%d attempts failed, last: %s", n, Failure(last)))
		}
		if done := completedAt(last); !done.IsZero() {
			if at := done.Add(backoff(rig, n)); now.Before(at) {
				st = st.with(gastownv1.BeadPhaseReady, gastownv1.WaitingReason,
					fmt.Sprintf("attempt %d failed (%s); retrying at %s", n, Failure(last), at.UTC().Format(time.RFC3339)))
				st.RetryAt = at
				return st
			}
		}
	}
	spec := b.Spec
	spec.ID = b.BeadID()
	var src Source
	if g != nil {
		src = g.src
		if blockers := g.Blockers(&spec); len(blockers) > 0 {
			return st.with(gastownv1.BeadPhaseBlocked, gastownv1.BlockedReason, blockedMessage(blockers))
		}
	}
	if reason, msg := Hold(&spec, rig.WorkTypes, src); reason != "" {
		return st.with(gastownv1.BeadPhaseOpen, reason, msg)
	}
	if b.Spec.RigRef == "" {
		return st.with(gastownv1.BeadPhaseOpen, gastownv1.RigNotFoundReason, "spec.rigRef is empty: no rig dispatches this bead")
	}
	return st.with(gastownv1.BeadPhaseReady, "Ready", "waiting for a polecat slot")
}

func (s State) with(p gastownv1.BeadPhase, reason, msg string) State {
	s.Phase, s.Reason, s.Message = p, reason, msg
	return s
}

// blockedMessage says what a bead waits for.
func blockedMessage(blockers []string) string {
	for _, b := range blockers {
		if strings.Contains(b, " ") {
			return "blocked by " + strings.Join(blockers, ", ")
		}
	}
	return "waiting for " + strings.Join(blockers, ", ") + " to close"
}

func backoff(rig Rig, attempts int) time.Duration {
	d := rig.RetryBackoff
	for i := 1; i < attempts && d < rig.MaxBackoff; i++ {
		d *= 2
	}
	if rig.MaxBackoff > 0 && d > rig.MaxBackoff {
		d = rig.MaxBackoff
	}
	return d
}

// IsLive says whether a polecat is running or about to: it takes a slot.
func IsLive(pc *gastownv1.Polecat) bool {
	return !pc.Status.Phase.Finished() && pc.Status.Phase != gastownv1.PolecatPhaseIdle &&
		pc.Spec.DesiredState != gastownv1.DesiredIdle && pc.Spec.DesiredState != gastownv1.DesiredTerminated
}

func liveOf(polecats []gastownv1.Polecat) *gastownv1.Polecat {
	for i := range polecats {
		if IsLive(&polecats[i]) {
			return &polecats[i]
		}
	}
	return nil
}

func latest(polecats []gastownv1.Polecat) *gastownv1.Polecat {
	var out *gastownv1.Polecat
	for i := range polecats {
		pc := &polecats[i]
		if out == nil || out.CreationTimestamp.Before(&pc.CreationTimestamp) ||
			(out.CreationTimestamp.Equal(&pc.CreationTimestamp) && out.Name < pc.Name) {
			out = pc
		}
	}
	return out
}

func completedAt(pc *gastownv1.Polecat) time.Time {
	if pc.Status.CompletedAt != nil {
		return pc.Status.CompletedAt.Time
	}
	return time.Time{}
}

// Failure says how a finished polecat failed, for people.
func Failure(pc *gastownv1.Polecat) string {
	if r := pc.Status.Result; r != nil {
		if r.Message != "" {
			return string(r.Outcome) + ": " + r.Message
		}
		return string(r.Outcome)
	}
	for _, c := range pc.Status.Conditions {
		if c.Type == "Ready" && c.Message != "" {
			return c.Reason + ": " + c.Message
		}
	}
	return "polecat " + pc.Name + " " + strings.ToLower(string(pc.Status.Phase))
}

func prName(pr *gastownv1.PullRequestStatus) string {
	if pr.Number > 0 {
		return fmt.Sprintf("#%d", pr.Number)
	}
	return pr.HeadBranch
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
