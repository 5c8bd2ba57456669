package anthropicemu

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DirectivePrefix starts a line of the task that scripts the emulator.
const DirectivePrefix = "anthropic-emu:"

// scriptedAgentPrefix is the prefix of the scripted stand-in agent's
// directives (test/devenv/scriptedagent). The emulator honours the ones
// that mean the same to a real agent, so that one bead behaves alike
// whichever agent works on it.
const scriptedAgentPrefix = "scripted-agent:"

// directives is what the task's directive lines ask for.
type directives struct {
	actions    []action
	noChange   bool
	noBeadFile bool
	say        string
	// fail is the status of the error every main request gets; 0 for none.
	fail  int
	stall time.Duration
	turns int
	// problems are directives the emulator could not read; the final text
	// reports them, so a typo in a test's bead is visible in the result.
	problems []string
}

// directiveLines are the task's lines, with the Markdown list and quote
// markers a bead's description may put before a directive removed, outside
// the earlier diff a conflict-fix prompt quotes (which may hold an old
// bead file's directives).
func directiveLines(task string) []string {
	task, _, _ = strings.Cut(task, "```diff")
	var lines []string
	s := bufio.NewScanner(strings.NewReader(task))
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	return lines
}

// cutDirective returns the directive on a line, and which prefix it had.
func cutDirective(line string) (d string, scripted, ok bool) {
	line = strings.TrimLeft(strings.TrimSpace(line), "-*> ")
	if d, ok := strings.CutPrefix(line, DirectivePrefix); ok {
		return strings.TrimSpace(d), false, true
	}
	if d, ok := strings.CutPrefix(line, scriptedAgentPrefix); ok {
		return strings.TrimSpace(d), true, true
	}
	return "", false, false
}

// parseDirectives reads the directives of a task.
func parseDirectives(task string) directives {
	var ds directives
	lines := directiveLines(task)
	for i := 0; i < len(lines); i++ {
		d, scripted, ok := cutDirective(lines[i])
		if !ok {
			continue
		}
		verb, arg, _ := strings.Cut(d, " ")
		arg = strings.TrimSpace(arg)
		if scripted {
			ds.scripted(verb, arg)
			continue
		}
		switch verb {
		case "write", "append":
			var content string
			content, i = block(lines, i+1)
			if arg == "" {
				ds.problems = append(ds.problems, verb+" needs a path")
				continue
			}
			kind := actionWrite
			if verb == "append" {
				kind = actionAppend
			}
			ds.actions = append(ds.actions, action{kind: kind, path: arg, content: content})
		case "bash":
			if arg == "" {
				ds.problems = append(ds.problems, "bash needs a command")
				continue
			}
			ds.actions = append(ds.actions, action{kind: actionBash, command: arg})
		case "no-change":
			ds.noChange = true
		case "no-bead-file":
			ds.noBeadFile = true
		case "say":
			ds.say = arg
		case "fail":
			ds.fail = http.StatusBadRequest
			if arg != "" {
				code, err := strconv.Atoi(arg)
				if err != nil || code < 400 || code > 599 {
					ds.problems = append(ds.problems, "fail takes an HTTP error status, not "+strconv.Quote(arg))
					continue
				}
				ds.fail = code
			}
		case "stall":
			dur, err := time.ParseDuration(arg)
			if err != nil || dur < 0 {
				ds.problems = append(ds.problems, "stall takes a duration, not "+strconv.Quote(arg))
				continue
			}
			ds.stall = dur
		case "turns":
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				ds.problems = append(ds.problems, "turns takes a count, not "+strconv.Quote(arg))
				continue
			}
			ds.turns = n
		case "end":
			ds.problems = append(ds.problems, "end without write or append")
		default:
			ds.problems = append(ds.problems, "unknown directive "+strconv.Quote(d))
		}
	}
	return ds
}

// scripted maps the scripted agent's directives to their meaning for a
// real agent; the rest of its directives are left to it.
func (ds *directives) scripted(verb, arg string) {
	switch verb {
	case "fail":
		ds.fail = http.StatusBadRequest
	case "no-change":
		ds.noChange = true
	case "sleep":
		if dur, err := time.ParseDuration(arg); err == nil && dur >= 0 {
			ds.stall = dur
		}
	}
}

// block reads a write or append directive's content: the lines up to an
// "end" directive, or to the end of the task. It returns the content and
// the index of the last line it used.
func block(lines []string, from int) (string, int) {
	var content []string
	for i := from; i < len(lines); i++ {
		if d, scripted, ok := cutDirective(lines[i]); ok && !scripted && d == "end" {
			return joinLines(content), i
		}
		content = append(content, lines[i])
	}
	return joinLines(content), len(lines) - 1
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// withoutDirectives is text without its directive lines and the content of
// its write and append blocks: what a bead file quotes of the description.
func withoutDirectives(text string) string {
	lines := strings.Split(text, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		d, scripted, ok := cutDirective(lines[i])
		if !ok {
			out = append(out, lines[i])
			continue
		}
		verb, _, _ := strings.Cut(d, " ")
		if !scripted && (verb == "write" || verb == "append") {
			_, i = block(lines, i+1)
		}
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
