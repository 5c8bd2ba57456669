package polecat

import (
	"encoding/json"
	"fmt"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// The runner's configuration contract.
//
// The runner (gastown-polecat) reads everything from one environment
// variable, ConfigEnv, holding the JSON of RunnerConfig. It holds no secret:
//   - git credentials are files: the git secret mounted at Git.SecretDir
//     into git-init and git-push only, read by the runner alone and never
//     put in the environment. In a pod the agent's container has no git
//     credentials: its runner hands the push to git-push (Push);
//   - agent keys are the agent container's own env (secretKeyRefs), which
//     the runner passes to the agent and never prints;
//   - agent credential and configuration files are copied from read-only
//     mounts (Agent.Files).
//
// Where the result goes is the only other setting: --termination-log, or
// TerminationLogEnv, default /dev/termination-log.
const (
	ConfigEnv         = "GASTOWN_POLECAT_CONFIG"
	TerminationLogEnv = "GASTOWN_TERMINATION_LOG"
)

// RunnerConfig is the runner's configuration, the JSON in ConfigEnv.
type RunnerConfig struct {
	Polecat string                   `json:"polecat"`
	Purpose gastownv1.PolecatPurpose `json:"purpose"`
	BeadID  string                   `json:"beadID,omitempty"`
	// BeadFile is the bead's file, relative to the repository root; the
	// runner closes the bead there. Empty: no bead file to close.
	BeadFile string    `json:"beadFile,omitempty"`
	Git      GitConfig `json:"git"`
	// Task is what the prompt is built from (BuildPrompt); the runner adds
	// the previous diff for ConflictFix.
	Task          Task         `json:"task"`
	CommitMessage string       `json:"commitMessage"`
	Agent         AgentCommand `json:"agent"`
	// RepoDir is where the repository is cloned and the agent works.
	RepoDir string `json:"repoDir"`
	// TaskFile is where the runner writes the prompt.
	TaskFile string `json:"taskFile"`
	// Push, when set, hands the push to another container: the run step
	// commits, writes a PushRequest to Push.RequestFile and waits for the
	// PushResult in Push.ResultFile, which only the pushing container can
	// write. Unset, the run step pushes itself (executionMode local).
	Push *PushHandoff `json:"push,omitempty"`
}

// PushHandoff are the files through which the agent container's runner
// and the git-push container's agree on a push.
type PushHandoff struct {
	RequestFile string `json:"requestFile"`
	ResultFile  string `json:"resultFile"`
	// LeaseFile is where git-init records the work branch's commit it saw
	// (a PushLease), which a push that replaces the branch leases on. It
	// is beside ResultFile, where the agent container cannot write: the
	// clone's own record of the remote branch is the agent's to change.
	LeaseFile string `json:"leaseFile"`
}

// PushLease is the work branch's commit git-init saw; empty when the
// branch was not there.
type PushLease struct {
	Commit string `json:"commit"`
}

// PushRequest asks git-push to push Commit as the work branch.
type PushRequest struct {
	Commit string `json:"commit"`
}

// PushResult is git-push's answer: the commit it pushed, or why it could
// not.
type PushResult struct {
	Commit string `json:"commit,omitempty"`
	Error  string `json:"error,omitempty"`
}

// GitConfig is the git part of RunnerConfig.
type GitConfig struct {
	URL        string `json:"url"`
	BaseBranch string `json:"baseBranch"`
	WorkBranch string `json:"workBranch"`
	// SecretDir holds the git secret's keys as files (ssh-privatekey,
	// known_hosts, username, password, token); empty for anonymous access.
	SecretDir   string `json:"secretDir,omitempty"`
	AuthorName  string `json:"authorName"`
	AuthorEmail string `json:"authorEmail"`
}

// Paths are where a runner keeps its work.
type Paths struct {
	RepoDir      string
	TaskFile     string
	GitSecretDir string
	// Push, when set, is the push handoff of RunnerConfig.Push.
	Push *PushHandoff
}

// NewRunnerConfig is the runner configuration for resolved settings, an
// agent from BuildAgent, and the paths the runner works in.
func NewRunnerConfig(s Settings, a Agent, p Paths) RunnerConfig {
	c := RunnerConfig{
		Polecat:       s.Polecat,
		Purpose:       s.Purpose,
		BeadID:        s.BeadID,
		BeadFile:      s.BeadFile,
		Task:          s.Task,
		CommitMessage: s.CommitMessage,
		Agent:         a.Command,
		RepoDir:       p.RepoDir,
		TaskFile:      p.TaskFile,
		Push:          p.Push,
		Git: GitConfig{
			URL:         s.GitURL,
			BaseBranch:  s.BaseBranch,
			WorkBranch:  s.WorkBranch,
			AuthorName:  s.AuthorName,
			AuthorEmail: s.AuthorEmail,
		},
	}
	if s.GitSecret != "" {
		c.Git.SecretDir = p.GitSecretDir
	}
	return c
}

// Encode is the value of ConfigEnv.
func (c RunnerConfig) Encode() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode runner config: %w", err)
	}
	return string(b), nil
}

// DecodeRunnerConfig reads the value of ConfigEnv and checks it.
func DecodeRunnerConfig(value string) (RunnerConfig, error) {
	var c RunnerConfig
	if value == "" {
		return c, fmt.Errorf("%s is not set", ConfigEnv)
	}
	if err := json.Unmarshal([]byte(value), &c); err != nil {
		return c, fmt.Errorf("parse %s: %w", ConfigEnv, err)
	}
	return c, c.Validate()
}

// Validate checks that the runner has what it needs.
func (c RunnerConfig) Validate() error {
	missing := func(field string) error { return fmt.Errorf("runner config: %s is empty", field) }
	switch {
	case c.Git.URL == "":
		return missing("git.url")
	case c.Git.BaseBranch == "":
		return missing("git.baseBranch")
	case c.Git.WorkBranch == "":
		return missing("git.workBranch")
	case c.RepoDir == "":
		return missing("repoDir")
	case c.TaskFile == "":
		return missing("taskFile")
	case len(c.Agent.Args) == 0:
		return missing("agent.args")
	case c.CommitMessage == "":
		return missing("commitMessage")
	}
	switch c.Purpose {
	case gastownv1.PurposeWork, gastownv1.PurposeRevision, gastownv1.PurposeConflictFix:
		return nil
	default:
		return fmt.Errorf("runner config: unknown purpose %q", c.Purpose)
	}
}
