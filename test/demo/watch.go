package main

import (
	"context"
	"fmt"
	"sort"
	"time"

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

	beads    map[string]gastownv1.Bead
	polecats map[string]gastownv1.Polecat
	convoys  map[string]gastownv1.Convoy
	reviewed map[int]bool
	fetched  map[string]bool // merge commits Flux was asked to fetch
}

// run polls until every bead is closed and every convoy landed.
func (w *watcher) run(ctx context.Context) error {
	w.beads, w.polecats, w.convoys = map[string]gastownv1.Bead{}, map[string]gastownv1.Polecat{}, map[string]gastownv1.Convoy{}
	w.reviewed, w.fetched = map[int]bool{}, map[string]bool{}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := w.observe(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the loop did not finish: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func (w *watcher) observe(ctx context.Context) (bool, error) {
	ns := client.InNamespace(devenv.WorkersNamespace)
	beads, polecats, convoys := &gastownv1.BeadList{}, &gastownv1.PolecatList{}, &gastownv1.ConvoyList{}
	for _, list := range []client.ObjectList{beads, polecats, convoys} {
		if err := w.env.Client.List(ctx, list, ns); err != nil {
			return false, err
		}
	}
	// Phases first, then what polecats did, then pull requests: the order
	// in which they happen.
	for _, b := range beads.Items {
		w.beadPhase(b)
	}
	for _, pc := range polecats.Items {
		w.polecat(pc)
	}
	for _, b := range beads.Items {
		if err := w.pullRequest(ctx, b); err != nil {
			return false, err
		}
		w.beads[b.Name] = b
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
		if b.Status.Phase == gastownv1.BeadPhaseClosed {
			closed++
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
	switch pc.Status.Phase {
	case gastownv1.PolecatPhaseWorking:
		w.p.event("polecat %s started on bead %s (%s agent)", pc.Name, pc.Spec.BeadID, pc.Status.Agent)
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

func (w *watcher) pullRequest(ctx context.Context, b gastownv1.Bead) error {
	old := w.beads[b.Name]
	pr := b.Status.PullRequest
	if pr == nil {
		return nil
	}
	oldPR := old.Status.PullRequest
	if pr.Number > 0 && (oldPR == nil || oldPR.Number != pr.Number) {
		w.p.event("PR #%d opened for %s: %s", pr.Number, b.Name, pr.URL)
	}
	if pr.State == gastownv1.PullRequestOpen && pr.Number > 0 && w.review && !w.reviewed[pr.Number] && pr.HeadSHA != "" {
		if err := w.approve(b, pr); err != nil {
			return err
		}
	}
	if pr.State == gastownv1.PullRequestMerged && !w.fetched[pr.MergeCommit] {
		w.fetched[pr.MergeCommit] = true
		w.p.event("PR #%d merged as %s", pr.Number, short(pr.MergeCommit))
		if err := reconcileSource(ctx, w.env, w.p); err != nil {
			return err
		}
	}
	return nil
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
