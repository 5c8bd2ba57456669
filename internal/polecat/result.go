package polecat

import (
	"encoding/json"
	"fmt"
	"strings"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Exit codes of the runner. Each container of a polecat pod that runs the
// runner (git-init and the agent's) exits with one of these and writes the
// matching PolecatResult to its termination message.
const (
	// ExitPushed: the agent's work is committed and pushed.
	ExitPushed = 0
	// ExitError: configuration or internal error (bad config, missing
	// credentials or bead file, unreadable secret).
	ExitError = 1
	// ExitNoChanges: the agent changed nothing; nothing was pushed.
	ExitNoChanges = 10
	// ExitAgentFailed: the agent exited non-zero, reported an error, or was
	// stopped; nothing was pushed.
	ExitAgentFailed = 11
	// ExitGitFailed: clone, commit or push failed.
	ExitGitFailed = 12
)

// MaxResultBytes is the most the kubelet keeps of a termination message.
const MaxResultBytes = 4096

// ExitCode is the runner's exit code for an outcome.
func ExitCode(o gastownv1.PolecatOutcome) int {
	switch o {
	case gastownv1.OutcomePushed:
		return ExitPushed
	case gastownv1.OutcomeNoChanges:
		return ExitNoChanges
	case gastownv1.OutcomeAgentFailed:
		return ExitAgentFailed
	case gastownv1.OutcomeGitFailed:
		return ExitGitFailed
	default:
		return ExitError
	}
}

// OutcomeForExitCode maps a runner's exit code back to its outcome, for a
// container that ended without a termination message (killed, OOM). It
// returns false for codes the runner does not use.
func OutcomeForExitCode(code int32) (gastownv1.PolecatOutcome, bool) {
	switch code {
	case ExitPushed:
		return gastownv1.OutcomePushed, true
	case ExitNoChanges:
		return gastownv1.OutcomeNoChanges, true
	case ExitAgentFailed:
		return gastownv1.OutcomeAgentFailed, true
	case ExitGitFailed:
		return gastownv1.OutcomeGitFailed, true
	case ExitError:
		return gastownv1.OutcomeError, true
	default:
		return "", false
	}
}

// EncodeResult is the termination message for a result: its JSON, at most
// MaxResultBytes. When the JSON is too long the summary is cut first, then
// the message, so that the JSON always parses.
func EncodeResult(r gastownv1.PolecatResult) []byte {
	if b := marshalResult(r); len(b) <= MaxResultBytes {
		return b
	}
	fitField(&r, &r.Summary)
	if b := marshalResult(r); len(b) <= MaxResultBytes {
		return b
	}
	fitField(&r, &r.Message)
	if b := marshalResult(r); len(b) <= MaxResultBytes {
		return b
	}
	// Only a runaway branch name is left; the outcome is what matters.
	return marshalResult(gastownv1.PolecatResult{Outcome: r.Outcome, Commit: r.Commit, AgentExitCode: r.AgentExitCode})
}

// fitField cuts *field, a field of r, to the longest prefix (marked as cut)
// with which r fits in MaxResultBytes, or to "" when none does. JSON
// escaping makes the encoded length of a prefix hard to predict, so the
// length is searched.
func fitField(r *gastownv1.PolecatResult, field *string) {
	full := *field
	fits := func(keep int) bool {
		*field = cutMarked(full, keep)
		return len(marshalResult(*r)) <= MaxResultBytes
	}
	lo, hi := 0, len(full) // fits(lo) is assumed; the answer is in [lo, hi)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	*field = cutMarked(full, lo)
}

// cutMarked is the first keep bytes of s (without splitting a character)
// and a mark that says it was cut; "" when nothing is kept.
func cutMarked(s string, keep int) string {
	if keep <= 0 {
		return ""
	}
	cut, _ := truncateUTF8(s, keep)
	return cut + "…"
}

func marshalResult(r gastownv1.PolecatResult) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// A PolecatResult holds strings and numbers only.
		panic(fmt.Sprintf("encode polecat result: %v", err))
	}
	return b
}

// ParseResult reads a runner's termination message.
func ParseResult(message string) (*gastownv1.PolecatResult, error) {
	message = strings.TrimSpace(message)
	if message == "" {
		return nil, fmt.Errorf("empty polecat result")
	}
	// Unknown fields are ignored, so that a newer runner's result still
	// reads during an upgrade.
	var r gastownv1.PolecatResult
	if err := json.Unmarshal([]byte(message), &r); err != nil {
		return nil, fmt.Errorf("parse polecat result: %w", err)
	}
	switch r.Outcome {
	case gastownv1.OutcomePushed, gastownv1.OutcomeNoChanges, gastownv1.OutcomeAgentFailed,
		gastownv1.OutcomeGitFailed, gastownv1.OutcomeError:
	default:
		return nil, fmt.Errorf("parse polecat result: unknown outcome %q", r.Outcome)
	}
	return &r, nil
}
