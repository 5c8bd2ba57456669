package polecat

import (
	"strings"
	"testing"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestBuildPrompt(t *testing.T) {
	base := Task{
		Purpose:     gastownv1.PurposeWork,
		BeadID:      "gt-health",
		Title:       "Add a /health endpoint",
		Description: "Return 200 and {\"status\":\"ok\"}. Add a test.",
		Acceptance:  "go test ./... passes",
		RepoURL:     "https://alice:pw-123@github.com/org/demo.git",
		BaseBranch:  "main",
		WorkBranch:  "polecat/gt-health",
		BeadFile:    ".gastown/health.yaml",
	}
	rules := []string{
		"Work only inside the repository in the current directory.",
		"Do not commit, push, or create or switch branches",
		"pushed to branch polecat/gt-health for you",
		"Never force-push or rewrite history.",
		"Do not change the status of the bead in .gastown/health.yaml",
	}

	tests := []struct {
		name    string
		edit    func(*Task)
		want    []string
		notWant []string
	}{
		{
			name: "work from a bead",
			want: append([]string{
				"# Add a /health endpoint (bead gt-health)",
				"Return 200 and {\"status\":\"ok\"}. Add a test.",
				"## Acceptance criteria\n\ngo test ./... passes",
				"a clone of https://github.com/org/demo.git on branch polecat/gt-health (from main)",
			}, rules...),
			notWant: []string{"pw-123", "Review comments", "Redo the change"},
		},
		{
			name:    "bare task",
			edit:    func(t *Task) { t.BeadID, t.Title, t.Acceptance, t.BeadFile = "", "", "", "" },
			want:    []string{"# Task\n", "Return 200"},
			notWant: []string{"Acceptance criteria", "Do not change the status of the bead"},
		},
		{
			name: "revision",
			edit: func(t *Task) {
				t.Purpose = gastownv1.PurposeRevision
				t.ReviewComments = "- main.go:12: handle the error\n- add a test for 500"
			},
			want: append([]string{
				"## Review comments to address",
				"Branch polecat/gt-health already holds your earlier work",
				"- main.go:12: handle the error\n- add a test for 500",
				"# Add a /health endpoint (bead gt-health)",
			}, rules...),
		},
		{
			name: "conflict fix",
			edit: func(t *Task) {
				t.Purpose = gastownv1.PurposeConflictFix
				t.PreviousDiff = "diff --git a/main.go b/main.go\n+func health() {}\n"
			},
			want: append([]string{
				"## Redo the change on the current main",
				"that change no longer merges into main",
				"```diff\ndiff --git a/main.go b/main.go\n+func health() {}\n```",
				"Return 200",
			}, rules...),
			notWant: []string{"cut at"},
		},
		{
			name: "conflict fix without the old diff",
			edit: func(t *Task) { t.Purpose = gastownv1.PurposeConflictFix },
			want: []string{"The earlier change is not available"},
		},
		{
			name: "conflict fix with a huge diff",
			edit: func(t *Task) {
				t.Purpose = gastownv1.PurposeConflictFix
				t.PreviousDiff = strings.Repeat("+x\n", MaxDiffBytes)
			},
			want: []string{"(The diff is cut at 48 KiB.)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := base
			if tt.edit != nil {
				tt.edit(&task)
			}
			prompt := BuildPrompt(task)
			for _, want := range tt.want {
				if !strings.Contains(prompt, want) {
					t.Errorf("prompt does not contain %q:\n%s", want, prompt)
				}
			}
			for _, notWant := range tt.notWant {
				if strings.Contains(prompt, notWant) {
					t.Errorf("prompt contains %q:\n%s", notWant, prompt)
				}
			}
			if len(prompt) > MaxDiffBytes+8<<10 {
				t.Errorf("prompt is %d bytes", len(prompt))
			}
		})
	}
}

func TestCommitMessage(t *testing.T) {
	tests := []struct {
		name    string
		task    Task
		polecat string
		want    string
	}{
		{
			name:    "bead",
			task:    Task{Purpose: gastownv1.PurposeWork, BeadID: "gt-1", Title: "Add a /health endpoint"},
			polecat: "gt-1",
			want:    "gt-1: Add a /health endpoint\n\nGastown-Bead: gt-1\nGastown-Polecat: gt-1\n",
		},
		{
			name:    "revision",
			task:    Task{Purpose: gastownv1.PurposeRevision, BeadID: "gt-1", Title: "Add a /health endpoint"},
			polecat: "gt-1-r1",
			want:    "gt-1: address review comments\n\nGastown-Bead: gt-1\nGastown-Polecat: gt-1-r1\n",
		},
		{
			name:    "bare task takes the first line",
			task:    Task{Purpose: gastownv1.PurposeWork, Description: "\nImplement the /health endpoint.\nCommit and push when done.\n"},
			polecat: "my-worker",
			want:    "my-worker: Implement the /health endpoint.\n\nGastown-Polecat: my-worker\n",
		},
		{
			name:    "long title",
			task:    Task{Purpose: gastownv1.PurposeWork, BeadID: "gt-1", Title: strings.Repeat("word ", 30)},
			polecat: "gt-1",
			want:    "gt-1: " + strings.Repeat("word ", 12) + "wor...\n\nGastown-Bead: gt-1\nGastown-Polecat: gt-1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CommitMessage(tt.task, tt.polecat); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestIsBeadCommit(t *testing.T) {
	mine := CommitMessage(Task{Purpose: gastownv1.PurposeWork, BeadID: "gt-1", Title: "Add a /health endpoint"}, "gt-1-2")
	tests := []struct {
		message, bead string
		want          bool
	}{
		{mine, "gt-1", true},
		{CommitMessage(Task{Purpose: gastownv1.PurposeRevision, BeadID: "gt-1"}, "gt-1-rev-1"), "gt-1", true},
		{strings.ReplaceAll(mine, "\n", "\r\n"), "gt-1", true},
		{mine, "gt-10", false},
		{CommitMessage(Task{Purpose: gastownv1.PurposeWork, BeadID: "gt-10"}, "gt-10"), "gt-1", false},
		{"fix it\n\nSee Gastown-Bead: gt-1\n", "gt-1", false},
		{CommitMessage(Task{Purpose: gastownv1.PurposeWork, Description: "bare"}, "my-worker"), "", false},
	}
	for _, tt := range tests {
		if got := IsBeadCommit(tt.message, tt.bead); got != tt.want {
			t.Errorf("IsBeadCommit(%q, %q) = %v, want %v", tt.message, tt.bead, got, tt.want)
		}
	}
}
