package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// brokenOutput is what validate prints for testdata/broken.
const brokenOutput = `testdata/broken/health.yaml:14: spec.dependsOn: unknown bead "gt-cache"
testdata/broken/sprint/again.yml:4: duplicate bead ID "gt-db" (also defined at testdata/broken/health.yaml:4)
testdata/broken/sprint/again.yml:7: spec.rigRef is set by the operator, not in bead files
testdata/broken/sprint/again.yml:14: spec.trackedBeads: unknown bead "gt-missing"
testdata/broken/sprint/loop.yaml:7: dependency cycle: gt-a -> gt-b -> gt-a
testdata/broken/syntax.yaml:7: invalid YAML: did not find expected ',' or ']'
testdata/broken/typos.yaml:5: unknown field "metadata.namespace": metadata allows only name, labels and annotations
testdata/broken/typos.yaml:8: unknown field "spec.prority"
testdata/broken/typos.yaml:9: spec.type: "story" is not one of bug, feature, task, chore, epic, merge-request, gate, molecule, message, agent, role, rig, event, decision, convoy
testdata/broken/typos.yaml:10: spec.priority: expected an integer, got "high"
validated 7 beads and 1 convoy in 6 files: 10 errors in 5 files
`

// hostileOutput is what validate prints for testdata/hostile without --rig.
const hostileOutput = `testdata/hostile/beads.yaml:16: spec.agent.image: a bead may not choose an image ("evil.example.com/agent:latest"); the default policy (no rig given) allows none (an admin lists images in the rig's spec.agentPolicy.images)
testdata/hostile/beads.yaml:17: spec.agent.command: a bead may not choose the agent's command; the default policy (no rig given) does not allow it (spec.agentPolicy.allowCommand)
testdata/hostile/beads.yaml:19: spec.agent.modelProvider.apiKeySecretRef: a bead may not name a secret; the rig's spec.kubernetes.apiKeySecretRef holds the agent's key
testdata/hostile/beads.yaml:22: spec.agent.env[0].valueFrom: env var "STOLEN": a bead may not take a value from a secret, ConfigMap, field or resource; set such variables in the rig's spec.agentConfig.env
validated 2 beads and 0 convoys in 1 file: 4 errors in 1 file
`

