package anthropicemu

import (
	"fmt"
	"path"
	"strings"
)

// ChangesDir is where the default script writes bead files, relative to
// the working directory.
const ChangesDir = "changes"

// Stop reasons the emulator answers with.
const (
	StopEndTurn   = "end_turn"
	StopToolUse   = "tool_use"
	StopMaxTokens = "max_tokens"
)

type actionKind int

const (
	actionWrite actionKind = iota
	actionAppend
	actionBash
)

// action is one thing the script does to the working directory, in one
// tool turn.
type action struct {
	kind    actionKind
	path    string // write and append: as the task gives it
	content string
	command string // bash
	// padding marks the harmless commands a "turns" directive adds.
	padding bool
}

// plan is the whole conversation the script has for a task. It is a pure
// function of the request's first user turn, system prompt and tools,
// which are the same in every request of one conversation: so each request
// can recompute it, and the history tells how far along it is.
type plan struct {
	task  task
	ds    directives
	calls []call
	// notes are actions the client offers no tool for.
	notes []string
}

// call is an action as a tool call of the client's own tools.
type call struct {
	action action
	tool   string
	input  []byte
}

func newPlan(req *MessagesRequest) plan {
	p := plan{task: parseTask(req)}
	p.ds = parseDirectives(p.task.text)
	if p.ds.noChange {
		return p
	}
	var acts []action
	if !p.ds.noBeadFile {
		bead := path.Join(ChangesDir, p.task.beadID+".md")
		if p.task.revision != "" {
			acts = append(acts, action{kind: actionAppend, path: bead, content: reviewSection(p.task)})
		} else {
			acts = append(acts, action{kind: actionWrite, path: bead, content: beadFile(p.task)})
		}
	}
	acts = append(acts, p.ds.actions...)
	for n := len(acts); n < p.ds.turns; n++ {
		acts = append(acts, action{kind: actionBash, command: fmt.Sprintf("echo turn %d of %d", n+1, p.ds.turns), padding: true})
	}
	tools := offered(req.Tools)
	for _, a := range acts {
		c, err := tools.call(a, p.abs(a.path))
		if err != nil {
			p.notes = append(p.notes, err.Error())
			continue
		}
		p.calls = append(p.calls, c)
	}
	return p
}

// abs is a task's path in the working directory the client stated; the
// CLIs' file tools want absolute paths.
func (p plan) abs(file string) string {
	if file == "" || path.IsAbs(file) || p.task.workDir == "" {
		return file
	}
	return path.Join(p.task.workDir, file)
}

// history is how far a conversation has come: the tool calls of its
// assistant turns, in order, and the results the client sent back.
type history struct {
	uses    []Block
	results map[string]Block
}

func readHistory(req *MessagesRequest) history {
	h := history{results: map[string]Block{}}
	for _, m := range req.Messages {
		for _, b := range m.Content {
			switch {
			case m.Role == "assistant" && b.Type == "tool_use":
				h.uses = append(h.uses, b)
			case b.Type == "tool_result":
				h.results[b.ToolUseID] = b
			}
		}
	}
	return h
}

// next is the assistant's next turn: the next tool call of the plan, or
// the final answer when all were made.
func (p plan) next(h history) []responseBlock {
	if k := len(h.uses); k < len(p.calls) {
		c := p.calls[k]
		return []responseBlock{
			{Type: "text", Text: c.intro()},
			{Type: "tool_use", ID: newID("toolu_01"), Name: c.tool, Input: c.input},
		}
	}
	return []responseBlock{{Type: "text", Text: p.final(h)}}
}

func (c call) intro() string {
	switch c.action.kind {
	case actionWrite:
		return "I'll write " + c.action.path + "."
	case actionAppend:
		return "I'll add to " + c.action.path + "."
	default:
		return "I'll run `" + c.action.command + "`."
	}
}

func (c call) done() string {
	switch c.action.kind {
	case actionWrite:
		return "wrote " + c.action.path
	case actionAppend:
		return "added to " + c.action.path
	default:
		return "ran `" + c.action.command + "`"
	}
}

// final is the summary that ends the conversation: what was done, the
// output of the commands the task asked for, and anything that failed.
func (p plan) final(h history) string {
	var b strings.Builder
	var done []string
	for _, c := range p.calls {
		if !c.action.padding {
			done = append(done, c.done())
		}
	}
	switch {
	case p.ds.say != "":
		b.WriteString(p.ds.say)
	case p.ds.noChange:
		fmt.Fprintf(&b, "Changed nothing for bead %s, as the task asks.", p.task.beadID)
	case len(done) == 0:
		fmt.Fprintf(&b, "Did nothing for bead %s.", p.task.beadID)
	default:
		fmt.Fprintf(&b, "Did bead %s (%s): %s.", p.task.beadID, p.task.title, strings.Join(done, ", "))
	}
	for i, c := range p.calls {
		if i >= len(h.uses) {
			break
		}
		res, ok := h.results[h.uses[i].ID]
		switch {
		case !ok:
			fmt.Fprintf(&b, "\n\nNo result came back for the call that %s.", c.done())
		case res.IsError:
			fmt.Fprintf(&b, "\n\nThe call that %s failed: %s", c.done(), strings.TrimSpace(res.Content.Text()))
		case c.action.kind == actionBash && !c.action.padding:
			fmt.Fprintf(&b, "\n\n`%s` printed:\n```\n%s\n```", c.action.command, strings.TrimRight(res.Content.Text(), "\n"))
		}
	}
	for _, n := range p.notes {
		b.WriteString("\n\n" + n)
	}
	if len(p.ds.problems) > 0 {
		b.WriteString("\n\nDirectives I could not follow: " + strings.Join(p.ds.problems, "; ") + ".")
	}
	return b.String()
}

// sideReply answers a request that is not a coding conversation (no tools
// offered): opencode's title request, claude's small side requests.
func sideReply(req *MessagesRequest) string {
	if strings.Contains(strings.ToLower(req.System.Text()), "title") {
		return titleOf(req)
	}
	return "OK."
}

// titleOf makes a thread title from the last text of the last user turn
// (opencode sends its instruction, then the prompt in quotes): the title
// line of the task it quotes, else its first line.
func titleOf(req *MessagesRequest) string {
	var last string
	for _, m := range req.Messages {
		if m.Role == "user" && len(m.Content) > 0 {
			last = m.Content[len(m.Content)-1].Text
		}
	}
	title := ""
	for _, line := range strings.Split(last, "\n") {
		// The line as it was before opencode quoted the prompt.
		line = strings.ReplaceAll(strings.TrimLeft(strings.TrimSpace(line), `"`), `\"`, `"`)
		if strings.HasPrefix(line, "# ") {
			title = parseTask(&MessagesRequest{Messages: []Message{{Role: "user",
				Content: Content{{Type: "text", Text: line}}}}}).title
			break
		}
	}
	if title == "" {
		first, _, _ := strings.Cut(unquote(strings.TrimSpace(last)), "\n")
		title = strings.TrimSpace(first)
	}
	if title == "" {
		title = "Coding task"
	}
	const maxTitle = 50 // opencode asks for at most 50 characters
	if r := []rune(title); len(r) > maxTitle {
		title = string(r[:maxTitle])
	}
	return title
}
