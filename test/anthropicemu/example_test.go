package anthropicemu_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/boshu2/gastown-operator/test/anthropicemu"
)

// A coding agent's first turn on a bead, as a raw request: the emulator
// answers with a call of the agent's write tool for the bead file, in the
// working directory the system prompt states. A CLI would run the tool,
// send the result back with the whole conversation, and get the summary.
func ExampleStart() {
	emu, err := anthropicemu.Start(anthropicemu.Options{APIKey: "sk-example"})
	if err != nil {
		panic(err)
	}
	defer emu.Close()

	body := `{
	  "model": "claude-sonnet-5-5", "max_tokens": 1024,
	  "system": "Primary working directory: /src/app",
	  "tools": [{"name": "Write", "input_schema": {"type": "object",
	    "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}}}}],
	  "messages": [{"role": "user", "content": "# Add a health endpoint (bead gt-1)\n\nServe /healthz."}]
	}`
	req, _ := http.NewRequest(http.MethodPost, emu.URL()+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", "sk-example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var msg struct {
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Type  string
			Name  string
			Input struct {
				FilePath string `json:"file_path"`
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		panic(err)
	}
	call := msg.Content[1]
	fmt.Println(msg.StopReason, call.Type, call.Name, call.Input.FilePath)
	fmt.Println(emu.Counts()[anthropicemu.KindMain], "main request")
	// Output:
	// tool_use tool_use Write /src/app/changes/gt-1.md
	// 1 main request
}
