// Package runner is the polecat runner (cmd/polecat, gastown-polecat): it
// clones the repository, runs the agent as a child process, closes the
// bead, commits and pushes, and reports a PolecatResult. Its configuration
// is polecat.RunnerConfig; its results and exit codes are in package
// polecat.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/gitops"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/redact"
)

// Runner runs the steps of one polecat.
type Runner struct {
	Config polecat.RunnerConfig
	// Stdout and Stderr receive the agent's output; Stderr also the
	// runner's own log lines. Both go to the container log.
	Stdout io.Writer
	Stderr io.Writer

	// secretValues are what no log line or result may show (see secrets).
	secretsOnce  sync.Once
	secretValues []string
}

// failure is a step's error with the outcome it gives.
type failure struct {
	outcome gastownv1.PolecatOutcome
	err     error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func configError(err error) error { return &failure{outcome: gastownv1.OutcomeError, err: err} }
func gitFailed(err error) error   { return &failure{outcome: gastownv1.OutcomeGitFailed, err: err} }

// failed is the result of a step that returned err.
func (r *Runner) failed(err error) gastownv1.PolecatResult {
	outcome := gastownv1.OutcomeError
	var f *failure
	if errors.As(err, &f) {
		outcome = f.outcome
	}
	r.logf("%s: %v", outcome, err)
	return r.scrubResult(gastownv1.PolecatResult{Outcome: outcome, Branch: r.Config.Git.WorkBranch, Message: err.Error()})
}

// Clone is the git-init step: it clones the branch the run starts from and
// checks out the work branch. Work and ConflictFix start from the base
// branch on a new work branch; Revision continues the work branch. For
// ConflictFix the old work branch is fetched too (with the history it
// shares with the base), for its diff and for the push's lease. It returns
// nil when the workspace is ready.
func (r *Runner) Clone(ctx context.Context) *gastownv1.PolecatResult {
	if err := r.clone(ctx); err != nil {
		res := r.failed(err)
		return &res
	}
	return nil
}

func (r *Runner) clone(ctx context.Context) error {
	c := r.Config
	auth, err := r.auth()
	if err != nil {
		return err
	}
	opts := gitops.CloneOptions{URL: c.Git.URL, Branch: c.Git.BaseBranch, Auth: auth, Depth: 1}
	switch c.Purpose {
	case gastownv1.PurposeRevision:
		opts.Branch = c.Git.WorkBranch
	case gastownv1.PurposeConflictFix:
		// The old branch's diff needs its merge base with the base branch.
		opts.Depth = 0
	}
	repo, err := gitops.Clone(ctx, c.RepoDir, opts)
	if err != nil {
		return gitFailed(err)
	}
	if c.Purpose != gastownv1.PurposeRevision {
		// The branch this run replaces, if it is there: for a ConflictFix
		// the earlier change to redo, for a Work run an earlier run's push.
		var old string
		if c.Purpose == gastownv1.PurposeConflictFix {
			old, err = r.fetchEarlierChange(ctx, repo)
		} else {
			old, err = r.checkEarlierWork(ctx, repo)
		}
		if err != nil {
			return err
		}
		if c.Push != nil {
			if err := writeJSON(c.Push.LeaseFile, polecat.PushLease{Commit: old}); err != nil {
				return configError(fmt.Errorf("recording the lease for %s: %w", polecat.GitPushContainer, err))
			}
		}
		if err := repo.CreateBranch(c.Git.WorkBranch); err != nil {
			return gitFailed(err)
		}
	}
	head, branch, err := repo.Head()
	if err != nil {
		return gitFailed(err)
	}
	r.logf("cloned %s: on branch %s at %s", gitops.RedactURL(c.Git.URL), branch, head)
	return nil
}

// fetchEarlierChange fetches the work branch a ConflictFix redoes, with
// its history: its diff needs its merge base with the base branch. It
// returns the branch's commit, "" if the branch is not there.
func (r *Runner) fetchEarlierChange(ctx context.Context, repo *gitops.Repo) (string, error) {
	branch := r.Config.Git.WorkBranch
	old, err := repo.FetchBranch(ctx, branch, 0)
	switch {
	case errors.Is(err, gitops.ErrBranchNotFound):
		r.logf("branch %s is not on the remote: there is no earlier change to redo", branch)
		return "", nil
	case err != nil:
		return "", gitFailed(err)
	}
	r.logf("fetched the earlier work on %s at %s", branch, old)
	return old, nil
}

// checkEarlierWork looks for the work branch on the remote before a Work
// run starts, and returns its commit ("" if it is not there). An earlier
// run of the bead may have pushed it and lost its result (its pod gone
// before it was read): the run replaces that branch, with a lease on the
// commit seen here. A branch whose tip is anyone else's is never replaced:
// the run fails now, before the agent costs anything.
func (r *Runner) checkEarlierWork(ctx context.Context, repo *gitops.Repo) (string, error) {
	c := r.Config
	tip, err := repo.FetchBranch(ctx, c.Git.WorkBranch, 1)
	switch {
	case errors.Is(err, gitops.ErrBranchNotFound):
		return "", nil
	case err != nil:
		return "", gitFailed(err)
	}
	msg, err := repo.Message(tip)
	if err != nil {
		return "", gitFailed(err)
	}
	if !polecat.IsBeadCommit(msg, c.BeadID) {
		return "", gitFailed(fmt.Errorf("branch %s exists on the remote at %s, and its last commit is no polecat's of bead %q: "+
			"the runner does not overwrite it; delete the branch to let the bead run", c.Git.WorkBranch, tip, c.BeadID))
	}
	r.logf("branch %s has an earlier run's work at %s: this run replaces it", c.Git.WorkBranch, tip)
	return tip, nil
}

// Run is the agent container's step: it runs the agent in the clone, then
// closes the bead, commits everything the agent changed and pushes the
// work branch. The agent never commits or pushes itself. The result's
// message and summary hold none of the secrets the runner was given.
func (r *Runner) Run(ctx context.Context) gastownv1.PolecatResult {
	res, err := r.run(ctx)
	if err != nil {
		failed := r.failed(err)
		failed.AgentExitCode = res.AgentExitCode
		failed.CostUSD, failed.InputTokens, failed.OutputTokens, failed.Turns = res.CostUSD, res.InputTokens, res.OutputTokens, res.Turns
		failed.Summary = r.scrub(res.Summary)
		return failed
	}
	return r.scrubResult(res)
}

func (r *Runner) run(ctx context.Context) (gastownv1.PolecatResult, error) {
	c := r.Config
	res := gastownv1.PolecatResult{Branch: c.Git.WorkBranch}
	// With a push handoff this container has no git credentials.
	var auth transport.AuthMethod
	if c.Push == nil {
		var err error
		if auth, err = r.auth(); err != nil {
			return res, err
		}
	}
	repo, err := gitops.Open(c.RepoDir, auth)
	if err != nil {
		return res, configError(fmt.Errorf("the workspace has no clone (did git-init run?): %w", err))
	}
	if err := r.checkBeadFile(); err != nil {
		return res, err
	}
	start, _, err := repo.Head()
	if err != nil {
		return res, gitFailed(err)
	}
	prompt := polecat.BuildPrompt(r.task(repo, start))
	if err := r.prepareAgent(repo, prompt); err != nil {
		return res, err
	}

	run := r.runAgent(ctx, prompt)
	res.AgentExitCode = run.exitCode
	res.CostUSD, res.InputTokens, res.OutputTokens, res.Turns = run.figures.CostUSD, run.figures.InputTokens, run.figures.OutputTokens, run.figures.Turns
	res.Summary = run.figures.Summary
	if run.err != nil {
		return res, run.err
	}

	files, err := r.collectChanges(repo, start)
	if err != nil {
		return res, err
	}
	if len(files) == 0 {
		r.logf("the agent changed nothing: nothing to commit or push")
		res.Outcome = gastownv1.OutcomeNoChanges
		return res, nil
	}
	if err := r.refuseSecrets(files); err != nil {
		return res, err
	}
	if err := r.closeBead(); err != nil {
		return res, err
	}
	commit, err := repo.CommitAll(c.CommitMessage, gitops.Signature{Name: c.Git.AuthorName, Email: c.Git.AuthorEmail})
	if err != nil {
		return res, gitFailed(err)
	}
	r.logf("committed %s (%d files)", commit.SHA, len(commit.Files))
	if c.Push != nil {
		err = r.handOffPush(ctx, commit.SHA)
	} else {
		err = r.push(ctx, repo)
	}
	if err != nil {
		return res, err
	}
	r.logf("pushed %s to %s", c.Git.WorkBranch, gitops.RedactURL(c.Git.URL))
	res.Outcome = gastownv1.OutcomePushed
	res.Commit = commit.SHA
	res.FilesChanged = int32(len(commit.Files))
	return res, nil
}

// auth reads the git secret mounted for the runner.
func (r *Runner) auth() (transport.AuthMethod, error) {
	data := map[string][]byte{}
	if dir := r.Config.Git.SecretDir; dir != "" {
		var err error
		if data, err = gitops.ReadSecretDir(dir); err != nil {
			return nil, configError(err)
		}
	}
	auth, err := gitops.AuthFromSecret(r.Config.Git.URL, data)
	if err != nil {
		return nil, configError(err)
	}
	return auth, nil
}

// task is the configured task, with the old branch's diff for ConflictFix.
// Without the diff the agent still has the task's description, so a diff
// that cannot be computed is logged, not fatal.
func (r *Runner) task(repo *gitops.Repo, head string) polecat.Task {
	t := r.Config.Task
	if r.Config.Purpose != gastownv1.PurposeConflictFix {
		return t
	}
	old, err := repo.TrackingSHA(r.Config.Git.WorkBranch)
	if err != nil {
		return t
	}
	base, err := repo.MergeBase(head, old)
	if err == nil {
		t.PreviousDiff, err = repo.Diff(base, old)
	}
	if err != nil {
		r.logf("warning: no diff of the earlier work on %s: %v", r.Config.Git.WorkBranch, err)
	}
	return t
}

// collectChanges lists what the agent changed since start. Commits the
// agent made despite its instructions are undone (their changes kept), so
// that the runner's one commit carries all of the work.
func (r *Runner) collectChanges(repo *gitops.Repo, start string) ([]string, error) {
	head, branch, err := repo.Head()
	if err != nil {
		return nil, gitFailed(err)
	}
	if branch != r.Config.Git.WorkBranch {
		return nil, gitFailed(fmt.Errorf("the agent left branch %s checked out instead of %s", orDetached(branch), r.Config.Git.WorkBranch))
	}
	if head != start {
		r.logf("the agent committed on its own: folding its commits into the polecat's commit")
		if err := repo.ResetSoft(start); err != nil {
			return nil, gitFailed(err)
		}
	}
	files, err := repo.Changes()
	if err != nil {
		return nil, gitFailed(err)
	}
	return files, nil
}

// maxScannedFile bounds the part of a changed file searched for secrets.
const maxScannedFile = 32 << 20

// refuseSecrets fails the run when a file the agent changed holds the value
// of a secret the runner was given (the agent's own key, say): a commit
// would carry it into the branch and the pull request. Nothing is
// committed or pushed; the message names the file, not the secret.
func (r *Runner) refuseSecrets(files []string) error {
	secrets := r.secrets()
	for _, name := range files {
		f, err := os.Open(filepath.Join(r.Config.RepoDir, filepath.FromSlash(name)))
		if err != nil {
			continue // deleted
		}
		b, err := io.ReadAll(io.LimitReader(f, maxScannedFile))
		f.Close()
		if err == nil && redact.Contains(string(b), secrets...) {
			return configError(fmt.Errorf("the agent wrote the value of a secret it was given into %s: nothing is committed or pushed", name))
		}
	}
	return nil
}

func orDetached(branch string) string {
	if branch == "" {
		return "(detached HEAD)"
	}
	return branch
}

// beadPath is the bead file's path in the clone.
func (r *Runner) beadPath() (string, error) {
	file := r.Config.BeadFile
	if !filepath.IsLocal(filepath.FromSlash(file)) {
		return "", configError(fmt.Errorf("bead file %q is not a path inside the repository", file))
	}
	return filepath.Join(r.Config.RepoDir, filepath.FromSlash(file)), nil
}

// checkBeadFile makes sure, before the agent spends anything, that the bead
// can be closed in its file.
func (r *Runner) checkBeadFile() error {
	if r.Config.BeadFile == "" {
		return nil
	}
	path, err := r.beadPath()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return configError(fmt.Errorf("bead file %s is not in the clone of %s: %w",
			r.Config.BeadFile, r.Config.Git.BaseBranch, err))
	}
	if _, err := beads.CloseBead(r.Config.BeadFile, data, r.Config.BeadID); err != nil {
		return configError(fmt.Errorf("cannot close bead %s: %w", r.Config.BeadID, err))
	}
	return nil
}

