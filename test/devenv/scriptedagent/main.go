// Command gastown-scripted-agent is a deterministic stand-in for a coding
// agent, for the development environment (test/devenv) and the tests built
// on it. The runner starts it as a custom agent in the clone of the
// repository, as it would start claude-code.
//
// It reads the task as the runner gives it to every agent (GASTOWN_TASK_FILE,
// else GASTOWN_TASK; GASTOWN_BEAD_ID; GASTOWN_REPO_DIR, else the working
// directory) and makes a visible change named after the bead:
//
//   - a work or conflict-fix task writes changes/<bead>.md with the task's
//     title and description;
//   - a revision task appends the review comments to changes/<bead>.md under
//     a "Review" heading, so each round of review shows up in the diff.
//
// It prints a summary, then a claude-code style result object as its last
// line, which the runner reads for the polecat's result summary.
//
// A task can script the agent with lines of the form "scripted-agent: X",
// for example in a bead's description:
//
//	scripted-agent: fail          exit 1 and report an error
//	scripted-agent: no-change     change nothing
//	scripted-agent: sleep 30s     wait before working, printing nothing
//	                              (stuck-detection tests)
//	scripted-agent: busy 30s      work that long, printing a line a second
//	                              (deadline tests: busy, not stuck)
//	scripted-agent: allocate 512Mi  touch that much memory before working
//	                              (memory-limit tests)
//	scripted-agent: hunt-secrets  read every variable and readable file a
//	                              credential could be in, print the values
//	                              found, and commit changes/<bead>-hunt.txt
//	                              listing where each was, by fingerprint
//	                              (security tests)
//	scripted-agent: leak-secrets  write the environment's values into the
//	                              change (the runner must refuse to commit)
//	scripted-agent: cost 0.01 1200 300  report that cost in USD, input and
//	                              output tokens (metrics tests); a run
//	                              reports none otherwise
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The environment the runner gives every agent (internal/polecat's Env*).
const (
	envTask     = "GASTOWN_TASK"
	envTaskFile = "GASTOWN_TASK_FILE"
	envBeadID   = "GASTOWN_BEAD_ID"
	envRepoDir  = "GASTOWN_REPO_DIR"
)

// Headings of the prompt internal/polecat.BuildPrompt writes, by which the
// agent tells the purpose of its run and where the task's parts end.
const (
	revisionHeading    = "## Review comments to address"
	conflictFixHeading = "## Redo the change on the current"
	directivePrefix    = "scripted-agent:"
)

// ChangesDir is where the agent writes its bead files.
const ChangesDir = "changes"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, stdout, stderr io.Writer) int {
	in, err := readInput()
	if err != nil {
		fmt.Fprintf(stderr, "scripted agent: %v\n", err)
		report(stdout, err.Error(), true, usage{})
		return 1
	}
	p := plan(in)
	if p.allocate > 0 {
		fmt.Fprintf(stdout, "scripted agent: allocating %d bytes as the task asks\n", p.allocate)
		hold := make([]byte, p.allocate)
		for i := 0; i < len(hold); i += 4096 {
			hold[i] = 1 // touch every page, so the memory is really used
		}
		defer func() { _ = hold[len(hold)-1] }()
	}
	if p.busy > 0 {
		if err := busy(ctx, stdout, p.busy); err != nil {
			report(stdout, "stopped while busy", true, usage{})
			return 1
		}
	}
	if p.sleep > 0 {
		fmt.Fprintf(stdout, "scripted agent: sleeping %s as the task asks\n", p.sleep)
		select {
		case <-time.After(p.sleep):
		case <-ctx.Done():
			report(stdout, "stopped while sleeping", true, usage{})
			return 1
		}
	}
	if p.fail {
		fmt.Fprintf(stdout, "scripted agent: failing on bead %s as the task asks\n", in.beadID)
		report(stdout, "failed as the task asked", true, usage{})
		return 1
	}
	if p.hunt || p.leakIntoRepo {
		found := hunt()
		leak(stdout, found)
		extra := change{file: filepath.ToSlash(filepath.Join(ChangesDir, in.beadID+"-hunt.txt")), content: huntReport(found)}
		if p.leakIntoRepo {
			var b strings.Builder
			for _, f := range found {
				if strings.HasPrefix(f.where, "env ") {
					fmt.Fprintf(&b, "%s=%s\n", f.where, f.value)
				}
			}
			extra.content = b.String()
		}
		if err := extra.apply(in.repoDir); err != nil {
			fmt.Fprintf(stderr, "scripted agent: %v\n", err)
			report(stdout, err.Error(), true, usage{})
			return 1
		}
	}
	if err := p.apply(in.repoDir); err != nil {
		fmt.Fprintf(stderr, "scripted agent: %v\n", err)
		report(stdout, err.Error(), true, usage{})
		return 1
	}
	fmt.Fprintln(stdout, "scripted agent: "+p.summary)
	report(stdout, p.summary, false, p.usage)
	return 0
}

