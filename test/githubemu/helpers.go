package githubemu

import (
	"errors"
	"fmt"
	"slices"
)

// This file holds what a test does on GitHub's side without the API: a
// reviewer approving, CI reporting, a person closing a pull request. None of
// it counts as a call.

// PullRequest is a snapshot of a pull request's state in the emulator.
type PullRequest struct {
	Number        int
	Title, Body   string
	State         string // open or closed
	Draft, Merged bool
	// MergedBehind: merged while its head lacked commits of its base.
	MergedBehind       bool
	User               string
	Head, Base         string
	HeadSHA, BaseSHA   string
	MergeCommitSHA     string
	Labels             []string
	RequestedReviewers []string
	Comments           []string // bodies of the conversation's comments
	Reviews            []Review
}

// Review is a snapshot of a review.
type Review struct {
	ID       int64
	User     string
	State    string
	Body     string
	CommitID string
	Comments []LineComment
}

// Approve submits an approving review by login for the head commit.
func (s *Server) Approve(owner, repo string, number int, login string) error {
	return s.review(owner, repo, number, login, ReviewApproved, "", nil)
}

// RequestChanges submits a review by login that requests changes, with a
// body and line comments.
func (s *Server) RequestChanges(owner, repo string, number int, login, body string, comments []LineComment) error {
	return s.review(owner, repo, number, login, ReviewChangesRequested, body, comments)
}

func (s *Server) review(owner, repo string, number int, login, state, body string, comments []LineComment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, p, err := s.lookupPull(owner, repo, number)
	if err != nil {
		return err
	}
	if resp, ok := s.checkReview(p, login, state, body, comments); !ok {
		return responseError(resp)
	}
	s.addReview(r, p, login, state, body, "", comments)
	return nil
}

// SetStatus reports a commit status (error, failure, pending or success) for
// a context on a commit.
func (s *Server) SetStatus(owner, repo, sha, context, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRepo(owner, repo)
	if err != nil {
		return err
	}
	req := createStatusRequest{State: state, Context: context}
	if _, resp, ok := s.addStatus(r, sha, req, "ci"); !ok {
		return responseError(resp)
	}
	return nil
}

// AddCheckRun reports a check run on a commit: status queued, in_progress
// or completed, and for a completed run its conclusion (success, failure,
// neutral, ...).
func (s *Server) AddCheckRun(owner, repo, sha, name, status, conclusion string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRepo(owner, repo)
	if err != nil {
		return err
	}
	req := createCheckRunRequest{Name: name, HeadSHA: sha, Status: status, Conclusion: conclusion}
	if _, resp, ok := s.addCheckRun(r, req); !ok {
		return responseError(resp)
	}
	return nil
}

// ClosePullRequest closes a pull request without merging it, as a person
// rejecting it would.
func (s *Server) ClosePullRequest(owner, repo string, number int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, p, err := s.lookupPull(owner, repo, number)
	if err != nil {
		return err
	}
	if resp, ok := s.changeState(r, p, stateClosed); !ok {
		return responseError(resp)
	}
	return nil
}

// PullRequest returns a snapshot of a pull request.
func (s *Server) PullRequest(owner, repo string, number int) (PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p, err := s.lookupPull(owner, repo, number)
	if err != nil {
		return PullRequest{}, err
	}
	return snapshot(p), nil
}

// PullRequests returns snapshots of a repository's pull requests, oldest
// first.
func (s *Server) PullRequests(owner, repo string) ([]PullRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupRepo(owner, repo)
	if err != nil {
		return nil, err
	}
	pulls := r.sortedPulls()
	slices.Reverse(pulls)
	out := make([]PullRequest, 0, len(pulls))
	for _, p := range pulls {
		if err := s.refresh(r, p); err != nil {
			return nil, err
		}
		out = append(out, snapshot(p))
	}
	return out, nil
}

func snapshot(p *pull) PullRequest {
	out := PullRequest{
		Number: p.number, Title: p.title, Body: p.body, State: p.state,
		Draft: p.draft, Merged: p.merged, MergedBehind: p.mergedBehind, User: p.user,
		Head: p.headRef, Base: p.baseRef, HeadSHA: p.headSHA, BaseSHA: p.baseSHA,
		MergeCommitSHA:     p.mergeCommitSHA,
		Labels:             slices.Clone(p.labels),
		RequestedReviewers: slices.Clone(p.requestedReviewers),
	}
	for _, ic := range p.issueComments {
		out.Comments = append(out.Comments, ic.body)
	}
	for _, r := range p.reviews {
		rv := Review{ID: r.id, User: r.user, State: r.state, Body: r.body, CommitID: r.commitID}
		for _, rc := range p.reviewComments {
			if rc.reviewID == r.id {
				rv.Comments = append(rv.Comments, LineComment{Path: rc.path, Line: rc.line, Body: rc.body})
			}
		}
		out.Reviews = append(out.Reviews, rv)
	}
	return out
}

// ErrNotFound is returned by the helpers for a repository or pull request
// that does not exist.
var ErrNotFound = errors.New("githubemu: not found")

func (s *Server) lookupRepo(owner, repo string) (*repoState, error) {
	r, ok := s.repo(owner, repo)
	if !ok {
		return nil, fmt.Errorf("repository %s/%s: %w", owner, repo, ErrNotFound)
	}
	return r, nil
}

func (s *Server) lookupPull(owner, repo string, number int) (*repoState, *pull, error) {
	r, err := s.lookupRepo(owner, repo)
	if err != nil {
		return nil, nil, err
	}
	p, ok := r.pulls[number]
	if !ok {
		return nil, nil, fmt.Errorf("pull request %s/%s#%d: %w", owner, repo, number, ErrNotFound)
	}
	return r, p, s.refresh(r, p)
}

// responseError turns a handler's error response into a Go error.
func responseError(resp response) error {
	msg := fmt.Sprint(resp.status)
	if body, ok := resp.body.(errorJSON); ok {
		msg += " " + body.Message
		for _, d := range body.Errors {
			msg += fmt.Sprintf(" [%s %s %s]", d.Field, d.Code, d.Message)
		}
	}
	return fmt.Errorf("githubemu: %s", msg)
}