// closeBead sets the bead's status to closed in its file, so that the
// merge of the work records the bead as done.
func (r *Runner) closeBead() error {
	if r.Config.BeadFile == "" {
		return nil
	}
	path, err := r.beadPath()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return configError(fmt.Errorf("read bead file %s: %w", r.Config.BeadFile, err))
	}
	closed, err := beads.CloseBead(r.Config.BeadFile, data, r.Config.BeadID)
	if err != nil {
		return configError(fmt.Errorf("close bead %s: %w", r.Config.BeadID, err))
	}
	if string(closed) == string(data) {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return configError(err)
	}
	if err := os.WriteFile(path, closed, info.Mode().Perm()); err != nil {
		return configError(fmt.Errorf("write bead file %s: %w", r.Config.BeadFile, err))
	}
	r.logf("closed bead %s in %s", r.Config.BeadID, r.Config.BeadFile)
	return nil
}

// push publishes the work branch: fast-forward only for a Revision; for a
// ConflictFix, and a Work run that found an earlier run's branch, it
// replaces the old branch, but only if that is still where it was when
// git-init saw it.
func (r *Runner) push(ctx context.Context, repo *gitops.Repo) error {
	branch := r.Config.Git.WorkBranch
	if r.Config.Purpose == gastownv1.PurposeRevision {
		if err := repo.Push(ctx, branch); err != nil {
			return gitFailed(err)
		}
		return nil
	}
	old, err := r.lease(repo)
	if err != nil {
		return err
	}
	if err := repo.PushWithLease(ctx, branch, old); err != nil {
		return gitFailed(err)
	}
	return nil
}

// lease is the work branch's commit git-init saw. In a pod it is read from
// git-init's record, which the agent container cannot write; run locally,
// the agent is the runner's child with all its rights, and the clone's
// record of the remote branch serves.
func (r *Runner) lease(repo *gitops.Repo) (string, error) {
	if h := r.Config.Push; h != nil {
		var lease polecat.PushLease
		if err := readJSON(h.LeaseFile, &lease); err != nil {
			return "", gitFailed(fmt.Errorf("reading the lease %s recorded: %w", polecat.GitInitContainer, err))
		}
		return lease.Commit, nil
	}
	old, err := repo.TrackingSHA(r.Config.Git.WorkBranch)
	if err != nil && !errors.Is(err, gitops.ErrBranchNotFound) {
		return "", gitFailed(err)
	}
	return old, nil
}

// logf writes one of the runner's log lines, without secrets.
func (r *Runner) logf(format string, args ...any) {
	fmt.Fprint(r.Stderr, r.scrub(fmt.Sprintf("gastown-polecat: "+format+"\n", args...)))
}
