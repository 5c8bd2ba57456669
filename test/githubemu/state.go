package githubemu

import (
	"hash/fnv"
	"slices"
	"time"
)

// repoState is what the emulator knows about a repository beyond its git
// data: pull requests and the statuses and check runs of commits.
type repoState struct {
	id          int64
	owner, name string
	git         gitRepo
	lastNumber  int
	pulls       map[int]*pull
	statuses    []*commitStatus
	checkRuns   []*checkRun
	hooks       []webhook
}

func newRepoState(owner, name, dir string, id int64) *repoState {
	return &repoState{id: id, owner: owner, name: name, git: gitRepo{dir: dir}, pulls: map[int]*pull{}}
}

// sortedPulls returns the pull requests newest first, GitHub's default order.
func (r *repoState) sortedPulls() []*pull {
	out := make([]*pull, 0, len(r.pulls))
	for _, p := range r.pulls {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *pull) int { return b.number - a.number })
	return out
}

// openPullForHead is the open pull request whose head is branch, if any.
func (r *repoState) openPullForHead(branch string) *pull {
	for _, p := range r.pulls {
		if p.state == stateOpen && p.headRef == branch {
			return p
		}
	}
	return nil
}

const (
	stateOpen   = "open"
	stateClosed = "closed"
)

// pull is a pull request. Its issue side (labels, comments) lives here too:
// on GitHub every pull request is an issue with the same number.
type pull struct {
	id               int64
	number           int
	title, body      string
	state            string
	draft            bool
	user             string
	headRef, baseRef string
	headSHA, baseSHA string
	merged           bool
	// mergedBehind: merged while its head lacked commits of its base, so
	// what landed was never tested as it is on the base.
	mergedBehind       bool
	mergeCommitSHA     string
	mergedBy           string
	createdAt          time.Time
	updatedAt          time.Time
	closedAt           time.Time
	mergedAt           time.Time
	labels             []string
	requestedReviewers []string
	reviews            []*review
	reviewComments     []*reviewComment
	issueComments      []*issueComment
}

func (p *pull) close(at time.Time) {
	p.state = stateClosed
	p.closedAt = at
	p.updatedAt = at
}

type review struct {
	id          int64
	user        string
	state       string
	body        string
	commitID    string
	submittedAt time.Time
}

type reviewComment struct {
	id        int64
	reviewID  int64
	user      string
	path      string
	line      int
	body      string
	commitID  string
	createdAt time.Time
}

type issueComment struct {
	id        int64
	user      string
	body      string
	createdAt time.Time
	updatedAt time.Time
}

type commitStatus struct {
	id          int64
	sha         string
	context     string
	state       string
	description string
	targetURL   string
	creator     string
	createdAt   time.Time
}

type checkRun struct {
	id          int64
	sha         string
	name        string
	status      string
	conclusion  string
	detailsURL  string
	startedAt   time.Time
	completedAt time.Time
}

// user renders a login as GitHub's user object, with a stable ID derived
// from the login.
func user(login string) userJSON {
	h := fnv.New32a()
	_, _ = h.Write([]byte(login))
	return userJSON{Login: login, ID: int64(h.Sum32()), Type: "User"}
}