// input is what the runner gave the agent.
type input struct {
	task    string
	beadID  string
	repoDir string
}

func readInput() (input, error) {
	in := input{task: os.Getenv(envTask), beadID: os.Getenv(envBeadID), repoDir: os.Getenv(envRepoDir)}
	// The file always holds the whole prompt; GASTOWN_TASK may only point
	// at it when the prompt is long.
	if file := os.Getenv(envTaskFile); file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return in, fmt.Errorf("read the task: %w", err)
		}
		in.task = string(b)
	}
	if strings.TrimSpace(in.task) == "" {
		return in, fmt.Errorf("no task: neither %s nor %s is set", envTaskFile, envTask)
	}
	if in.repoDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return in, err
		}
		in.repoDir = wd
	}
	if in.beadID == "" {
		in.beadID = "task"
	}
	return in, nil
}

// change is what the agent does to the repository.
type change struct {
	// file is relative to the repository; empty for no change.
	file string
	// content replaces the file, or is appended to it when appendTo.
	content  string
	appendTo bool
	summary  string

	fail  bool
	sleep time.Duration
	busy  time.Duration
	// allocate is how many bytes of memory to use.
	allocate int64
	// hunt and leakIntoRepo: see hunt-secrets and leak-secrets.
	hunt, leakIntoRepo bool
	// usage is what the cost directive says to report.
	usage usage
}

// plan decides the change for a task. It is pure, so that tests can check
// it against the prompts internal/polecat writes.
func plan(in input) change {
	var c change
	noChange := false
	for _, d := range directives(in.task) {
		verb, arg, _ := strings.Cut(d, " ")
		switch verb {
		case "fail":
			c.fail = true
		case "no-change":
			noChange = true
		case "sleep":
			if dur, err := time.ParseDuration(strings.TrimSpace(arg)); err == nil {
				c.sleep = dur
			}
		case "busy":
			if dur, err := time.ParseDuration(strings.TrimSpace(arg)); err == nil {
				c.busy = dur
			}
		case "allocate":
			c.allocate = parseBytes(strings.TrimSpace(arg))
		case "hunt-secrets":
			c.hunt = true
		case "leak-secrets":
			c.leakIntoRepo = true
		case "cost":
			c.usage = parseUsage(arg)
		}
	}
	if noChange {
		c.summary = fmt.Sprintf("changed nothing for bead %s, as the task asks", in.beadID)
		return c
	}

	c.file = filepath.ToSlash(filepath.Join(ChangesDir, in.beadID+".md"))
	title := heading(in.task)
	switch {
	case strings.Contains(in.task, revisionHeading):
		comments := reviewComments(in.task)
		c.appendTo = true
		c.content = "\n## Review\n\n" + comments + "\n"
		c.summary = fmt.Sprintf("answered %d review comment(s) on bead %s in %s",
			countItems(comments), in.beadID, c.file)
	case strings.Contains(in.task, conflictFixHeading):
		c.content = beadFile(in.beadID, title, description(in.task))
		c.summary = fmt.Sprintf("redid bead %s on the current base branch in %s", in.beadID, c.file)
	default:
		c.content = beadFile(in.beadID, title, description(in.task))
		c.summary = fmt.Sprintf("did bead %s (%s) in %s", in.beadID, title, c.file)
	}
	return c
}

