package anthropicemu

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

func userTurn(texts ...string) *MessagesRequest {
	var c Content
	for _, t := range texts {
		c = append(c, Block{Type: "text", Text: t})
	}
	return &MessagesRequest{Messages: []Message{{Role: "user", Content: c}}}
}

func polecatTask(purpose gastownv1.PolecatPurpose, bead, title, desc string) polecat.Task {
	return polecat.Task{
		Purpose: purpose, BeadID: bead, Title: title, Description: desc,
		RepoURL: "https://github.com/acme/app.git", BaseBranch: "main", WorkBranch: "polecat/" + bead,
		ReviewComments: "- main.go:3: check the error",
		PreviousDiff:   "--- a/x\n+++ b/x\n+anthropic-emu: fail\n",
	}
}

// The task as the operator's prompts state it, wherever the CLI puts it.
func TestParseTask(t *testing.T) {
	reminder := "<system-reminder>\nAttribution...\n</system-reminder>\n"
	work := polecat.BuildPrompt(polecatTask(gastownv1.PurposeWork, "gt-a1", "Add (a) thing", "Do it.\nWell."))
	tests := []struct {
		name                      string
		req                       *MessagesRequest
		bead, title, desc, review string
	}{
		{"claude", userTurn(reminder, work), "gt-a1", "Add (a) thing", "Do it.\nWell.", ""},
		{"opencode quotes", userTurn(`"` + strings.ReplaceAll(work, `"`, `\"`) + `"`), "gt-a1", "Add (a) thing", "Do it.\nWell.", ""},
		{"no title", userTurn(polecat.BuildPrompt(polecatTask(gastownv1.PurposeWork, "gt-b2", "", "Only a description."))),
			"gt-b2", "Task for bead gt-b2", "Only a description.", ""},
		{"no bead", userTurn(polecat.BuildPrompt(polecatTask(gastownv1.PurposeWork, "", "Title only", ""))), "task", "Title only", "", ""},
		{"bead elsewhere", userTurn("Please do this (bead gt-x9) soon."), "gt-x9", "Please do this (bead gt-x9) soon.", "", ""},
		{"unsafe bead", userTurn("# Escape (bead ../../etc)\n"), "task", "Escape", "", ""},
		{"revision", userTurn(polecat.BuildPrompt(polecatTask(gastownv1.PurposeRevision, "gt-r", "Fix", "Fix it."))),
			"gt-r", "Fix", "Fix it.", "- main.go:3: check the error"},
		{"conflict fix", userTurn(polecat.BuildPrompt(polecatTask(gastownv1.PurposeConflictFix, "gt-c", "Redo", "Again."))),
			"gt-c", "Redo", "Again.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got := parseTask(tt.req)
			g.Expect(got.beadID).To(Equal(tt.bead))
			g.Expect(got.title).To(Equal(tt.title))
			g.Expect(got.description).To(Equal(tt.desc))
			g.Expect(got.revision).To(Equal(tt.review))
			g.Expect(parseDirectives(got.text).fail).To(BeZero(), "the conflict fix's diff holds a directive")
		})
	}
}

func TestWorkDir(t *testing.T) {
	g := NewWithT(t)
	claude := userTurn("task")
	claude.Messages = append(claude.Messages, Message{Role: "system", Content: Content{{Type: "text",
		Text: "# Environment\n - Primary working directory: /tmp/work dir\n - Is a git repository: false"}}})
	g.Expect(workDir(claude)).To(Equal("/tmp/work dir"))

	opencode := userTurn("task")
	opencode.System = Content{{Type: "text", Text: "<env>\n  Working directory: /tmp/w2\n  Workspace root folder: /\n</env>"}}
	g.Expect(workDir(opencode)).To(Equal("/tmp/w2"))
}

