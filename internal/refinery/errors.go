package refinery

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/boshu2/gastown-operator/internal/redact"
)

// Errors the Refinery controller acts on. Providers wrap them with the
// operation and the forge's message; test with errors.Is.
var (
	// ErrMergeQueueRequired: the target branch takes merges only through
	// GitHub's merge queue.
	ErrMergeQueueRequired = errors.New("the target branch requires the merge queue")
	// ErrNotMergeable: the forge refused the merge (conflict, draft, branch
	// protection).
	ErrNotMergeable = errors.New("pull request is not mergeable")
	// ErrHeadChanged: the head branch moved since the SHA the caller gated.
	ErrHeadChanged = errors.New("head branch changed")
	// ErrConflict: the branches conflict. A *ConflictError carries the files.
	ErrConflict = errors.New("merge conflict")
	// ErrTargetMoved: the target branch moved while GitMerger merged into
	// it; merging again starts from the new target.
	ErrTargetMoved = errors.New("target branch moved during the merge")
)

// RateLimitedError says the forge refuses requests for a while. Providers
// never sleep: the controller requeues after RetryAfter.
type RateLimitedError struct {
	// RetryAfter is how long to wait: until the primary limit resets, or
	// the secondary limit's Retry-After.
	RetryAfter time.Duration
	// Secondary is true for GitHub's secondary (abuse) rate limit.
	Secondary bool
}

func (e *RateLimitedError) Error() string {
	kind := "rate limit"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	return fmt.Sprintf("GitHub API %s exceeded, retry after %s", kind, e.RetryAfter.Round(time.Second))
}

// ConflictError is a merge conflict; Files names the conflicting files when
// they are known.
type ConflictError struct {
	Files []string
}

func (e *ConflictError) Error() string {
	if len(e.Files) == 0 {
		return ErrConflict.Error()
	}
	return ErrConflict.Error() + " in " + strings.Join(e.Files, ", ")
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// opError names the operation that failed. Its message is fixed when it is
// made, with any secret replaced, so that printing it can never show one.
type opError struct {
	op  string
	msg string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.msg }
func (e *opError) Unwrap() error { return e.err }

// wrapOp wraps err with the operation's name and redacts its message
// (redact.Text: secret, token shapes, URL credentials). An error whose own
// message held something redacted is not kept in the chain, so that
// nothing unwrapped from the result can print it either.
func wrapOp(op string, err error, secret string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := redact.Text(msg, secret); clean != msg {
		return &opError{op: op, msg: clean}
	}
	return &opError{op: op, msg: msg, err: err}
}
