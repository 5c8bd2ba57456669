package polecat

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Figures are what an agent reported about its run. Zero values mean "not
// reported".
//
// Tokens count the same way for every agent that reports a prompt cache:
// InputTokens is all the input the model read, the uncached input plus the
// cache's reads and writes (which the API reports apart, and which are
// most of a long conversation's input); OutputTokens is all it wrote,
// thinking included.
type Figures struct {
	// CostUSD as the agent reported it, e.g. "0.4213".
	CostUSD      string
	InputTokens  int64
	OutputTokens int64
	Turns        int32
	// Summary is the agent's final message (its error's, when it failed).
	Summary string
	// IsError is set when the agent reported that it failed, whatever its
	// exit code; ErrorKind says how, e.g. "error_max_turns" or "api_error
	// 401" for claude-code, "APIError 400" for opencode.
	IsError   bool
	ErrorKind string
}

// ParseOutput extracts the figures from an agent's standard output.
// claude-code and custom agents report them as claude-code's result object
// (see lastClaudeResult); a custom agent may print one as its last line.
// opencode reports them as `run --format json` events. aider prints
// "Tokens: ... Cost: ..." lines. Output without figures gives zero Figures:
// that is not an error, except for opencode, which always reports its steps.
func ParseOutput(agent gastownv1.AgentType, out []byte) Figures {
	switch agent {
	case gastownv1.AgentAider:
		return parseAider(out)
	case gastownv1.AgentOpenCode:
		return parseOpenCode(out)
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
	// TerminalReason and APIErrorStatus say why a run ended: claude
	// reports an API error it gave up on (a 401, a 400, a 500 or 529 after
	// its retries) as subtype "success" with is_error set,
	// terminal_reason "api_error" and the HTTP status.
	TerminalReason string `json:"terminal_reason"`
	APIErrorStatus *int   `json:"api_error_status"`
	Usage          struct {
		InputTokens              int64 `json:"input_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
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
	u := r.Usage
	f := Figures{
		CostUSD: roundUSD(r.TotalCostUSD),
		// usage.input_tokens is the uncached input only: with prompt
		// caching, most of the input is in the cache's counts.
		InputTokens:  sumTokens(u.InputTokens, u.CacheCreationInputTokens, u.CacheReadInputTokens),
		OutputTokens: max(u.OutputTokens, 0),
		Turns:        max(r.NumTurns, 0),
		Summary:      strings.TrimSpace(r.Result),
		IsError:      r.IsError,
	}
	if r.IsError {
		f.ErrorKind = r.errorKind()
	}
	return f, true
}

// sumTokens adds token counts, ignoring negative ones and stopping at the
// largest int64: the counts come from another program's output.
func sumTokens(counts ...int64) int64 {
	var sum int64
	for _, n := range counts {
		if n <= 0 {
			continue
		}
		if n > math.MaxInt64-sum {
			return math.MaxInt64
		}
		sum += n
	}
	return sum
}

// errorKind says how a failed run ended: the subtype when it names an
// error (error_max_turns, error_during_execution), else the terminal
// reason, with the API's status when an API error ended it.
func (r claudeResult) errorKind() string {
	kind := r.Subtype
	if kind == "" || kind == "success" {
		kind = r.TerminalReason
	}
	if kind == "" {
		kind = "error"
	}
	if r.APIErrorStatus != nil {
		kind += " " + strconv.Itoa(*r.APIErrorStatus)
	}
	return kind
}

// roundUSD writes a cost without floating-point noise.
func roundUSD(n json.Number) string {
	v, err := n.Float64()
	if err != nil {
		return n.String()
	}
	return formatUSD(v)
}

// formatUSD writes a cost without floating-point noise: the agents sum
// their per-turn costs in floating point and print the sum as it comes out
// (0.10200000000000001). Twelve significant digits keep every digit a
// price list has.
func formatUSD(v float64) string {
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// claudeResultType matches the member that marks claude's result object,
// compact as claude prints it or spaced as other JSON writers do.
var claudeResultType = regexp.MustCompile(`"type"\s*:\s*"result"`)

// lastClaudeResult finds the last result object in the output, in any of
// claude's forms: the last line of --output-format stream-json, the one
// document of --output-format json (perhaps indented), or the last element
// of the array that --output-format json --verbose prints on one line.
// That array holds the whole conversation, so it may be longer than the
// tail of the output the runner keeps and have its head cut off: the
// result is found from its end, never by parsing the whole output.
//
// The result is the object around the last "type": "result" member; a
// string that holds such text escapes its quotes, so the member is JSON.
// A result cut off at the end (a killed agent) is none.
func lastClaudeResult(out []byte) (claudeResult, bool) {
	matches := claudeResultType.FindAllIndex(out, -1)
	if len(matches) == 0 {
		return claudeResult{}, false
	}
	member := matches[len(matches)-1][0]
	if escaped(out, member) {
		return claudeResult{}, false
	}
	start := objectStart(out, member)
	if start < 0 {
		return claudeResult{}, false
	}
	var r claudeResult
	if err := json.NewDecoder(bytes.NewReader(out[start:])).Decode(&r); err != nil || r.Type != "result" {
		return claudeResult{}, false
	}
	return r, true
}

// objectStart is the index of the '{' that opens the innermost object
// around out[end], which is outside any string; -1 when there is none. It
// walks back once, skipping strings and the objects that close before
// end, so it takes time linear in the distance whatever the nesting.
func objectStart(out []byte, end int) int {
	depth, inString := 0, false
	for i := end - 1; i >= 0; i-- {
		c := out[i]
		switch {
		case c == '"' && !escaped(out, i):
			inString = !inString
		case inString:
		case c == '}':
			depth++
		case c == '{':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// escaped reports whether the byte at out[i] is escaped in a JSON string:
// preceded by an odd number of backslashes.
func escaped(out []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && out[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// opencodeEvent is the part of a line of `opencode run --format json` we
// read. step_finish ends each model call with its usage and cost; text is
// a finished text part; error is a session error that ends the run (and
// makes opencode exit 1).
type opencodeEvent struct {
	Type string `json:"type"`
	Part struct {
		Text string `json:"text"`
		// Cost is opencode's price of the step, from the model's prices in
		// its catalogue or configuration: 0 without them.
		Cost   float64 `json:"cost"`
		Tokens struct {
			// Input is the uncached input: opencode subtracts the cache's
			// reads and writes from the API's total. Output leaves out
			// Reasoning, which it counts apart.
			Input     int64 `json:"input"`
			Output    int64 `json:"output"`
			Reasoning int64 `json:"reasoning"`
			Cache     struct {
				Read  int64 `json:"read"`
				Write int64 `json:"write"`
			} `json:"cache"`
		} `json:"tokens"`
	} `json:"part"`
	Error *struct {
		Name string `json:"name"`
		Data struct {
			Message    string `json:"message"`
			StatusCode int    `json:"statusCode"`
		} `json:"data"`
	} `json:"error"`
}

// parseOpenCode sums the steps of `opencode run --format json`: a turn for
// each step_finish, the summary from the last text. An error event, or no
// step at all (opencode printed no event: its error went to stderr), is
// an error.
func parseOpenCode(out []byte) Figures {
	var (
		f    Figures
		cost float64
	)
	for line := range bytes.Lines(out) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var ev opencodeEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			continue
		}
		switch ev.Type {
		case "step_finish":
			t := ev.Part.Tokens
			f.Turns++
			f.InputTokens = sumTokens(f.InputTokens, t.Input, t.Cache.Read, t.Cache.Write)
			f.OutputTokens = sumTokens(f.OutputTokens, t.Output, t.Reasoning)
			cost += max(ev.Part.Cost, 0)
		case "text":
			if text := strings.TrimSpace(ev.Part.Text); text != "" {
				f.Summary = text
			}
		case "error":
			// The error is the run's last word, as claude's result text
			// is when it fails.
			f.IsError, f.ErrorKind = true, "error"
			if e := ev.Error; e != nil {
				f.ErrorKind = openCodeErrorKind(e.Name, e.Data.StatusCode)
				if msg := strings.TrimSpace(e.Data.Message); msg != "" {
					f.Summary = msg
				}
			}
		}
	}
	if cost > 0 && !math.IsInf(cost, 0) {
		f.CostUSD = formatUSD(cost)
	}
	if f.Turns == 0 && !f.IsError {
		f.IsError, f.ErrorKind = true, "no_steps"
	}
	return f
}

// openCodeErrorKind is the error's name (APIError, ProviderAuthError,
// UnknownError, ...) with the API's status, when there is one.
func openCodeErrorKind(name string, status int) string {
	if name == "" {
		name = "error"
	}
	if status != 0 {
		name += " " + strconv.Itoa(status)
	}
	return name
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
