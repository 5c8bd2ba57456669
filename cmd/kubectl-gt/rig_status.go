package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

func init() {
	rigSubcommands = append(rigSubcommands, newRigStatusCommand)
}

// beadPhaseOrder is the bead lifecycle, in the order status lines count it.
var beadPhaseOrder = []gastownv1.BeadPhase{
	gastownv1.BeadPhaseOpen, gastownv1.BeadPhaseBlocked, gastownv1.BeadPhaseReady, gastownv1.BeadPhaseWorking,
	gastownv1.BeadPhaseInReview, gastownv1.BeadPhaseMerged, gastownv1.BeadPhaseClosed,
	gastownv1.BeadPhaseFailed, gastownv1.BeadPhaseRejected,
}

func newRigStatusCommand(root *rootOptions) *cobra.Command {
	var output outputOptions
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a rig: its spec, source, conditions, components, beads and polecats",
		Example: `  kubectl gt rig status my-project
  kubectl gt rig status my-project -o yaml`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			c, err := root.kube.client()
			if err != nil {
				return err
			}
			rig, err := getRig(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if output.structured() {
				return output.print(root.out, rig)
			}
			return printRigStatus(cmd.Context(), root.out, c, rig)
		},
	}
	output.addFlag(cmd)
	return cmd
}

func printRigStatus(ctx context.Context, w io.Writer, c client.Client, rig *gastownv1.Rig) error {
	ns := rig.WorkersNamespace()
	b := newBlock(w)
	b.field("Name", rig.Name)
	b.field("Phase", phaseLine(rig.Status.Phase, "not reconciled yet", rig))
	if ref := rig.Spec.SourceRef; ref != nil {
		b.field("Source", "GitRepository "+ref.Namespace+"/"+ref.Name)
	} else {
		b.field("Source", "none: the rig runs only polecats created by hand")
	}
	gitURL := rig.Status.GitURL
	if gitURL == "" {
		gitURL = rig.Spec.GitURL
	}
	b.field("Git URL", gitURL)
	b.field("Base branch", rig.Status.BaseBranch)
	b.field("Workers namespace", ns)
	agent := string(rig.Spec.Agent)
	if agent == "" {
		agent = string(gastownv1.AgentClaudeCode)
	}
	if cfg := rig.Spec.AgentConfig; cfg != nil && cfg.Model != "" {
		agent += " (model " + cfg.Model + ")"
	}
	b.field("Agent", agent)
	mode := rig.Spec.Settings.ExecutionMode
	if mode == "" {
		mode = gastownv1.ExecutionModeKubernetes
	}
	b.field("Execution mode", string(mode))
	b.field("Limits", fmt.Sprintf("%d polecats at once, %d retries", rig.MaxPolecats(), rig.MaxRetries()))
	if rig.Spec.Suspend {
		b.field("Suspended", "yes: no new polecats are dispatched")
	}
	b.optional("Last dispatch", ago(rig.Status.LastDispatchTime))
	if err := b.flush(); err != nil {
		return err
	}
	if err := printConditions(w, rig.Status.Conditions); err != nil {
		return err
	}
	if err := printRigComponents(ctx, w, c, rig); err != nil {
		return err
	}

	beads := &gastownv1.BeadList{}
	if err := c.List(ctx, beads, client.InNamespace(ns)); err != nil {
		return apiError(err)
	}
	counts := map[gastownv1.BeadPhase]int{}
	total := 0
	for _, bead := range beads.Items {
		if bead.Spec.RigRef == rig.Name {
			counts[bead.Status.Phase]++
			total++
		}
	}
	fmt.Fprintf(w, "Beads:  %s\n", beadCounts(total, counts))

	polecats := &gastownv1.PolecatList{}
	if err := c.List(ctx, polecats, client.InNamespace(ns)); err != nil {
		return apiError(err)
	}
	var live []*gastownv1.Polecat
	for i := range polecats.Items {
		if pc := &polecats.Items[i]; pc.Spec.Rig == rig.Name && dispatch.IsLive(pc) {
			live = append(live, pc)
		}
	}
	if len(live) == 0 {
		fmt.Fprintf(w, "Polecats:  none running (limit %d)\n", rig.MaxPolecats())
		return nil
	}
	fmt.Fprintf(w, "Polecats:  %d running (limit %d)\n", len(live), rig.MaxPolecats())
	t := indentedTable(w, "NAME", "BEAD", "PHASE", "AGENT", "AGE")
	for _, pc := range live {
		t.row(pc.Name, pc.Spec.BeadID, string(pc.Status.Phase), polecatAgent(pc), age(pc.CreationTimestamp))
	}
	return t.flush()
}

