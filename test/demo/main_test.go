package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boshu2/gastown-operator/test/devenv"
)

// TestDemoRunsTheLoopToACleanExit runs what `make demo` runs: the real
// claude CLI against the Anthropic emulator, polecats as local processes.
func TestDemoRunsTheLoopToACleanExit(t *testing.T) {
	out := runDemo(t, devenv.Options{})
	checkLoop(t, out)
	for _, want := range []string{
		"polecat gt-db started on bead gt-db (claude-code agent)",
		"With --keep everything stays up",
		"kubectl gt polecat logs gt-db -n " + devenv.WorkersNamespace,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	checkUsage(t, out)
	if podTable.MatchString(out) {
		t.Errorf("local polecats, yet the demo lists pods:\n%s", out)
	}
}

// TestDemoWithPods runs `make demo DEMO_ARGS=--pods`: the same loop through
// pods on a real node, which needs root.
func TestDemoWithPods(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("the demo with --pods runs a kubelet, which needs root: run this test as root " +
			"(CI does; sudo -E go test ./test/demo/), or run only the local demo with -run TestDemoRunsTheLoopToACleanExit")
	}
	out := runDemo(t, devenv.Options{Pods: true})
	checkLoop(t, out)
	checkUsage(t, out)
	for _, bead := range []string{"gt-db", "gt-health", "gt-version"} {
		pod := "polecat-" + bead
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)  pod ` + pod + ` Running on node \S+$`),
			regexp.MustCompile(`(?m)  pod ` + pod + ` Succeeded in `),
			// The summary's row: name, node, phase, time, and each container's
			// exit code.
			regexp.MustCompile(`(?m)^` + pod + `\s+\S+\s+Succeeded\s+\S+\s+install-runner 0 \(.*\), git-init 0 \(.*\), git-push 0 \(.*\), claude 0 \(.*\)$`),
		} {
			if !want.MatchString(out) {
				t.Errorf("the demo's output lacks %s:\n%s", want, out)
			}
		}
	}
	if !podTable.MatchString(out) {
		t.Errorf("the summary lacks the table of pods:\n%s", out)
	}
	for _, want := range []string{
		"kubectl logs -n " + devenv.WorkersNamespace + " polecat-gt-db -c claude",
		"kubectl logs -n " + devenv.WorkersNamespace + " polecat-gt-db -c git-init",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
}

// runDemo runs the demo with opts (and a test's log) and, before it stops
// everything, each kubectl command it printed, which must succeed and
// print something. It returns the demo's output.
func runDemo(t *testing.T, opts devenv.Options) string {
	t.Helper()
	out := &syncBuffer{}
	opts.Beads, opts.Logf = map[string]string{}, t.Logf
	cfg := config{opts: opts, timeout: 4 * time.Minute, review: true,
		explore: func(ctx context.Context, env *devenv.Env) error { return runPrintedCommands(ctx, t, env, out.String()) }}
	if err := run(context.Background(), out, cfg); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	t.Logf("the demo's output:\n%s", out.String())
	return out.String()
}

// printedCommand is a kubectl command the summary suggests.
var printedCommand = regexp.MustCompile(`(?m)^  kubectl (.+)$`)

func runPrintedCommands(ctx context.Context, t *testing.T, env *devenv.Env, out string) error {
	cmds := printedCommand.FindAllStringSubmatch(out, -1)
	if len(cmds) == 0 {
		return fmt.Errorf("the demo printed no kubectl command to look with")
	}
	for _, m := range cmds {
		got, err := env.Kubectl(ctx, strings.Fields(m[1])...)
		if err != nil {
			return fmt.Errorf("a command the demo suggests fails: %w", err)
		}
		if strings.TrimSpace(got) == "" {
			return fmt.Errorf("kubectl %s, which the demo suggests, printed nothing", m[1])
		}
		t.Logf("$ kubectl %s\n%s", m[1], got)
	}
	return nil
}

// checkLoop checks the lines every run of the loop prints, and that the
// summary has every bead closed with a merged pull request.
func checkLoop(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{
		"$ a person commits .gastown/health.yaml",
		"$ flux reconcile source git demo",
		"✔ fetched revision main@sha1:",
		"bead gt-health waits for [gt-db]",
		"PR #1 opened for",
		"checks green, approved by a reviewer",
		"bead gt-db closed in git",
		"convoy health-sprint landed",
		"Done in",
		"Stopping everything the demo started.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	for _, bead := range []string{"gt-db", "gt-health", "gt-version"} {
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)  polecat ` + bead + `(-\d+)? started on bead ` + bead + ` \(\S+ agent\)$`),
			regexp.MustCompile(`(?m)  polecat ` + bead + `(-\d+)? pushed polecat/` + bead + ` \([0-9a-f]{10}\)$`),
		} {
			if !want.MatchString(out) {
				t.Errorf("the demo's output lacks %s:\n%s", want, out)
			}
		}
		row := regexp.MustCompile(`(?m)^` + bead + `\s+Closed\s+` + bead + `\s+#\d+\s+[0-9a-f]{10}$`)
		if !row.MatchString(out) {
			t.Errorf("the summary lacks %s closed with a merged pull request:\n%s", bead, out)
		}
	}
}

// podTable and usageTable are the headers of the summary's tables.
var (
	podTable   = regexp.MustCompile(`(?m)^POD\s+NODE\s+PHASE\s+TIME\s+CONTAINERS \(EXIT CODE, TIME\)$`)
	usageTable = regexp.MustCompile(`(?m)^POLECAT\s+AGENT\s+COST \(USD\)\s+INPUT TOKENS\s+OUTPUT TOKENS\s+TURNS$`)
)

// checkUsage checks that each polecat's row of the agent's figures has a
// cost and tokens.
func checkUsage(t *testing.T, out string) {
	t.Helper()
	if !usageTable.MatchString(out) {
		t.Errorf("the summary lacks the agents' figures:\n%s", out)
	}
	for _, pc := range []string{"gt-db", "gt-health", "gt-version"} {
		row := regexp.MustCompile(`(?m)^` + pc + `\s+claude-code\s+\d+\.\d+\s+[1-9]\d*\s+[1-9]\d*\s+[1-9]\d*$`)
		if !row.MatchString(out) {
			t.Errorf("the summary lacks the cost, tokens and turns of polecat %s:\n%s", pc, out)
		}
	}
}

func TestDemoRejectsWhatCannotWork(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "")
	for _, tc := range []struct {
		opts devenv.Options
		want string
	}{
		{devenv.Options{Agent: "gpt"}, "--agent=gpt: use claude-code, opencode or scripted"},
		{devenv.Options{Agent: devenv.AgentScripted, AnthropicURL: "https://api.anthropic.com"}, "the scripted agent calls no API"},
		{devenv.Options{Agent: devenv.AgentClaudeCode, AnthropicURL: "https://api.anthropic.com"}, "needs an API key in $ANTHROPIC_API_KEY"},
	} {
		err := run(context.Background(), &bytes.Buffer{}, config{opts: tc.opts})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error with %q", tc.opts, err, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer the environment's goroutines may write to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
