package anthropicemu

import (
	"bytes"
	"encoding/json"
	"strings"
)

// MessagesRequest is the body of POST /v1/messages (and of count_tokens),
// as far as the emulator reads it. Fields it does not read (thinking,
// metadata, context_management, output_config, ...) are accepted and
// ignored, as the CLIs send many that change from version to version.
type MessagesRequest struct {
	Model     string    `json:"model"`
	MaxTokens int       `json:"max_tokens"`
	System    Content   `json:"system,omitempty"`
	Messages  []Message `json:"messages"`
	Tools     []Tool    `json:"tools,omitempty"`
	Stream    bool      `json:"stream,omitempty"`
}

// Message is one turn of the conversation. Besides user and assistant,
// claude sends turns with role "system" (its environment block).
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a message's content, a system prompt or a tool result's
// content: the API takes either a string or a list of blocks, and a string
// is read as one text block.
type Content []Block

// UnmarshalJSON accepts a string or a list of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Content{{Type: "text", Text: s}}
		return nil
	}
	var blocks []Block
	if err := json.Unmarshal(b, &blocks); err != nil {
		return err
	}
	*c = blocks
	return nil
}

// Text is the content's text blocks, joined by newlines.
func (c Content) Text() string {
	var parts []string
	for _, b := range c {
		if b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// Block is a content block of a request: text, tool_use (in assistant
// turns the client sends back), tool_result, or others the emulator does
// not read (thinking, image, ...).
type Block struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`

	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`

	// tool_result
	ToolUseID string  `json:"tool_use_id,omitempty"`
	Content   Content `json:"content,omitempty"`
	IsError   bool    `json:"is_error,omitempty"`

	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// Tool is a tool the client offers.
type Tool struct {
	Name string `json:"name"`
	// Type is set for the API's own tools (e.g. "web_search_20250305");
	// empty for a client tool.
	Type        string `json:"type,omitempty"`
	InputSchema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	} `json:"input_schema"`
}

// has reports whether the tool's input schema has a property.
func (t Tool) has(prop string) bool {
	_, ok := t.InputSchema.Properties[prop]
	return ok
}

// Usage is the API's token accounting of one response.
type Usage struct {
	InputTokens              int                `json:"input_tokens"`
	CacheCreationInputTokens int                `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int                `json:"cache_read_input_tokens"`
	CacheCreation            CacheCreationUsage `json:"cache_creation"`
	OutputTokens             int                `json:"output_tokens"`
	ServiceTier              string             `json:"service_tier"`
}

// Add sums two usages, as a client sums the turns of a conversation.
func (u Usage) Add(o Usage) Usage {
	u.InputTokens += o.InputTokens
	u.CacheCreationInputTokens += o.CacheCreationInputTokens
	u.CacheReadInputTokens += o.CacheReadInputTokens
	u.CacheCreation.Ephemeral5mInputTokens += o.CacheCreation.Ephemeral5mInputTokens
	u.CacheCreation.Ephemeral1hInputTokens += o.CacheCreation.Ephemeral1hInputTokens
	u.OutputTokens += o.OutputTokens
	if u.ServiceTier == "" {
		u.ServiceTier = o.ServiceTier
	}
	return u
}

// CacheCreationUsage splits cache writes by lifetime, as the API reports
// them. The emulator's cache entries all live five minutes.
type CacheCreationUsage struct {
	Ephemeral5mInputTokens int `json:"ephemeral_5m_input_tokens"`
	Ephemeral1hInputTokens int `json:"ephemeral_1h_input_tokens"`
}

// message is the API's assistant message, the whole body of a non-streamed
// response and the start of a streamed one (with empty content).
type message struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []responseBlock `json:"content"`
	StopReason   *string         `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	Usage        Usage           `json:"usage"`
}

// responseBlock is a content block the emulator answers with. Text blocks
// always carry "text" (empty at a stream's content_block_start) and tool
// blocks always carry "input", so the fields are not omitempty; marshal
// picks the shape by type.
type responseBlock struct {
	Type  string
	Text  string
	ID    string
	Name  string
	Input json.RawMessage
}

// MarshalJSON writes the block in the API's shape for its type.
func (b responseBlock) MarshalJSON() ([]byte, error) {
	if b.Type == "tool_use" {
		input := b.Input
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		return encode(struct {
			Type  string          `json:"type"`
			ID    string          `json:"id"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		}{b.Type, b.ID, b.Name, input}), nil
	}
	return encode(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{b.Type, b.Text}), nil
}

// errorBody is the API's error document.
type errorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

// encode marshals v as the API writes JSON: without escaping <, > and &,
// which encoding/json does by default and a client would see in the text.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("anthropicemu: encode: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