// beadCounts is "7 (1 Ready, 2 Working, 4 Closed)".
func beadCounts(total int, counts map[gastownv1.BeadPhase]int) string {
	if total == 0 {
		return "none"
	}
	var parts []string
	for _, p := range beadPhaseOrder {
		if n := counts[p]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, p))
		}
	}
	if n := counts[""]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d not evaluated yet", n))
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// printRigComponents writes the rig's BeadStore, Refinery and Witness.
func printRigComponents(ctx context.Context, w io.Writer, c client.Client, rig *gastownv1.Rig) error {
	ns := rig.WorkersNamespace()
	stores := &gastownv1.BeadStoreList{}
	refineries := &gastownv1.RefineryList{}
	witnesses := &gastownv1.WitnessList{}
	for _, list := range []client.ObjectList{stores, refineries, witnesses} {
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return apiError(err)
		}
	}
	t := indentedTable(w, "KIND", "NAME", "PHASE", "READY", "SUMMARY")
	rows := 0
	for i := range stores.Items {
		s := &stores.Items[i]
		if s.Spec.RigRef != rig.Name {
			continue
		}
		summary := fmt.Sprintf("revision %s, %s, %s", orNone(s.Status.LastAppliedRevision),
			plural(int(s.Status.IssueCount), "bead"), plural(int(s.Status.ConvoyCount), "convoy"))
		if s.Status.ErrorCount > 0 {
			summary += ", " + plural(int(s.Status.ErrorCount), "error")
		}
		componentRow(t, "BeadStore", s.Name, s.Status.Phase, s, summary)
		rows++
	}
	for i := range refineries.Items {
		r := &refineries.Items[i]
		if r.Spec.RigRef != rig.Name {
			continue
		}
		m := r.Status.MergesSummary
		summary := fmt.Sprintf("%s queued, %d merged, %d failed", plural(int(r.Status.QueueLength), "pull request"), m.Succeeded, m.Failed)
		if r.Status.CurrentMerge != "" {
			summary += ", merging " + r.Status.CurrentMerge
		}
		componentRow(t, "Refinery", r.Name, r.Status.Phase, r, summary)
		rows++
	}
	for i := range witnesses.Items {
		wi := &witnesses.Items[i]
		if wi.Spec.RigRef != rig.Name {
			continue
		}
		p := wi.Status.PolecatsSummary
		summary := fmt.Sprintf("%d running, %d stuck, %s", p.Running, p.Stuck, plural(len(wi.Status.Findings), "finding"))
		componentRow(t, "Witness", wi.Name, wi.Status.Phase, wi, summary)
		rows++
	}
	if rows == 0 {
		fmt.Fprintf(w, "Components:  none in namespace %s yet: the operator creates them when it reconciles the rig\n", ns)
		return nil
	}
	fmt.Fprintln(w, "Components:")
	return t.flush()
}

// componentRow adds a component; one that is not ready says why.
func componentRow(t *table, kind, name, phase string, obj conditions.Getter, summary string) {
	ready, msg := readyOf(obj)
	if ready != string(metav1.ConditionTrue) && msg != "" {
		summary += "; " + msg
	}
	t.row(kind, name, phase, ready, summary)
}

// orNone is s, or none when s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}
