package v1alpha1

import (
	"regexp"
	"testing"
)

func TestBeadObjectName(t *testing.T) {
	hashed := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?-[0-9a-f]{8}$`)
	for _, tt := range []struct{ id, prefix string }{
		{"gt-health", ""},
		{"gt-abc.1", "gt-abc-1-"},
		{"bd-f8b764c9.8.2", "bd-f8b764c9-8-2-"},
		{"scout_mcp-6ea", "scout-mcp-6ea-"},
		{"GT-Upper", "gt-upper-"},
		{"-x", "x-"},
		{"gt-01234567890123456789012345678901234567890123456", ""}, // 50 characters
		{"gt-01234567890123456789012345678901234567890123456789", "gt-01234567890123456789012345678901234567-"},
	} {
		got := BeadObjectName(tt.id)
		switch {
		case tt.prefix == "" && got != tt.id:
			t.Errorf("%s: %s, want the ID itself", tt.id, got)
		case tt.prefix != "" && (!hashed.MatchString(got) || got[:len(tt.prefix)] != tt.prefix || len(got) > BeadObjectNameMaxLength):
			t.Errorf("%s: %s, want %s and 8 hex digits, at most %d characters", tt.id, got, tt.prefix, BeadObjectNameMaxLength)
		}
		if BeadObjectName(tt.id) != got {
			t.Errorf("%s: not deterministic", tt.id)
		}
	}
	if a, b := BeadObjectName("gt-a.1"), BeadObjectName("gt-a_1"); a == b {
		t.Errorf("gt-a.1 and gt-a_1 share the name %s", a)
	}
}

func TestBeadSpecHashLeavesOutTheID(t *testing.T) {
	a := BeadSpec{Title: "A"}
	b := BeadSpec{Title: "A", ID: "gt-a"}
	if a.Hash() != b.Hash() {
		t.Error("spec.id changes the hash")
	}
}
