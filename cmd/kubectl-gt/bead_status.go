package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	beadSubcommands = append(beadSubcommands, newBeadStatusCommand)
}

type beadStatusOptions struct {
	scope  scopeOptions
	output outputOptions
}

func newBeadStatusCommand(root *rootOptions) *cobra.Command {
	opts := &beadStatusOptions{}
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a bead: its spec, phase, dispatch, result and pull request",
		Example: `  kubectl gt bead status gt-health --rig my-project
  kubectl gt bead status gt-health -n gastown-workers -o yaml`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.output.validate(); err != nil {
				return err
			}
			bead := &gastownv1.Bead{}
			if _, err := opts.scope.get(cmd.Context(), root, "bead", args[0], bead); err != nil {
				return err
			}
			if opts.output.structured() {
				return opts.output.print(root.out, bead)
			}
			return printBeadStatus(root.out, bead)
		},
	}
	opts.scope.addFlags(cmd, false)
	opts.output.addFlag(cmd)
	return cmd
}

func printBeadStatus(w io.Writer, bead *gastownv1.Bead) error {
	st := &bead.Status
	b := newBlock(w)
	b.field("Name", bead.Name)
	if id := bead.BeadID(); id != bead.Name {
		b.field("ID", id) // bd's gt-abc.1, of which the name is derived
	}
	b.field("Namespace", bead.Namespace)
	b.field("Rig", bead.Spec.RigRef)
	b.field("Title", bead.Spec.Title)
	typ := string(bead.Spec.Type)
	if typ == "" {
		typ = "task"
	}
	b.field("Type", typ)
	b.field("Priority", fmt.Sprint(bead.Spec.PriorityValue()))
	inGit := string(bead.Spec.Status)
	if inGit == "" {
		inGit = string(gastownv1.BeadOpen)
	}
	if bead.Spec.SourcePath != "" {
		inGit += ", in " + bead.Spec.SourcePath
	}
	b.field("In git", inGit)
	b.optional("Depends on", strings.Join(bead.Spec.DependsOn, ", "))
	b.optional("Parents", strings.Join(bead.Spec.Parents, ", "))
	b.optional("Waits for", strings.Join(bead.Spec.WaitsFor, ", "))
	if a := bead.Spec.Agent; a != nil {
		agent := string(a.Type)
		if a.Model != "" {
			agent = strings.TrimSpace(agent + " (model " + a.Model + ")")
		}
		b.optional("Agent", agent)
	}

	b.field("Phase", phaseLine(string(st.Phase), "not evaluated yet", bead))
	if d := st.Dispatch; d != nil {
		dispatched := fmt.Sprintf("attempt %d for this spec, %s in all", d.Attempts, plural(int(d.Runs), "run"))
		if last := ago(d.LastDispatchTime); last != "" {
			dispatched += ", last at " + last
		}
		b.field("Dispatch", dispatched)
	} else {
		b.field("Dispatch", "never dispatched")
	}
	b.optional("Polecat", st.Polecat)
	b.optional("Branch", st.Branch)
	b.optional("Commit", st.Commit)
	if r := st.Result; r != nil {
		b.field("Result", resultLine(r))
		b.optional("Summary", oneLine(r.Summary))
	}
	if pr := st.PullRequest; pr != nil {
		name := "not opened (git provider)"
		if pr.Number > 0 {
			name = fmt.Sprintf("#%d", pr.Number)
		}
		b.field("Pull request", name+", "+pr.State)
		b.optional("  URL", pr.URL)
		b.optional("  Branch", pr.HeadBranch)
		b.optional("  Gate", pr.Gate)
		b.optional("  Merge SHA", pr.MergeCommit)
		b.optional("  Merged at", ago(pr.MergedAt))
		if pr.Revisions > 0 || pr.ConflictFixes > 0 {
			b.field("  Follow-ups", fmt.Sprintf("%s, %s", plural(int(pr.Revisions), "revision"), plural(int(pr.ConflictFixes), "conflict fix")))
		}
		b.optional("  Failure", pr.Failure)
	}
	if err := b.flush(); err != nil {
		return err
	}
	printText(w, "Description", bead.Spec.Description)
	printText(w, "Acceptance", bead.Spec.Acceptance)
	return nil
}

// resultLine is "Pushed: 3 files changed, agent exit 0, $0.42, 1200 in / 800 out tokens".
func resultLine(r *gastownv1.PolecatResult) string {
	parts := []string{}
	if r.FilesChanged > 0 {
		parts = append(parts, plural(int(r.FilesChanged), "file")+" changed")
	}
	if r.AgentExitCode != nil {
		parts = append(parts, fmt.Sprintf("agent exit code %d", *r.AgentExitCode))
	}
	if r.CostUSD != "" {
		parts = append(parts, "cost $"+r.CostUSD)
	}
	if r.InputTokens > 0 || r.OutputTokens > 0 {
		parts = append(parts, fmt.Sprintf("%d input and %d output tokens", r.InputTokens, r.OutputTokens))
	}
	if r.Message != "" {
		parts = append(parts, oneLine(r.Message))
	}
	if len(parts) == 0 {
		return string(r.Outcome)
	}
	return string(r.Outcome) + ": " + strings.Join(parts, ", ")
}

// printText writes a multi-line spec field under its heading, indented.
func printText(w io.Writer, heading, text string) {
	text = strings.TrimRight(text, "\n")
	if strings.TrimSpace(text) == "" {
		return
	}
	fmt.Fprintf(w, "%s:\n", heading)
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintln(w, strings.TrimRight("  "+line, " "))
	}
}

// oneLine joins the lines of s, for a status field.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
