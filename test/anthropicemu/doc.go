// Package anthropicemu is an emulator of the Anthropic Messages API, for
// tests that run the real agent CLIs (claude, opencode) offline: the CLI
// is pointed at the emulator (claude: ANTHROPIC_BASE_URL=URL(); opencode:
// a provider with npm "@ai-sdk/anthropic" and baseURL URL()+"/v1") and
// does real work in a real directory, with the emulator in the model's
// place.
//
// # The API
//
// POST /v1/messages (with or without claude's ?beta=true), streamed as
// server-sent events or answered as one JSON message, in the API's shapes:
// message_start, content_block_start / content_block_delta (text_delta,
// input_json_delta) / content_block_stop, ping, message_delta with the
// stop reason (end_turn, tool_use, max_tokens) and the usage,
// message_stop. POST /v1/messages/count_tokens counts like a messages
// request. HEAD /api/hello (claude's connectivity check) answers 200.
// Anything else is the API's 404 not_found_error. Errors have the API's
// statuses, types and body ({"type":"error","error":{...},"request_id":...}),
// and every response has a request-id and anthropic-ratelimit-* headers.
// A key is required, as x-api-key or "Authorization: Bearer"
// (Options.APIKey, or any key when that is empty).
//
// Usage is deterministic: a token for every four bytes of the request's
// tools, system prompt and messages, and of the reply. With
// Options.PromptCaching the emulator accounts for cache_control
// breakpoints as the API does (cache writes and reads). The reply echoes
// the request's model, which is what the CLIs price a turn by.
//
// # The script
//
// The emulator plays the model by a script that the task decides. Each
// request carries the whole conversation, so the emulator keeps no state
// between turns: it reads the task from the first user turn (without
// claude's <system-reminder> blocks and opencode's quoting), the working
// directory from what the CLI says of its environment ("Primary working
// directory:" in a turn of role system for claude, "Working directory:"
// in the system prompt for opencode), counts the tool calls already made,
// and answers with the next one, or with the final summary once all were
// made and their results came back.
//
// By default, for a task prompt as internal/polecat.BuildPrompt writes it,
// the script makes one tool call that writes changes/<bead>.md (the bead
// from the title line "# Title (bead <id>)" or "# Task for bead <id>",
// else from any "(bead <id>)", else "task") with the task's title and
// description, in the scripted agent's layout (test/devenv/scriptedagent);
// for a revision task it appends the review comments under "## Review"
// instead. It calls the tools the request offers, by purpose: claude's
// Write {file_path, content} and Bash {command, description}, opencode's
// write {filePath, content} and bash {command}. The final text is a short
// summary with stop reason end_turn.
//
// A request without tools is a side request, not part of the coding
// conversation (opencode's title request; claude's small background
// requests): it gets a short text answer (a title when the system prompt
// asks for one).
//
// # Directives
//
// Lines of the task of the form "anthropic-emu: VERB ARGS" change the
// script. They may stand in a Markdown list or quote ("- anthropic-emu:
// ..."); lines after a "```diff" (the earlier change a conflict-fix prompt
// quotes) are ignored, and the bead file leaves them out.
//
//	anthropic-emu: write PATH      write the lines that follow, up to
//	...                            "anthropic-emu: end" (or the end of the
//	anthropic-emu: end             task), to PATH, relative to the working
//	                               directory; after the bead file
//	anthropic-emu: append PATH     the same, appending (through the shell)
//	...
//	anthropic-emu: end
//	anthropic-emu: bash COMMAND    run COMMAND with the bash tool; its
//	                               output goes into the final text
//	anthropic-emu: no-bead-file    do not write changes/<bead>.md
//	anthropic-emu: no-change       make no tool call at all: text only
//	anthropic-emu: turns N         make at least N tool calls, adding
//	                               harmless "echo turn K of N" commands
//	anthropic-emu: say TEXT        end with TEXT as the summary
//	anthropic-emu: fail [STATUS]   answer every turn of the conversation
//	                               (not side requests) with the API's
//	                               error for STATUS: by default 400
//	                               invalid_request_error, which the CLIs
//	                               give up on at once (claude first tries
//	                               a few variants of the request); 429,
//	                               500 and 529 they retry
//	anthropic-emu: stall DURATION  hold the conversation's first turn for
//	                               DURATION without sending a byte (a
//	                               stuck model); it ends early when the
//	                               client goes away or the emulator closes
//
// Tool calls are made in the order: bead file, then the write, append and
// bash directives in the order given, then padding. Directives it cannot
// follow are named in the final text, so a typo shows in the result.
//
// The scripted agent's own directives mean the same to the emulator, so a
// bead behaves alike whichever agent works on it: "scripted-agent: fail"
// is fail, "scripted-agent: no-change" is no-change and "scripted-agent:
// sleep D" is stall D.
//
// # Faults and the record
//
// Inject makes the next requests (by default, of the main conversation)
// fail: overloaded (529), server errors (500), rate limits (429 with
// retry-after), streams cut off by an overloaded error event, or slow
// streams. Requests returns every request received with the answer given
// (credentials redacted), Counts and Usage sum them by kind, and WaitFor
// lets a test wait for a point in a conversation without polling.
package anthropicemu
