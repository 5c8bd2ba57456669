package anthropicemu

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// toolset is the client tools a request offers. The script calls them by
// what they are for, not by one CLI's names: claude offers Write {file_path,
// content} and Bash {command, description, ...}; opencode offers write
// {filePath, content} and bash {command, timeout, workdir}.
type toolset []Tool

func offered(tools []Tool) toolset {
	var out toolset
	for _, t := range tools {
		if t.Type == "" || t.Type == "custom" {
			out = append(out, t)
		}
	}
	return out
}

// find is the tool of a name (in any case) whose schema has the
// properties.
func (ts toolset) find(name string, props ...string) (Tool, bool) {
	for _, t := range ts {
		if !strings.EqualFold(t.Name, name) {
			continue
		}
		ok := true
		for _, p := range props {
			ok = ok && t.has(p)
		}
		if ok {
			return t, true
		}
	}
	return Tool{}, false
}

// pathProps are the names file tools give their path.
var pathProps = []string{"file_path", "filePath", "path"}

func (ts toolset) writeTool() (Tool, string, bool) {
	for _, p := range pathProps {
		if t, ok := ts.find("write", p, "content"); ok {
			return t, p, true
		}
	}
	return Tool{}, "", false
}

// call makes an action a call of one of the tools; file is the action's
// path made absolute.
func (ts toolset) call(a action, file string) (call, error) {
	c := call{action: a}
	switch a.kind {
	case actionWrite:
		t, prop, ok := ts.writeTool()
		if !ok {
			return c, fmt.Errorf("I could not write %s: no write tool is offered", a.path)
		}
		c.tool = t.Name
		c.input = object(prop, file, "content", a.content)
		return c, nil
	case actionAppend:
		// Appending through the write tool would need the file's content,
		// which a read tool returns decorated with line numbers; a shell
		// appends exactly.
		return ts.bash(c, appendCommand(file, a.content), "Append to "+path.Base(a.path), "append to "+a.path)
	default:
		return ts.bash(c, a.command, "Run the command the task gives", "run `"+a.command+"`")
	}
}

// bash makes a call of the bash tool; what names the action for the note
// when there is none.
func (ts toolset) bash(c call, command, description, what string) (call, error) {
	t, ok := ts.find("bash", "command")
	if !ok {
		return c, fmt.Errorf("I could not %s: no bash tool is offered", what)
	}
	c.tool = t.Name
	if t.has("description") {
		c.input = object("command", command, "description", description)
	} else {
		c.input = object("command", command)
	}
	return c, nil
}

// heredocEnd ends the here-document of an append command; content holding
// this line would end it early, which no test has reason to do.
const heredocEnd = "ANTHROPIC_EMU_EOF"

func appendCommand(file, content string) string {
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	return fmt.Sprintf("mkdir -p %s && cat >> %s <<'%s'\n%s%s",
		shellQuote(path.Dir(file)), shellQuote(file), heredocEnd, content, heredocEnd)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// object encodes string pairs as a JSON object in the order given, as a
// model writes its tool input (encoding/json would sort a map's keys).
func object(kv ...string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encode(kv[i]))
		b.WriteByte(':')
		b.Write(encode(kv[i+1]))
	}
	b.WriteByte('}')
	return b.Bytes()
}
