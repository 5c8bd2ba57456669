package gitops

import (
	"errors"
	"net/url"

	"github.com/boshu2/gastown-operator/internal/redact"
)

// ErrNoChanges is returned by CommitAll when the worktree has nothing to commit.
var ErrNoChanges = errors.New("no changes to commit")

// ErrBranchNotFound is returned when the remote has no such branch.
var ErrBranchNotFound = errors.New("branch not found on the remote")

// Error is a failed git operation on a repository. Its message names the
// operation and the URL, without credentials.
type Error struct {
	// Op is the operation, e.g. "clone" or "push branch polecat/gt-1".
	Op string
	// URL of the repository, as given (it may hold credentials; Error()
	// never prints them).
	URL string
	Err error
}

func (e *Error) Error() string {
	// go-git quotes the request URL in some HTTP errors; a password in the
	// URL must not reach a log or a result through them.
	return redact.Text("git "+e.Op+" "+RedactURL(e.URL)+": "+e.Err.Error(), urlPassword(e.URL))
}

func (e *Error) Unwrap() error { return e.Err }

// RedactURL returns the URL without its credentials, for messages: it is
// redact.URL.
func RedactURL(raw string) string { return redact.URL(raw) }

func urlPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}
