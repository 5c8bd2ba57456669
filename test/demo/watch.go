package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// watcher turns the changes of beads, polecats and convoys into progress
// lines, and plays the reviewer and runs `flux reconcile` where a person
// would.
type watcher struct {
	env    *devenv.Env
	p      *printer
	review bool
	// pods: polecats run as pods, whose phases are shown too.
	pods bool
	// revision is the one Flux fetched last.
	revision string

	beads        map[string]gastownv1.Bead
	polecats     map[string]gastownv1.Polecat
	convoys      map[string]gastownv1.Convoy
	reviewed     map[int]bool
	fetched      map[string]bool // merge commits Flux was asked to fetch
	podRunsByUID map[types.UID]*podRun
	podOrder     []types.UID // in the order they were first seen
}

// run polls until every bead is closed and every convoy landed, or
// timeout has passed, or ctx is done (Ctrl-C).
func (w *watcher) run(ctx context.Context, timeout time.Duration) error {
	w.beads, w.polecats, w.convoys = map[string]gastownv1.Bead{}, map[string]gastownv1.Polecat{}, map[string]gastownv1.Convoy{}
	w.reviewed, w.fetched = map[int]bool{}, map[string]bool{}
	w.podRunsByUID = map[types.UID]*podRun{}
	// The timeout is not ctx's deadline: a request cut short by a deadline
	// fails with a message about client-go's rate limiter.
	expired := time.After(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := w.observe(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("the loop did not finish: %w", ctx.Err())
		}
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the loop did not finish: %w", ctx.Err())
		case <-expired:
			return fmt.Errorf("the loop did not finish within %s (--timeout): %s", timeout, w.pending())
		case <-tick.C:
		}
	}
}

// pending says which beads are not closed yet, and their phases.
func (w *watcher) pending() string {
	var open []string
	for _, r := range w.rows() {
		if r.phase != string(gastownv1.BeadPhaseClosed) {
			open = append(open, r.bead+" "+r.phase)
		}
	}
	if len(open) == 0 {
		return "every bead is closed, a convoy has not landed"
	}
	return "beads not closed: " + strings.Join(open, ", ")
}

func (w *watcher) observe(ctx context.Context) (bool, error) {
	ns := client.InNamespace(devenv.WorkersNamespace)
	beads, polecats, convoys := &gastownv1.BeadList{}, &gastownv1.PolecatList{}, &gastownv1.ConvoyList{}
	for _, list := range []client.ObjectList{beads, polecats, convoys} {
		if err := w.env.Client.List(ctx, list, ns); err != nil {
			return false, err
		}
	}
	// Phases first, then the pods and what polecats did, then pull
	// requests: the order in which they happen.
	for _, b := range beads.Items {
		w.beadPhase(b)
	}
	if w.pods {
		if err := w.observePods(ctx); err != nil {
			return false, err
		}
	}
	for _, pc := range polecats.Items {
		w.polecat(pc)
	}
	// Pull requests in the order they were opened; the merges one poll
	// saw are fetched with one `flux reconcile`, as a person would after
	// seeing them.
	byPR := append([]gastownv1.Bead{}, beads.Items...)
	sort.SliceStable(byPR, func(i, j int) bool { return prNumber(byPR[i]) < prNumber(byPR[j]) })
	merged := false
	for _, b := range byPR {
		m, err := w.pullRequest(b)
		if err != nil {
			return false, err
		}
		merged = merged || m
		w.beads[b.Name] = b
	}
	if merged {
		if err := w.fetch(ctx); err != nil {
			return false, err
		}
	}
	landed := 0
	for _, c := range convoys.Items {
		old := w.convoys[c.Name]
		if c.Status.Progress != "" && c.Status.Progress != old.Status.Progress {
			w.p.event("convoy %s: %s beads closed", c.Name, c.Status.Progress)
		}
		if c.Status.Phase == gastownv1.ConvoyPhaseLanded {
			if old.Status.Phase != gastownv1.ConvoyPhaseLanded {
				w.p.event("convoy %s landed", c.Name)
			}
			landed++
		}
		w.convoys[c.Name] = c
	}
	closed := 0
	for _, b := range beads.Items {
		switch b.Status.Phase {
		case gastownv1.BeadPhaseClosed:
			closed++
		case gastownv1.BeadPhaseFailed, gastownv1.BeadPhaseRejected:
			// For good: the rig retried it, or a reviewer rejected it.
			return false, w.failed(b)
		}
	}
	return len(beads.Items) > 0 && closed == len(beads.Items) && landed == len(convoys.Items), nil
}