func (c change) apply(repoDir string) error {
	if c.file == "" {
		return nil
	}
	path := filepath.Join(repoDir, filepath.FromSlash(c.file))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if c.appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(c.content)
	return errors.Join(err, f.Close())
}

func beadFile(id, title, desc string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s\n\nDone by the scripted agent.\n", id, title)
	if desc != "" {
		b.WriteString("\n## Task\n\n")
		for _, line := range strings.Split(desc, "\n") {
			b.WriteString(strings.TrimRight("> "+line, " ") + "\n")
		}
	}
	return b.String()
}

// heading is the prompt's title, without the "(bead X)" BuildPrompt adds.
func heading(task string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(task), "\n")
	title := strings.TrimSpace(strings.TrimPrefix(first, "# "))
	if i := strings.LastIndex(title, " (bead "); i > 0 && strings.HasSuffix(title, ")") {
		title = title[:i]
	}
	return title
}

// description is the text between the prompt's title and its first
// second-level heading.
func description(task string) string {
	_, rest, _ := strings.Cut(strings.TrimSpace(task), "\n")
	return strings.TrimSpace(section(rest))
}

// reviewComments is the body of the review section without the paragraph
// BuildPrompt puts before the comments.
func reviewComments(task string) string {
	_, body, _ := strings.Cut(task, revisionHeading)
	body = strings.TrimSpace(section(body))
	if _, comments, ok := strings.Cut(body, "\n\n"); ok {
		body = comments
	}
	return strings.TrimSpace(body)
}

// countItems counts the Markdown list items of the comments, one comment
// per item as the Refinery writes them; text without a list is one comment.
func countItems(comments string) int {
	n := 0
	for _, line := range strings.Split(comments, "\n") {
		if strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "* ") {
			n++
		}
	}
	return max(n, 1)
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

// directives are the task's "scripted-agent: X" lines, outside the earlier
// diff a conflict-fix prompt quotes.
func directives(task string) []string {
	task, _, _ = strings.Cut(task, "```diff")
	var out []string
	s := bufio.NewScanner(strings.NewReader(task))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		line = strings.TrimLeft(line, "-*> ")
		if d, ok := strings.CutPrefix(line, directivePrefix); ok {
			out = append(out, strings.TrimSpace(d))
		}
	}
	return out
}

// busy prints a line a second for d, or until ctx ends.
func busy(ctx context.Context, w io.Writer, d time.Duration) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.After(d)
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end:
			return nil
		case <-tick.C:
			fmt.Fprintf(w, "scripted agent: still working (%ds)\n", n)
		}
	}
}

// parseBytes reads a size such as 512Mi, 1Gi or 4096; 0 when it cannot.
func parseBytes(s string) int64 {
	units := map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
	mult := int64(1)
	for suffix, m := range units {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = n, m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n * mult
}

// usage is the cost and tokens a run reports: none unless the task's cost
// directive gives them.
type usage struct {
	costUSD                   float64
	inputTokens, outputTokens int64
}

// parseUsage reads "USD INPUT OUTPUT" of the cost directive; what does not
// parse is zero.
func parseUsage(arg string) usage {
	var u usage
	f := strings.Fields(arg)
	if len(f) > 0 {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil && v >= 0 {
			u.costUSD = v
		}
	}
	if len(f) > 1 {
		u.inputTokens, _ = strconv.ParseInt(f[1], 10, 64)
	}
	if len(f) > 2 {
		u.outputTokens, _ = strconv.ParseInt(f[2], 10, 64)
	}
	u.inputTokens, u.outputTokens = max(u.inputTokens, 0), max(u.outputTokens, 0)
	return u
}

// report prints the result object claude-code ends with, the form the
// runner reads a custom agent's summary, cost and tokens from.
func report(w io.Writer, summary string, isError bool, u usage) {
	subtype := "success"
	if isError {
		subtype = "error_during_execution"
	}
	b, _ := json.Marshal(map[string]any{
		"type": "result", "subtype": subtype, "is_error": isError,
		"num_turns": 1, "result": summary, "total_cost_usd": u.costUSD,
		"usage": map[string]int64{"input_tokens": u.inputTokens, "output_tokens": u.outputTokens},
	})
	fmt.Fprintln(w, string(b))
}
