package refinery

import (
	"testing"

	. "github.com/onsi/gomega"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name     string
		checks   map[string]string
		required []string
		state    string
		missing  []string
	}{
		{name: "nothing reported, nothing required", checks: map[string]string{}, state: CheckSuccess},
		{name: "all reported pass", checks: map[string]string{"build": CheckSuccess, "test": CheckSuccess}, state: CheckSuccess},
		{name: "one reported pending", checks: map[string]string{"build": CheckSuccess, "test": CheckPending}, state: CheckPending},
		{name: "failure beats pending", checks: map[string]string{"build": CheckFailure, "test": CheckPending}, state: CheckFailure},
		{
			name:     "required missing",
			checks:   map[string]string{"build": CheckSuccess},
			required: []string{"build", "test"},
			state:    CheckPending,
			missing:  []string{"test"},
		},
		{
			name:     "unrequired failure ignored",
			checks:   map[string]string{"build": CheckSuccess, "lint": CheckFailure},
			required: []string{"build"},
			state:    CheckSuccess,
		},
		{
			name:     "required failure",
			checks:   map[string]string{"build": CheckFailure},
			required: []string{"build", "test"},
			state:    CheckFailure,
			missing:  []string{"test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			sum := summarize(tt.checks, tt.required)
			g.Expect(sum.State).To(Equal(tt.state))
			g.Expect(sum.Missing).To(Equal(tt.missing))
			g.Expect(sum.Checks).To(Equal(tt.checks))
		})
	}
}

func TestCheckStates(t *testing.T) {
	tests := []struct {
		status, conclusion string
		want               string
	}{
		{"queued", "", CheckPending},
		{"in_progress", "", CheckPending},
		{"completed", "success", CheckSuccess},
		{"completed", "neutral", CheckSuccess},
		{"completed", "skipped", CheckSuccess},
		{"completed", "failure", CheckFailure},
		{"completed", "cancelled", CheckFailure},
		{"completed", "timed_out", CheckFailure},
		{"completed", "action_required", CheckFailure},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.conclusion, func(t *testing.T) {
			NewWithT(t).Expect(checkRunState(tt.status, tt.conclusion)).To(Equal(tt.want))
		})
	}
	statuses := map[string]string{"success": CheckSuccess, "pending": CheckPending, "failure": CheckFailure, "error": CheckFailure}
	for in, want := range statuses {
		NewWithT(t).Expect(statusState(in)).To(Equal(want), in)
	}
}

func TestRecordKeepsTheWorse(t *testing.T) {
	g := NewWithT(t)
	checks := map[string]string{}
	record(checks, "ci", CheckSuccess)
	record(checks, "ci", CheckFailure)
	record(checks, "ci", CheckPending)
	g.Expect(checks).To(Equal(map[string]string{"ci": CheckFailure}))
}
