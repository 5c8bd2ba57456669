package refinery

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/boshu2/gastown-operator/internal/redact"
)

// BeadInfo is what the pull request text says about a bead and its work.
type BeadInfo struct {
	ID, Rig, Title, Description, Acceptance string
	Polecat, Agent, Summary                 string
	CostUSD                                 string
	InputTokens, OutputTokens               int64
}

// markerPattern finds the bead marker in a pull request body.
var markerPattern = regexp.MustCompile(`<!-- gastown: bead=([a-z0-9-]+) rig=([a-z0-9.-]*) -->`)

// Marker is the hidden line that names a pull request's bead.
func Marker(bead, rig string) string {
	return fmt.Sprintf("<!-- gastown: bead=%s rig=%s -->", bead, rig)
}

// BeadOfBody returns the bead a pull request body names, or "".
func BeadOfBody(body string) string {
	if m := markerPattern.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// PullRequestTitle is the title of a bead's pull request, redacted.
func PullRequestTitle(b BeadInfo) string {
	return redact.Text(fmt.Sprintf("%s: %s", b.ID, b.Title))
}

// PullRequestBody describes the bead, the polecat's summary and cost, and
// carries the marker. It is redacted (redact.Text: token shapes and URL
// credentials; the provider removes its own token too): the summary is the
// agent's output, and the bead's text is anyone's commit.
func PullRequestBody(b BeadInfo) string {
	return redact.Text(pullRequestBody(b))
}

func pullRequestBody(b BeadInfo) string {
	var s strings.Builder
	if b.Description != "" {
		s.WriteString(strings.TrimSpace(b.Description) + "\n\n")
	}
	if b.Acceptance != "" {
		s.WriteString("**Acceptance**\n\n" + strings.TrimSpace(b.Acceptance) + "\n\n")
	}
	s.WriteString("---\n")
	fmt.Fprintf(&s, "Polecat `%s`", b.Polecat)
	if b.Agent != "" {
		fmt.Fprintf(&s, " (%s)", b.Agent)
	}
	s.WriteString(" worked on bead `" + b.ID + "`.\n")
	if b.Summary != "" {
		s.WriteString("\n> " + strings.ReplaceAll(strings.TrimSpace(b.Summary), "\n", "\n> ") + "\n")
	}
	if b.CostUSD != "" || b.InputTokens > 0 {
		fmt.Fprintf(&s, "\nCost: $%s, %d input and %d output tokens.\n", orZero(b.CostUSD), b.InputTokens, b.OutputTokens)
	}
	s.WriteString("\n" + Marker(b.ID, b.Rig) + "\n")
	return s.String()
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// RevisionTask is the task of a revision polecat: the review's body and
// its line comments, with token shapes and URL credentials redacted.
func RevisionTask(number int, review Review, comments []ReviewComment) string {
	return redact.Text(revisionTask(number, review, comments))
}

func revisionTask(number int, review Review, comments []ReviewComment) string {
	var s strings.Builder
	fmt.Fprintf(&s, "Address the review of pull request #%d by %s, who requested changes.\n", number, review.User)
	if body := strings.TrimSpace(review.Body); body != "" {
		s.WriteString("\nReview:\n" + body + "\n")
	}
	if len(comments) > 0 {
		s.WriteString("\nComments on the code:\n")
		for _, c := range comments {
			fmt.Fprintf(&s, "- %s:%d: %s\n", c.Path, c.Line, strings.TrimSpace(c.Body))
		}
	}
	return s.String()
}