func (w *watcher) polecat(pc gastownv1.Polecat) {
	old, seen := w.polecats[pc.Name]
	w.polecats[pc.Name] = pc
	if pc.Status.Phase == old.Status.Phase && seen {
		return
	}
	started := func() {
		w.p.event("polecat %s started on bead %s (%s agent)", pc.Name, pc.Spec.BeadID, pc.Status.Agent)
	}
	if pc.Status.Phase == gastownv1.PolecatPhaseSucceeded && old.Status.Phase != gastownv1.PolecatPhaseWorking {
		// It ran while the demo waited for flux: say that it started, too.
		started()
	}
	switch pc.Status.Phase {
	case gastownv1.PolecatPhaseWorking:
		started()
	case gastownv1.PolecatPhaseSucceeded:
		w.p.event("polecat %s pushed %s (%s)", pc.Name, pc.Status.Branch, short(pc.Status.CommitSHA))
	case gastownv1.PolecatPhaseFailed:
		msg := ""
		if pc.Status.Result != nil {
			msg = pc.Status.Result.Message
		}
		w.p.event("polecat %s failed: %s", pc.Name, msg)
	}
}

func (w *watcher) beadPhase(b gastownv1.Bead) {
	old, seen := w.beads[b.Name]
	if !seen || old.Status.Phase != b.Status.Phase {
		switch b.Status.Phase {
		case gastownv1.BeadPhaseBlocked:
			w.p.event("bead %s waits for %v", b.Name, b.Spec.DependsOn)
		case gastownv1.BeadPhaseReady:
			w.p.event("bead %s ready", b.Name)
		case gastownv1.BeadPhaseClosed:
			w.p.event("bead %s closed in git", b.Name)
		case gastownv1.BeadPhaseFailed, gastownv1.BeadPhaseRejected:
			w.p.event("bead %s %s", b.Name, b.Status.Phase)
		}
	}
}

// pullRequest shows what happened to a bead's pull request, plays the
// reviewer, and says whether it was merged since the last poll.
func (w *watcher) pullRequest(b gastownv1.Bead) (bool, error) {
	old := w.beads[b.Name]
	pr := b.Status.PullRequest
	if pr == nil {
		return false, nil
	}
	oldPR := old.Status.PullRequest
	if pr.Number > 0 && (oldPR == nil || oldPR.Number != pr.Number) {
		w.p.event("PR #%d opened for %s: %s", pr.Number, b.Name, pr.URL)
	}
	if pr.State == gastownv1.PullRequestOpen && pr.Number > 0 && w.review && !w.reviewed[pr.Number] && pr.HeadSHA != "" {
		if err := w.approve(b, pr); err != nil {
			return false, err
		}
	}
	if pr.State == gastownv1.PullRequestMerged && !w.fetched[pr.MergeCommit] {
		w.fetched[pr.MergeCommit] = true
		w.p.event("PR #%d merged as %s", pr.Number, short(pr.MergeCommit))
		return true, nil
	}
	return false, nil
}

// prNumber orders beads by pull request, those without one last.
func prNumber(b gastownv1.Bead) int {
	if pr := b.Status.PullRequest; pr != nil && pr.Number > 0 {
		return pr.Number
	}
	return math.MaxInt
}

