package anthropicemu

import (
	"regexp"
	"strings"
)

// DefaultBeadID names the bead file when the task names no bead.
const DefaultBeadID = "task"

// Headings of the prompt internal/polecat.BuildPrompt writes, by which the
// emulator tells the purpose of a run and where the task's parts end.
const (
	revisionHeading    = "## Review comments to address"
	conflictFixHeading = "## Redo the change on the current"
)

// task is what the conversation's first user turn asks for.
type task struct {
	text        string
	beadID      string
	title       string
	description string
	// revision holds the review comments of a revision task.
	revision string
	// workDir is where the CLI says it works; empty when it does not say.
	workDir string
}

// systemReminder starts the text blocks claude adds to the user's turn.
const systemReminder = "<system-reminder>"

// taskText is the user's own words in the first user turn: claude adds
// <system-reminder> blocks beside the prompt, and opencode run quotes an
// argument holding spaces.
func taskText(req *MessagesRequest) string {
	for _, m := range req.Messages {
		if m.Role != "user" {
			continue
		}
		var parts []string
		for _, b := range m.Content {
			if b.Type != "text" || strings.HasPrefix(strings.TrimSpace(b.Text), systemReminder) {
				continue
			}
			parts = append(parts, b.Text)
		}
		return unquote(strings.TrimSpace(strings.Join(parts, "\n")))
	}
	return ""
}

// unquote undoes what opencode run does to a message argument holding a
// space: it wraps it in double quotes and puts a backslash before each
// double quote inside (not before backslashes).
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.TrimSpace(strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`))
	}
	return s
}

// Working directory statements: claude's environment block ("Primary
// working directory: /x"), opencode's <env> block ("Working directory:
// /x").
var workDirPattern = regexp.MustCompile(`(?m)^[ \t-]*(?:Primary working directory|Working directory):[ \t]*(/.*?)[ \t]*$`)

// workDir is the working directory the CLI states in its system prompt or
// its system turns.
func workDir(req *MessagesRequest) string {
	texts := []string{req.System.Text()}
	for _, m := range req.Messages {
		texts = append(texts, m.Content.Text())
	}
	for _, t := range texts {
		if m := workDirPattern.FindStringSubmatch(t); m != nil {
			return m[1]
		}
	}
	return ""
}

// Bead names in the prompt's title: "# Title (bead gt-1)" or "# Task for
// bead gt-1".
var (
	titleBead  = regexp.MustCompile(`\(bead ([^\s()]+)\)\s*$`)
	taskForBd  = regexp.MustCompile(`^Task for bead (\S+)$`)
	anyBead    = regexp.MustCompile(`\(bead ([^\s()]+)\)`)
	safeBeadID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

func parseTask(req *MessagesRequest) task {
	t := task{text: taskText(req), workDir: workDir(req)}
	first, rest, _ := strings.Cut(t.text, "\n")
	title := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(first), "#"))
	switch m := titleBead.FindStringSubmatchIndex(title); {
	case m != nil:
		t.beadID = title[m[2]:m[3]]
		t.title = strings.TrimSpace(title[:m[0]])
	case taskForBd.MatchString(title):
		t.beadID = taskForBd.FindStringSubmatch(title)[1]
		t.title = title
	default:
		t.title = title
		if m := anyBead.FindStringSubmatch(t.text); m != nil {
			t.beadID = m[1]
		}
	}
	// The bead ID becomes a file name: nothing that leaves changes/.
	if !safeBeadID.MatchString(t.beadID) || strings.Contains(t.beadID, "..") {
		t.beadID = DefaultBeadID
	}
	t.description = strings.TrimSpace(section(rest))
	if _, body, ok := strings.Cut(t.text, revisionHeading); ok {
		body = strings.TrimSpace(section(body))
		// BuildPrompt puts a paragraph before the comments.
		if _, comments, ok := strings.Cut(body, "\n\n"); ok {
			body = comments
		}
		t.revision = strings.TrimSpace(body)
	}
	return t
}

// section cuts text at its first line that starts a "## " heading.
func section(text string) string {
	if strings.HasPrefix(text, "## ") {
		return ""
	}
	if i := strings.Index(text, "\n## "); i >= 0 {
		return text[:i]
	}
	return text
}

// beadFile is the bead file's content: the same layout as the scripted
// agent's (test/devenv/scriptedagent), so that tests can check either.
func beadFile(t task) string {
	var b strings.Builder
	b.WriteString("# " + t.beadID + ": " + t.title + "\n\n")
	b.WriteString("Done through the Anthropic API emulator.\n")
	if d := withoutDirectives(t.description); d != "" {
		b.WriteString("\n## Task\n\n")
		for _, line := range strings.Split(d, "\n") {
			b.WriteString(strings.TrimRight("> "+line, " ") + "\n")
		}
	}
	return b.String()
}

// reviewSection is what a revision appends to the bead file.
func reviewSection(t task) string {
	return "\n## Review\n\n" + t.revision + "\n"
}
