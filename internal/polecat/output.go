package polecat

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Figures are what an agent reported about its run. Zero values mean "not
// reported".
type Figures struct {
	// CostUSD as the agent reported it, e.g. "0.4213".
	CostUSD      string
	InputTokens  int64
	OutputTokens int64
	Turns        int32
	// Summary is the agent's final message.
	Summary string
	// IsError is set when the agent reported that it failed, whatever its
	// exit code; ErrorKind says how (claude-code's result subtype).
	IsError   bool
	ErrorKind string
}

// ParseOutput extracts the figures from an agent's standard output.
// claude-code and custom agents report them as claude-code's result object
// (the last JSON line of type "result", or a single JSON document); a
// custom agent may print one as its last line. aider prints "Tokens: ...
// Cost: ..." lines. Output without figures gives zero Figures: that is not
// an error.
func ParseOutput(agent gastownv1.AgentType, out []byte) Figures {
	switch agent {
	case gastownv1.AgentAider:
		return parseAider(out)
	case gastownv1.AgentOpenCode:
		return Figures{}
	case gastownv1.AgentCustom:
		if f, ok := claudeFigures(out); ok {
			return f
		}
		return Figures{Summary: lastLine(out)}
	default:
		return parseClaudeResult(out)
	}
}

// maxPlainSummary bounds a summary taken from a custom agent's plain output.
const maxPlainSummary = 500

// lastLine is the last non-empty line of out: a custom agent that prints no
// result object reports what it did there.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > maxPlainSummary {
		line = line[:maxPlainSummary]
	}
	return line
}

// claudeResult is the part of claude-code's result object we read.
type claudeResult struct {
	Type         string      `json:"type"`
	Subtype      string      `json:"subtype"`
	IsError      bool        `json:"is_error"`
	NumTurns     int32       `json:"num_turns"`
	Result       string      `json:"result"`
	TotalCostUSD json.Number `json:"total_cost_usd"`
	Usage        struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

func parseClaudeResult(out []byte) Figures {
	f, _ := claudeFigures(out)
	return f
}

func claudeFigures(out []byte) (Figures, bool) {
	r, ok := lastClaudeResult(out)
	if !ok {
		return Figures{}, false
	}
	f := Figures{
		CostUSD: roundUSD(r.TotalCostUSD),
		// usage.input_tokens counts uncached input only; the cost covers
		// the cached part.
		InputTokens:  max(r.Usage.InputTokens, 0),
		OutputTokens: max(r.Usage.OutputTokens, 0),
		Turns:        max(r.NumTurns, 0),
		Summary:      strings.TrimSpace(r.Result),
		IsError:      r.IsError,
	}
	if r.IsError {
		f.ErrorKind = r.Subtype
	}
	return f, true
}

// roundUSD writes a cost without floating-point noise: claude sums its
// per-turn costs in floating point and prints the sum as it comes out
// (0.10200000000000001). Twelve significant digits keep every digit a
// price list has.
func roundUSD(n json.Number) string {
	v, err := n.Float64()
	if err != nil {
		return n.String()
	}
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// lastClaudeResult finds the result object: the whole output for
// --output-format json (possibly indented), else the last line of type
// "result" for stream-json.
func lastClaudeResult(out []byte) (claudeResult, bool) {
	var r claudeResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err == nil && r.Type == "result" {
		return r, true
	}
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		r = claudeResult{}
		if err := json.Unmarshal(line, &r); err == nil && r.Type == "result" {
			return r, true
		}
	}
	return claudeResult{}, false
}

// aiderTokens matches aider's report after each message, e.g.
// "Tokens: 4.2k sent, 1.1k received. Cost: $0.02 message, $0.05 session."
var aiderTokens = regexp.MustCompile(`Tokens: ([0-9.]+[kM]?) sent(?:, [0-9.]+[kM]? cache [a-z]+)*, ([0-9.]+[kM]?) received\.(?: Cost: \$([0-9.]+) message, \$([0-9.]+) session\.)?`)

// parseAider sums the tokens of every message (aider rounds them to
// thousands above 10k) and keeps the last session cost.
func parseAider(out []byte) Figures {
	var f Figures
	for _, m := range aiderTokens.FindAllSubmatch(out, -1) {
		f.InputTokens += parseTokenCount(string(m[1]))
		f.OutputTokens += parseTokenCount(string(m[2]))
		if len(m[4]) > 0 {
			f.CostUSD = string(m[4])
		}
	}
	return f
}

func parseTokenCount(s string) int64 {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return int64(v*mult + 0.5)
}