func runCommand(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{
			name:     "broken files",
			args:     []string{"validate", "testdata/broken"},
			wantCode: exitFailed,
			wantOut:  brokenOutput,
		},
		{
			name:     "a hostile bead: the default agent policy, at the line of each field",
			args:     []string{"validate", "testdata/hostile"},
			wantCode: exitFailed,
			wantOut:  hostileOutput,
		},
		{
			name:     "DIR written with a trailing slash and ./",
			args:     []string{"validate", "./testdata/broken/"},
			wantCode: exitFailed,
			wantOut:  brokenOutput,
		},
		{
			name:     "beads-jsonl: warnings alone exit 0",
			args:     []string{"validate", "testdata/jsonl", "--format", "beads-jsonl", "--prefix", "gt-"},
			wantCode: exitOK,
			wantOut: `testdata/jsonl/issues.jsonl:7: warning: bead "gt-e5" has a blocking dependency on "gt-gone", which is not in the file; it blocks nothing
validated 8 beads and 0 convoys in 1 file: no errors, 1 warning
`,
		},
		{
			name:     "beads-jsonl: a broken line is an error of its own",
			args:     []string{"validate", "testdata/jsonl-broken", "--format", "beads-jsonl"},
			wantCode: exitFailed,
			wantOut: `testdata/jsonl-broken/issues.jsonl:2: invalid JSON at column 31: unexpected end of JSON input
validated 2 beads and 0 convoys in 1 file: 1 error in 1 file
`,
		},
		{
			name:     "prefix checked",
			args:     []string{"validate", "testdata/broken/sprint", "--prefix", "web-"},
			wantCode: exitFailed,
			wantOut: `testdata/broken/sprint/again.yml:4: bead ID "gt-db" does not start with the prefix "web-"
testdata/broken/sprint/again.yml:7: spec.rigRef is set by the operator, not in bead files
testdata/broken/sprint/again.yml:14: spec.trackedBeads: unknown bead "gt-missing"
testdata/broken/sprint/loop.yaml:4: bead ID "gt-a" does not start with the prefix "web-"
testdata/broken/sprint/loop.yaml:7: dependency cycle: gt-a -> gt-b -> gt-a
testdata/broken/sprint/loop.yaml:12: bead ID "gt-b" does not start with the prefix "web-"
validated 3 beads and 1 convoy in 2 files: 6 errors in 2 files
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCommand(tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateExamples(t *testing.T) {
	code, out, errOut := runCommand("validate", "../../examples", "--prefix", "gt-")
	if code != exitOK || errOut != "" {
		t.Errorf("exit code %d, stderr %q, want 0 and nothing", code, errOut)
	}
	// One summary line, without errors.
	if !strings.HasPrefix(out, "validated ") || !strings.HasSuffix(out, ": no errors\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("output = %q, want one summary line with no errors", out)
	}
}

func TestValidateAbsoluteDir(t *testing.T) {
	dir, err := filepath.Abs("testdata/broken")
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCommand("validate", dir)
	first, _, _ := strings.Cut(out, "\n")
	want := filepath.Join(dir, "health.yaml") + `:14: spec.dependsOn: unknown bead "gt-cache"`
	if code != exitFailed || first != want {
		t.Errorf("exit code %d, first line %q; want %d and %q", code, first, exitFailed, want)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no DIR", []string{"validate"}, "Error: accepts 1 arg(s), received 0\nRun 'kubectl gt validate --help' for usage.\n"},
		{"two DIRs", []string{"validate", "a", "b"}, "Error: accepts 1 arg(s), received 2\nRun 'kubectl gt validate --help' for usage.\n"},
		{"unknown format", []string{"validate", "testdata/broken", "--format", "toml"}, "Error: --format \"toml\": use manifests or beads-jsonl\nRun 'kubectl gt validate --help' for usage.\n"},
		{"bad prefix", []string{"validate", "testdata/broken", "--prefix", "GT"}, "Error: --prefix \"GT\": use lower case letters and a final '-', such as gt-\nRun 'kubectl gt validate --help' for usage.\n"},
		{"unknown flag", []string{"validate", "testdata/broken", "--strict"}, "Error: unknown flag: --strict\nRun 'kubectl gt validate --help' for usage.\n"},
		{"missing DIR", []string{"validate", "testdata/nope"}, "Error: testdata/nope: no such directory\nRun 'kubectl gt validate --help' for usage.\n"},
		{"DIR is a file", []string{"validate", "main.go"}, "Error: main.go: not a directory\nRun 'kubectl gt validate --help' for usage.\n"},
		{"no issues.jsonl", []string{"validate", "testdata/broken", "--format", "beads-jsonl"}, "Error: testdata/broken/issues.jsonl: no such file: a beads-jsonl folder holds issues.jsonl\nRun 'kubectl gt validate --help' for usage.\n"},
		{"unknown command", []string{"valdate", "x"}, "Error: unknown command \"valdate\" for \"kubectl gt\"\nRun 'kubectl gt --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCommand(tt.args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if diff := cmp.Diff(tt.wantErr, errOut); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRootPrintsHelp(t *testing.T) {
	code, out, _ := runCommand()
	if code != exitOK || !strings.Contains(out, "kubectl gt [command]") || !strings.Contains(out, "validate") {
		t.Errorf("exit code %d, output:\n%s", code, out)
	}
}

// TestBinary builds kubectl-gt and runs it as kubectl would, checking the
// exit codes the process ends with.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kubectl-gt")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		args     []string
		wantCode int
	}{
		{[]string{"validate", "../../examples"}, exitOK},
		{[]string{"validate", "testdata/broken"}, exitFailed},
		{[]string{"validate"}, exitUsage},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tt.wantCode {
			t.Errorf("kubectl-gt %s: exit code %d, want %d", strings.Join(tt.args, " "), code, tt.wantCode)
		}
		if tt.wantCode == exitFailed && stdout.String() != brokenOutput {
			t.Errorf("kubectl-gt %s printed:\n%s", strings.Join(tt.args, " "), stdout.String())
		}
	}
}
