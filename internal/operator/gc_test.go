package operator

import (
	"runtime/debug"
	"testing"
)

func TestSetGCPercentKeepsAGOGCThatIsSet(t *testing.T) {
	// The runtime read GOGC at start; the test sets the target itself.
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	t.Setenv("GOGC", "")
	SetGCPercent()
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Errorf("GOGC unset: the target is %d, want %d", got, DefaultGCPercent)
	}

	t.Setenv("GOGC", "80")
	debug.SetGCPercent(80)
	SetGCPercent()
	if got := debug.SetGCPercent(100); got != 80 {
		t.Errorf("GOGC=80: the target is %d, want 80 kept", got)
	}
}
