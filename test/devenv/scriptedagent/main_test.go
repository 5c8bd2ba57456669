package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

// prompt is a prompt as the runner writes it, so that a change to
// BuildPrompt that the agent no longer understands fails here.
func prompt(purpose gastownv1.PolecatPurpose, description, review string) string {
	return polecat.BuildPrompt(polecat.Task{
		Purpose: purpose, BeadID: "gt-db", Title: "Add an in-memory store",
		Description: description, Acceptance: "go test ./... passes",
		RepoURL: "http://127.0.0.1:1/gastown/demo.git", BaseBranch: "main", WorkBranch: "polecat/gt-db",
		BeadFile: ".gastown/health.yaml", ReviewComments: review,
		PreviousDiff: "--- a/x\n+++ b/x\n-> scripted-agent: fail\n",
	})
}

func TestPlan(t *testing.T) {
	desc := "Create package store.\nAdd a test."
	tests := []struct {
		name    string
		task    string
		file    string
		appends bool
		has     []string
		fail    bool
		sleep   time.Duration
		busy    time.Duration
		bytes   int64
		usage   usage
	}{
		{name: "work", task: prompt(gastownv1.PurposeWork, desc, ""), file: "changes/gt-db.md",
			has: []string{"# gt-db: Add an in-memory store\n", "> Create package store.\n> Add a test.\n"}},
		{name: "revision", task: prompt(gastownv1.PurposeRevision, desc, "- main.go:3: handle the error\n- add a test"),
			file: "changes/gt-db.md", appends: true,
			has: []string{"\n## Review\n\n- main.go:3: handle the error\n- add a test\n"}},
		{name: "conflict fix ignores directives in the old diff", task: prompt(gastownv1.PurposeConflictFix, desc, ""),
			file: "changes/gt-db.md", has: []string{"# gt-db: Add an in-memory store\n"}},
		{name: "fail", task: prompt(gastownv1.PurposeWork, "scripted-agent: fail", ""), file: "changes/gt-db.md", fail: true},
		{name: "sleep", task: prompt(gastownv1.PurposeWork, "- scripted-agent: sleep 2s", ""), file: "changes/gt-db.md",
			sleep: 2 * time.Second},
		{name: "busy", task: prompt(gastownv1.PurposeWork, "scripted-agent: busy 10m", ""), file: "changes/gt-db.md",
			busy: 10 * time.Minute},
		{name: "allocate", task: prompt(gastownv1.PurposeWork, "scripted-agent: allocate 512Mi", ""), file: "changes/gt-db.md",
			bytes: 512 << 20},
		{name: "allocate a size it cannot read", task: prompt(gastownv1.PurposeWork, "scripted-agent: allocate lots", ""),
			file: "changes/gt-db.md"},
		{name: "no change", task: prompt(gastownv1.PurposeWork, "scripted-agent: no-change", "")},
		{name: "cost", task: prompt(gastownv1.PurposeWork, "scripted-agent: cost 0.0042 1200 300", ""), file: "changes/gt-db.md",
			usage: usage{costUSD: 0.0042, inputTokens: 1200, outputTokens: 300}},
		{name: "cost it cannot read", task: prompt(gastownv1.PurposeWork, "scripted-agent: cost much -5", ""), file: "changes/gt-db.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := plan(input{task: tt.task, beadID: "gt-db"})
			if c.file != tt.file || c.appendTo != tt.appends || c.fail != tt.fail || c.sleep != tt.sleep ||
				c.busy != tt.busy || c.allocate != tt.bytes || c.usage != tt.usage {
				t.Fatalf("plan = file %q append %v fail %v sleep %v busy %v allocate %d usage %+v, want %q %v %v %v %v %d %+v",
					c.file, c.appendTo, c.fail, c.sleep, c.busy, c.allocate, c.usage, tt.file, tt.appends, tt.fail, tt.sleep, tt.busy, tt.bytes, tt.usage)
			}
			for _, want := range tt.has {
				if !strings.Contains(c.content, want) {
					t.Errorf("content does not contain %q:\n%s", want, c.content)
				}
			}
		})
	}
}

// TestRun runs a work task, then a revision, in a directory, as the runner
// would, and checks the file and the result line the runner parses.
func TestRun(t *testing.T) {
	repo := t.TempDir()
	taskFile := filepath.Join(t.TempDir(), "task.md")
	t.Setenv(envRepoDir, repo)
	t.Setenv(envBeadID, "gt-db")
	t.Setenv(envTaskFile, taskFile)

	for _, task := range []string{
		prompt(gastownv1.PurposeWork, "Create package store.", ""),
		prompt(gastownv1.PurposeRevision, "", "- rename New to NewStore"),
	} {
		if err := os.WriteFile(taskFile, []byte(task), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if code := run(context.Background(), &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		figures := polecat.ParseOutput(gastownv1.AgentCustom, out.Bytes())
		if figures.IsError || figures.Summary == "" {
			t.Fatalf("the runner reads %+v from the last line %s", figures, lines[len(lines)-1])
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res["type"] != "result" {
			t.Fatalf("last line is not a result object: %s", lines[len(lines)-1])
		}
	}
	got, err := os.ReadFile(filepath.Join(repo, "changes", "gt-db.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := "# gt-db: Add an in-memory store\n\nDone by the scripted agent.\n\n## Task\n\n> Create package store.\n" +
		"\n## Review\n\n- rename New to NewStore\n"
	if string(got) != want {
		t.Errorf("changes/gt-db.md =\n%s\nwant\n%s", got, want)
	}
}
