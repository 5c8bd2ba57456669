package refinery

import (
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestWrapOp(t *testing.T) {
	const secret = "s3cr3t-token"
	typed := &RateLimitedError{RetryAfter: 90 * time.Second}
	tests := []struct {
		name     string
		err      error
		message  string
		unwraps  error
		hasChain bool
	}{
		{name: "nil stays nil", err: nil},
		{
			name:     "keeps the chain",
			err:      fmt.Errorf("%w: Head branch was modified", ErrHeadChanged),
			message:  "merge pull request #1: head branch changed: Head branch was modified",
			unwraps:  ErrHeadChanged,
			hasChain: true,
		},
		{
			name:     "typed errors stay reachable",
			err:      typed,
			message:  "merge pull request #1: GitHub API rate limit exceeded, retry after 1m30s",
			hasChain: true,
		},
		{
			name:    "redacts the secret and drops the chain",
			err:     errors.New(`Get "https://x:` + secret + `@ghe/api": refused`),
			message: `merge pull request #1: Get "https://[REDACTED]@ghe/api": refused`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			err := wrapOp("merge pull request #1", tt.err, secret)
			if tt.err == nil {
				g.Expect(err).To(BeNil())
				return
			}
			g.Expect(err.Error()).To(Equal(tt.message))
			g.Expect(errors.Unwrap(err) != nil).To(Equal(tt.hasChain))
			if tt.unwraps != nil {
				g.Expect(err).To(MatchError(tt.unwraps))
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				g.Expect(e.Error()).NotTo(ContainSubstring(secret))
			}
		})
	}
	var rl *RateLimitedError
	NewWithT(t).Expect(errors.As(wrapOp("op", typed, secret), &rl)).To(BeTrue())
}

func TestConflictError(t *testing.T) {
	g := NewWithT(t)
	g.Expect((&ConflictError{}).Error()).To(Equal("merge conflict"))
	err := fmt.Errorf("merge: %w", &ConflictError{Files: []string{"a.go", "b.go"}})
	g.Expect(err.Error()).To(Equal("merge: merge conflict in a.go, b.go"))
	g.Expect(err).To(MatchError(ErrConflict))
	g.Expect(errors.Is(err, ErrNotMergeable)).To(BeFalse())
}

func TestRateLimitedErrorMessage(t *testing.T) {
	g := NewWithT(t)
	g.Expect((&RateLimitedError{RetryAfter: 42 * time.Second, Secondary: true}).Error()).
		To(Equal("GitHub API secondary rate limit exceeded, retry after 42s"))
}
