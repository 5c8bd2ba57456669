package anthropicemu_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/anthropicemu"
)

// Where the real CLIs come from: the variables hack/agent-clis.sh env
// prints, else the script itself, which installs the pinned versions once.
const (
	claudeEnv   = "GASTOWN_CLAUDE"
	opencodeEnv = "GASTOWN_OPENCODE"
)

// cliTimeout bounds one run of a CLI, generous for a loaded two-core
// machine: claude takes a second or two here, opencode up to half a
// minute.
const cliTimeout = 3 * time.Minute

// installTimeout bounds hack/agent-clis.sh, which downloads the CLIs from
// the npm registry the first time.
const installTimeout = 15 * time.Minute

var (
	binMu sync.Mutex
	bins  = map[string]string{}
)

// agentBinary finds a real CLI ("claude" or "opencode"). It never skips:
// a test of the emulator against the CLIs is only worth something when it
// runs.
func agentBinary(t *testing.T, name, env string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := bins[name]; ok {
		return p
	}
	howTo := "install the pinned agent CLIs with `hack/agent-clis.sh` (it needs npm and the npm registry), " +
		"or set " + env + " to the " + name + " binary (`eval $(hack/agent-clis.sh env)` sets both)"
	root, err := testenv.ProjectRoot()
	if err != nil {
		t.Fatalf("finding the project root: %v; %s", err, howTo)
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "agent-clis.sh"), name)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	path := strings.TrimSpace(string(out))
	if err != nil || path == "" {
		t.Fatalf("no %s binary: hack/agent-clis.sh %s: %v\n%s\n%s", name, name, err, stderr.String(), howTo)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("hack/agent-clis.sh %s printed %q: %v; %s", name, path, err, howTo)
	}
	bins[name] = path
	return path
}

// testKey is the API key the CLIs send.
const testKey = "sk-ant-api03-emulator-test-key"

// run is one finished run of a CLI.
type run struct {
	stdout, stderr []byte
	exitCode       int
}

// runCLI runs a CLI to its end. A context that ends first fails the test:
// the CLIs are expected to finish on their own against the emulator.
func runCLI(t *testing.T, cmd *exec.Cmd) run {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := run{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Exited():
		r.exitCode = exit.ExitCode()
	default:
		t.Fatalf("%s: %v after %s\nstdout:\n%s\nstderr:\n%s", cmd.Path, err, time.Since(start), r.stdout, r.stderr)
	}
	t.Logf("%s ran for %s, exit code %d", filepath.Base(cmd.Path), time.Since(start).Round(time.Millisecond), r.exitCode)
	return r
}

// baseEnv is the environment every CLI run starts from: nothing of the
// test process's own (no stray keys or proxies), a PATH for the tools the
// agents run, and a home of its own.
func baseEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + os.TempDir(),
		"LANG=C.UTF-8",
	}
}

// startEmulator starts an emulator for one test.
func startEmulator(t *testing.T, opts anthropicemu.Options) *anthropicemu.Server {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	emu, err := anthropicemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu
}

// jsonLines decodes output of one JSON object per line, skipping lines
// that are not JSON objects.
func jsonLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var events []map[string]any
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for s.Scan() {
		line := bytes.TrimSpace(s.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("a line of the output is not JSON: %v\n%s", err, line)
		}
		events = append(events, ev)
	}
	return events
}

// mainRequests are the emulator's answered turns of the coding
// conversation.
func mainRequests(emu *anthropicemu.Server) []anthropicemu.Request {
	var out []anthropicemu.Request
	for _, r := range emu.Requests() {
		if r.Kind == anthropicemu.KindMain {
			out = append(out, r)
		}
	}
	return out
}

func statuses(reqs []anthropicemu.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the agent did not write %s: %v", path, err)
	}
	return string(b)
}