func TestParseDirectives(t *testing.T) {
	g := NewWithT(t)
	ds := parseDirectives(strings.Join([]string{
		"Intro text, not a directive: anthropic-emu: fail",
		"- anthropic-emu: write a/b.txt",
		"line one",
		"",
		"  kept indent",
		"anthropic-emu: end",
		"> anthropic-emu: bash  echo hi ",
		"anthropic-emu: append log.txt",
		"more",
		"anthropic-emu: end",
		"anthropic-emu: turns 7",
		"anthropic-emu: stall 2s",
		"anthropic-emu: say All done.",
		"anthropic-emu: no-bead-file",
		"anthropic-emu: fail 529",
		"anthropic-emu: dance",
		"anthropic-emu: turns many",
		"```diff",
		"+anthropic-emu: no-change",
	}, "\n"))
	g.Expect(ds.actions).To(Equal([]action{
		{kind: actionWrite, path: "a/b.txt", content: "line one\n\n  kept indent\n"},
		{kind: actionBash, command: "echo hi"},
		{kind: actionAppend, path: "log.txt", content: "more\n"},
	}))
	g.Expect(ds.turns).To(Equal(7))
	g.Expect(ds.stall).To(Equal(2 * time.Second))
	g.Expect(ds.say).To(Equal("All done."))
	g.Expect(ds.noBeadFile).To(BeTrue())
	g.Expect(ds.noChange).To(BeFalse(), "directives in a quoted diff are ignored")
	g.Expect(ds.fail).To(Equal(529))
	g.Expect(ds.problems).To(Equal([]string{`unknown directive "dance"`, `turns takes a count, not "many"`}))

	scripted := parseDirectives("scripted-agent: fail\nscripted-agent: sleep 30s\nscripted-agent: no-change\n")
	g.Expect(scripted.fail).To(Equal(http.StatusBadRequest))
	g.Expect(scripted.stall).To(Equal(30 * time.Second))
	g.Expect(scripted.noChange).To(BeTrue())

	g.Expect(parseDirectives("anthropic-emu: write open.txt\nto the end").actions).To(Equal([]action{
		{kind: actionWrite, path: "open.txt", content: "to the end\n"},
	}), "a block without end runs to the end of the task")
}

// The plan calls the tools each CLI offers, with their own input names.
func TestPlanUsesTheOfferedTools(t *testing.T) {
	tool := func(name string, props ...string) Tool {
		var t Tool
		t.Name = name
		t.InputSchema.Properties = map[string]json.RawMessage{}
		for _, p := range props {
			t.InputSchema.Properties[p] = json.RawMessage(`{"type":"string"}`)
		}
		return t
	}
	claude := []Tool{tool("Write", "file_path", "content"), tool("Bash", "command", "description", "timeout")}
	opencode := []Tool{tool("write", "filePath", "content"), tool("bash", "command", "timeout", "workdir")}
	req := func(tools []Tool) *MessagesRequest {
		r := userTurn("# Probe (bead gt-p)\n\nanthropic-emu: bash make test\nanthropic-emu: append notes.md\nx\nanthropic-emu: end\n")
		r.System = Content{{Type: "text", Text: "Working directory: /w"}}
		r.Tools = tools
		return r
	}
	tests := []struct {
		name   string
		tools  []Tool
		inputs []string
		notes  []string
	}{
		{"claude", claude, []string{
			`{"file_path":"/w/changes/gt-p.md","content":"# gt-p: Probe\n\nDone through the Anthropic API emulator.\n"}`,
			`{"command":"make test","description":"Run the command the task gives"}`,
			`{"command":"mkdir -p '/w' && cat >> '/w/notes.md' <<'ANTHROPIC_EMU_EOF'\nx\nANTHROPIC_EMU_EOF","description":"Append to notes.md"}`,
		}, nil},
		{"opencode", opencode, []string{
			`{"filePath":"/w/changes/gt-p.md","content":"# gt-p: Probe\n\nDone through the Anthropic API emulator.\n"}`,
			`{"command":"make test"}`,
			`{"command":"mkdir -p '/w' && cat >> '/w/notes.md' <<'ANTHROPIC_EMU_EOF'\nx\nANTHROPIC_EMU_EOF"}`,
		}, nil},
		{"no bash", claude[:1], []string{
			`{"file_path":"/w/changes/gt-p.md","content":"# gt-p: Probe\n\nDone through the Anthropic API emulator.\n"}`,
		}, []string{"I could not run `make test`: no bash tool is offered",
			"I could not append to notes.md: no bash tool is offered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			p := newPlan(req(tt.tools))
			var inputs []string
			for _, c := range p.calls {
				inputs = append(inputs, string(c.input))
			}
			g.Expect(inputs).To(Equal(tt.inputs))
			g.Expect(p.notes).To(Equal(tt.notes))
		})
	}
}
