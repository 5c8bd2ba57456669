package refinery

import (
	"maps"
	"slices"
)

// summarize decides a commit's check state from each check's: failure when
// a counted check failed, pending when one is pending or a required one was
// never reported, success otherwise. With no required names every reported
// check counts, and a commit with no checks at all passes.
func summarize(checks map[string]string, required []string) CheckSummary {
	sum := CheckSummary{State: CheckSuccess, Checks: checks}
	names := required
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(checks))
	}
	for _, name := range names {
		state, reported := checks[name]
		if !reported {
			sum.Missing = append(sum.Missing, name)
			state = CheckPending
		}
		sum.State = worse(sum.State, state)
	}
	return sum
}

// record keeps the worse state when a name is reported twice, as a status
// and as a check run.
func record(checks map[string]string, name, state string) {
	if prev, ok := checks[name]; ok {
		state = worse(prev, state)
	}
	checks[name] = state
}

func worse(a, b string) string {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func rank(state string) int {
	switch state {
	case CheckFailure:
		return 2
	case CheckPending:
		return 1
	default:
		return 0
	}
}

// statusState maps a commit status (error, failure, pending, success).
func statusState(state string) string {
	switch state {
	case "success":
		return CheckSuccess
	case "pending":
		return CheckPending
	default:
		return CheckFailure
	}
}

// checkRunState maps a check run: not completed is pending; success,
// neutral and skipped pass, as they do for GitHub's required checks; any
// other conclusion (failure, cancelled, timed_out, action_required, stale)
// fails.
func checkRunState(status, conclusion string) string {
	if status != "completed" {
		return CheckPending
	}
	switch conclusion {
	case "success", "neutral", "skipped":
		return CheckSuccess
	default:
		return CheckFailure
	}
}
