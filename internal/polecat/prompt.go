package polecat

import (
	"fmt"
	"strings"
	"unicode/utf8"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/gitops"
)

// MaxDiffBytes bounds the previous branch's diff in a ConflictFix prompt,
// so that the prompt stays well inside the agent's context and the
// environment variable that carries it.
const MaxDiffBytes = 48 << 10

// Task is what an agent is asked to do.
//
// The convention for follow-up runs, which the Refinery relies on:
//   - Purpose Revision: the polecat's spec.taskDescription holds the review
//     comments to answer, as Markdown, verbatim (one comment per list item,
//     with the file and line when the review gives one, e.g.
//     "- main.go:12: handle the error"). The original task comes from the
//     bead. The work branch already holds the earlier work.
//   - Purpose ConflictFix: spec.taskDescription, if set, is the task itself,
//     as for Work; the runner adds the diff of the old work branch
//     (PreviousDiff), which the agent redoes on the current base branch.
type Task struct {
	Purpose gastownv1.PolecatPurpose `json:"purpose"`
	BeadID  string                   `json:"beadID,omitempty"`
	Title   string                   `json:"title,omitempty"`
	// Description is the bead's description, or spec.taskDescription.
	Description string `json:"description,omitempty"`
	Acceptance  string `json:"acceptance,omitempty"`

	RepoURL    string `json:"repoURL"`
	BaseBranch string `json:"baseBranch"`
	WorkBranch string `json:"workBranch"`
	BeadFile   string `json:"beadFile,omitempty"`

	// ReviewComments to answer, for Purpose Revision.
	ReviewComments string `json:"reviewComments,omitempty"`
	// PreviousDiff is the old work branch's change, for Purpose
	// ConflictFix. The runner fills it in; it is not part of the pod spec.
	PreviousDiff string `json:"previousDiff,omitempty"`
}

// BuildPrompt writes the task prompt in Markdown.
func BuildPrompt(t Task) string {
	var b strings.Builder
	writeHeading(&b, t)
	if d := strings.TrimSpace(t.Description); d != "" {
		b.WriteString(d + "\n\n")
	}
	if a := strings.TrimSpace(t.Acceptance); a != "" {
		b.WriteString("## Acceptance criteria\n\n" + a + "\n\n")
	}
	switch t.Purpose {
	case gastownv1.PurposeRevision:
		writeRevision(&b, t)
	case gastownv1.PurposeConflictFix:
		writeConflictFix(&b, t)
	}
	writeWorkplace(&b, t)
	writeRules(&b, t)
	return b.String()
}

func writeHeading(b *strings.Builder, t Task) {
	title := strings.TrimSpace(t.Title)
	switch {
	case title != "" && t.BeadID != "":
		fmt.Fprintf(b, "# %s (bead %s)\n\n", title, t.BeadID)
	case title != "":
		fmt.Fprintf(b, "# %s\n\n", title)
	case t.BeadID != "":
		fmt.Fprintf(b, "# Task for bead %s\n\n", t.BeadID)
	default:
		b.WriteString("# Task\n\n")
	}
}

func writeRevision(b *strings.Builder, t Task) {
	fmt.Fprintf(b, "## Review comments to address\n\n"+
		"Branch %s already holds your earlier work on this task, and its pull request has been reviewed. "+
		"Change the code to answer every comment below; keep the rest of the earlier work.\n\n%s\n\n",
		t.WorkBranch, strings.TrimSpace(t.ReviewComments))
}

func writeConflictFix(b *strings.Builder, t Task) {
	fmt.Fprintf(b, "## Redo the change on the current %s\n\n"+
		"This task was done before on branch %s, but that change no longer merges into %s. "+
		"You are on a fresh copy of the current %s. Make the same change again on top of it, "+
		"keeping what %s changed in the meantime. The earlier change, as a guide:\n\n",
		t.BaseBranch, t.WorkBranch, t.BaseBranch, t.BaseBranch, t.BaseBranch)
	diff := strings.TrimSpace(t.PreviousDiff)
	if diff == "" {
		b.WriteString("(The earlier change is not available: do the task from its description.)\n\n")
		return
	}
	diff, truncated := truncateUTF8(diff, MaxDiffBytes)
	b.WriteString("```diff\n" + diff + "\n```\n")
	if truncated {
		fmt.Fprintf(b, "(The diff is cut at %d KiB.)\n", MaxDiffBytes>>10)
	}
	b.WriteString("\n")
}

func writeWorkplace(b *strings.Builder, t Task) {
	fmt.Fprintf(b, "## Where you work\n\n"+
		"The current directory is a clone of %s on branch %s (from %s).\n\n",
		gitops.RedactURL(t.RepoURL), t.WorkBranch, t.BaseBranch)
}

func writeRules(b *strings.Builder, t Task) {
	b.WriteString("## Rules\n\n" +
		"- Work only inside the repository in the current directory.\n" +
		"- Do not commit, push, or create or switch branches: when you finish, your changes are committed " +
		"and pushed to branch " + t.WorkBranch + " for you.\n" +
		"- Never force-push or rewrite history.\n")
	if t.BeadFile != "" {
		b.WriteString("- Do not change the status of the bead in " + t.BeadFile + "; it is closed for you with your changes.\n")
	}
	b.WriteString("- When you are done, reply with a short summary of what you changed and why.\n")
}

// beadTrailer names the bead in a polecat's commit message.
const beadTrailer = "Gastown-Bead: "

// maxSubject bounds a commit subject, as git tools expect.
const maxSubject = 72

// CommitMessage is the message of a polecat's commit: the bead ID and the
// title in the subject, and trailers naming the bead and the polecat.
func CommitMessage(t Task, polecat string) string {
	id := firstString(t.BeadID, polecat)
	var what string
	switch t.Purpose {
	case gastownv1.PurposeRevision:
		what = "address review comments"
	default:
		what = firstString(strings.TrimSpace(t.Title), firstLine(t.Description), "polecat work")
	}
	subject := id + ": " + what
	if len(subject) > maxSubject {
		subject, _ = truncateUTF8(subject, maxSubject-3)
		subject += "..."
	}
	var b strings.Builder
	b.WriteString(subject + "\n\n")
	if t.BeadID != "" {
		b.WriteString(beadTrailer + t.BeadID + "\n")
	}
	b.WriteString("Gastown-Polecat: " + polecat + "\n")
	return b.String()
}

// IsBeadCommit says whether message is that of a polecat's commit for
// bead (CommitMessage's trailer).
func IsBeadCommit(message, bead string) bool {
	if bead == "" {
		return false
	}
	for line := range strings.Lines(message) {
		if strings.TrimRight(line, "\r\n") == beadTrailer+bead {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}
