package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/boshu2/gastown-operator/internal/gitops"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

// handoffPoll is how often each side of the push handoff looks for the
// other's file. The files are in emptyDirs of one pod: a look is a stat.
const handoffPoll = 100 * time.Millisecond

// handOffPush asks the git-push container to push commit and waits for
// its answer. The agent container cannot write the answer's volume, so an
// agent cannot forge it; the answer must name the commit asked for, so a
// request the agent rewrote is not taken for the runner's.
func (r *Runner) handOffPush(ctx context.Context, commit string) error {
	h := r.Config.Push
	if err := writeJSON(h.RequestFile, polecat.PushRequest{Commit: commit}); err != nil {
		return configError(fmt.Errorf("asking %s to push: %w", polecat.GitPushContainer, err))
	}
	r.logf("asked %s to push %s", polecat.GitPushContainer, commit)
	var res polecat.PushResult
	if err := waitJSON(ctx, h.ResultFile, &res); err != nil {
		return gitFailed(fmt.Errorf("waiting for %s to push %s: %w", polecat.GitPushContainer, commit, err))
	}
	switch {
	case res.Error != "":
		return gitFailed(errors.New(res.Error))
	case res.Commit != commit:
		return gitFailed(fmt.Errorf("%s pushed %s, not the runner's commit %s: the push request was changed", polecat.GitPushContainer, res.Commit, commit))
	}
	return nil
}

// Push is the git-push container's step: it waits for the agent
// container's runner to ask for a push, sets the work branch to the commit
// asked for, pushes it to the configured remote (never one the workspace's
// git config names: the agent could have changed that) and answers. Then
// it waits to be stopped, as a sidecar that exits would be restarted. It
// returns nil when stopped, pushed or not: the agent container's runner
// reports the outcome.
func (r *Runner) Push(ctx context.Context) error {
	h := r.Config.Push
	if h == nil {
		return errors.New("runner config: push is empty")
	}
	var req polecat.PushRequest
	err := waitJSON(ctx, h.RequestFile, &req)
	if ctx.Err() != nil {
		return nil // the agent container ended without a push
	}
	if _, statErr := os.Stat(h.ResultFile); statErr == nil {
		r.logf("the push request is answered already (a restart); waiting to be stopped")
	} else {
		if err == nil {
			err = r.pushCommit(ctx, req.Commit)
		}
		if err := r.answer(req.Commit, err); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

func (r *Runner) pushCommit(ctx context.Context, commit string) error {
	auth, err := r.auth()
	if err != nil {
		return err
	}
	repo, err := gitops.OpenRemote(r.Config.RepoDir, r.Config.Git.URL, auth)
	if err != nil {
		return configError(err)
	}
	if err := repo.SetBranch(r.Config.Git.WorkBranch, commit); err != nil {
		return gitFailed(err)
	}
	if err := r.push(ctx, repo); err != nil {
		return err
	}
	r.logf("pushed %s (%s) to %s", r.Config.Git.WorkBranch, commit, gitops.RedactURL(r.Config.Git.URL))
	return nil
}

// answer writes the push's result for the agent container's runner.
func (r *Runner) answer(commit string, pushErr error) error {
	res := polecat.PushResult{Commit: commit}
	if pushErr != nil {
		r.logf("push failed: %v", pushErr)
		res = polecat.PushResult{Error: r.scrub(pushErr.Error())}
	}
	if err := writeJSON(r.Config.Push.ResultFile, res); err != nil {
		return fmt.Errorf("answering the push request: %w", err)
	}
	return nil
}

// writeJSON writes v to path whole or not at all: the reader polls for it.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readJSON decodes the file path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// waitJSON waits until path exists and decodes it into v.
func waitJSON(ctx context.Context, path string, v any) error {
	tick := time.NewTicker(handoffPoll)
	defer tick.Stop()
	for {
		if err := readJSON(path, v); !errors.Is(err, os.ErrNotExist) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
