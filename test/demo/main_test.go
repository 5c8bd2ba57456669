package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/boshu2/gastown-operator/test/devenv"
)

// TestDemoRunsTheLoopToACleanExit runs what `make demo` runs.
func TestDemoRunsTheLoopToACleanExit(t *testing.T) {
	var out bytes.Buffer
	opts := devenv.Options{Beads: map[string]string{}, Logf: t.Logf}
	if err := run(context.Background(), &out, opts, 3*time.Minute, true); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
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
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}
	for _, bead := range []string{"gt-db", "gt-health", "gt-version"} {
		if !strings.Contains(out.String(), bead+"  ") || !strings.Contains(out.String(), "Closed") {
			t.Errorf("the summary lacks %s closed:\n%s", bead, out.String())
		}
	}
}
