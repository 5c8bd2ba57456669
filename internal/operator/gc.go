package operator

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's target when GOGC is not set:
// the heap may grow to 1.5 times what is live rather than Go's twice. The
// manager's heap is mostly its informer cache, live for as long as the
// process, so the lower target saves a fifth of its memory at scale
// (make bench-scale, 10,000 beads: peak RSS 177 MiB at 100, 141-146 MiB at
// 50), for 7-18% more CPU time in twice the collections.
const DefaultGCPercent = 50

// SetGCPercent sets the collector's target to DefaultGCPercent unless GOGC
// is set, as Go reads it (an empty GOGC is unset).
func SetGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