// fetch has Flux fetch the merges, unless the revision it fetched last
// already has them: merges only move the branch on, so that is when the
// branch is still at that revision (the refinery merged the next pull
// request while flux reconciled the last one).
func (w *watcher) fetch(ctx context.Context) error {
	head, err := w.env.HeadRevision()
	if err != nil {
		return err
	}
	if head == w.revision {
		w.p.event("Flux has fetched %s already", short(head[strings.LastIndexByte(head, ':')+1:]))
		return nil
	}
	w.revision, err = reconcileSource(ctx, w.env, w.p)
	return err
}

// approve posts a green check and an approval, as CI and a reviewer would.
func (w *watcher) approve(b gastownv1.Bead, pr *gastownv1.PullRequestStatus) error {
	w.reviewed[pr.Number] = true
	if err := w.env.GitHub.SetStatus(w.env.Owner, w.env.Repo, pr.HeadSHA, "ci", "success"); err != nil {
		return err
	}
	if err := w.env.GitHub.Approve(w.env.Owner, w.env.Repo, pr.Number, "reviewer"); err != nil {
		return err
	}
	w.p.event("PR #%d: checks green, approved by a reviewer", pr.Number)
	return nil
}

// row is one line of the summary table.
type row struct {
	bead, phase, polecat, pr, merge string
}

func (w *watcher) rows() []row {
	var out []row
	for _, b := range w.beads {
		r := row{bead: b.Name, phase: string(b.Status.Phase), polecat: b.Status.Polecat}
		if pr := b.Status.PullRequest; pr != nil {
			r.pr = fmt.Sprintf("#%d", pr.Number)
			r.merge = short(pr.MergeCommit)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].bead < out[j].bead })
	return out
}

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

// failed says why bead b failed for good, and where to look.
func (w *watcher) failed(b gastownv1.Bead) error {
	msg := ""
	if r := b.Status.Result; r != nil && r.Message != "" {
		msg = ": " + r.Message
	}
	look := ""
	if b.Status.Polecat != "" {
		look = fmt.Sprintf("\n  its last polecat's log: kubectl gt polecat logs %s -n %s", b.Status.Polecat, devenv.WorkersNamespace)
		if pc, ok := w.polecats[b.Status.Polecat]; ok && pc.Status.LocalLog != "" {
			look += " (" + pc.Status.LocalLog + ")"
		}
	}
	attempts := ""
	if d := b.Status.Dispatch; d != nil && d.Attempts > 0 {
		attempts = fmt.Sprintf(" after %d attempts", d.Attempts)
	}
	return fmt.Errorf("bead %s %s%s%s%s", b.Name, b.Status.Phase, attempts, msg, look)
}

// usageRow is what one polecat's agent reported.
type usageRow struct {
	polecat, agent, cost string
	in, out              int64
	turns                int32
}

// usage lists the polecats whose agent reported cost or tokens, by name.
func (w *watcher) usage() []usageRow {
	var out []usageRow
	for _, pc := range w.polecats {
		r := pc.Status.Result
		if r == nil || (r.InputTokens == 0 && r.OutputTokens == 0 && (r.CostUSD == "" || r.CostUSD == "0")) {
			continue // the scripted agent
		}
		out = append(out, usageRow{polecat: pc.Name, agent: string(pc.Status.Agent), cost: r.CostUSD,
			in: r.InputTokens, out: r.OutputTokens, turns: r.Turns})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].polecat < out[j].polecat })
	return out
}

// sample is a polecat to show the log commands with, and its pod's agent
// container: the first by name.
func (w *watcher) sample() (polecat, container string) {
	var names []string
	for name := range w.polecats {
		names = append(names, name)
	}
	if len(names) == 0 {
		return "", ""
	}
	sort.Strings(names)
	polecat = names[0]
	for _, uid := range w.podOrder {
		if r := w.podRunsByUID[uid]; r.name == "polecat-"+polecat {
			container = r.agentContainer
		}
	}
	return polecat, container
}
