package devenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// Namespaces and names of the objects Start creates.
const (
	// FluxNamespace holds the GitRepository, as in a Flux installation.
	FluxNamespace = "flux-system"
	// WorkersNamespace holds the rig's secrets, beads and polecats.
	WorkersNamespace = gastownv1.DefaultWorkersNamespace
	// GitHubTokenSecret holds the emulator's token under key GitHubTokenKey.
	GitHubTokenSecret = "github-token"
	GitHubTokenKey    = gastownv1.DefaultTokenSecretKey
	// AnthropicKeySecret holds the API key of the claude-code agent.
	AnthropicKeySecret = "anthropic-api-key"
	AnthropicKeyKey    = "api-key"
)

// Defaults of Options.
const (
	DefaultName           = "demo"
	DefaultOwner          = "gastown"
	DefaultSourceInterval = 10 * time.Second
)

// Agents Options.Agent can name.
const (
	// AgentScripted runs test/devenv/scriptedagent: deterministic, offline.
	AgentScripted = "scripted"
	// AgentClaudeCode runs the claude CLI found on PATH with an Anthropic
	// API key.
	AgentClaudeCode = "claude-code"
)

// Options configure an Env. The zero value is a complete environment with the
// example beads and the scripted agent.
type Options struct {
	// Dir holds the env's files: kubeconfig, logs, artifacts, polecat work
	// directories. When empty, a new temporary directory, removed by Stop
	// unless KeepDir.
	Dir     string
	KeepDir bool

	// Name of the rig, its GitRepository and the sample repository;
	// DefaultName when empty. Owner of the repository; DefaultOwner when empty.
	Name  string
	Owner string
	// Token the GitHub emulator requires; a random one when empty.
	Token string

	// Beads are the files under .gastown/ in the sample repository, by name
	// (e.g. "health.yaml"). Nil means the project's examples/*.yaml; an empty
	// map means none.
	Beads map[string]string

	// Agent is AgentScripted (the default) or AgentClaudeCode.
	Agent string
	// ClaudeCommand is the claude CLI's argv for AgentClaudeCode; "claude"
	// on PATH when empty.
	ClaudeCommand []string
	// AnthropicAPIKey for AgentClaudeCode; $ANTHROPIC_API_KEY when empty.
	AnthropicAPIKey string
	// Model for AgentClaudeCode; the CLI's default when empty.
	Model string

	// SourceInterval of the GitRepository; DefaultSourceInterval when zero.
	SourceInterval time.Duration

	// Rig and Refinery, when set, may change the objects before they are
	// created (for example the refinery's requiredApprovals).
	Rig      func(*gastownv1.Rig)
	Refinery func(*gastownv1.Refinery)

	// OperatorLog receives the operator's logs; a file operator.log in Dir
	// when nil.
	OperatorLog io.Writer
	// BinDir is where the runner and the scripted agent are built;
	// ~/.cache/gastown-operator/bin when empty.
	BinDir string
	// Logf receives a line per step of Start and Stop, with the paths of the
	// log files; standard error when nil. Tests pass t.Logf.
	Logf func(format string, args ...any)
}

// Env is a running development environment. Its fields are read-only.
type Env struct {
	// Client talks to the API server as cluster admin; Config is its
	// configuration and Kubeconfig a file with the same credentials.
	Client     client.Client
	Config     *rest.Config
	Kubeconfig string
	// Dir holds the env's files.
	Dir string

	// Name of the rig, the GitRepository (in FluxNamespace), the Refinery
	// (in WorkersNamespace) and the repository.
	Name string
	// GitHub is the emulator; Owner/Repo its repository, Token its token.
	GitHub      *githubemu.Server
	Owner, Repo string
	Token       string
	// CloneURL is the repository on the git server, without credentials.
	CloneURL string

	// RunnerPath and AgentPath are the binaries the operator runs locally;
	// AgentPath is empty unless the agent is AgentScripted.
	RunnerPath, AgentPath string
	// SourceControllerLog, OperatorLog and GitServerLog are the log files;
	// OperatorLog is empty when Options.OperatorLog sent the logs elsewhere.
	SourceControllerLog string
	OperatorLog         string
	GitServerLog        string

	opts      Options
	ownDir    bool
	cp        *testenv.Env
	git       *githubemu.Env
	source    *process
	operator  *operatorRun
	endpoints Endpoints
	stopOnce  sync.Once
	// restoreStdLog gives the standard logger its output back.
	restoreStdLog func() error
}

// Start starts every part of the environment and creates the objects that
// wire them, and returns once the API server, source-controller and the
// operator answer their health checks. It does not wait for the
// GitRepository's first artifact. On error, whatever started is stopped and
// Dir is kept, since the error names the log files in it.
func Start(ctx context.Context, opts Options) (*Env, error) {
	e, err := newEnv(opts)
	if err != nil {
		return nil, err
	}
	if err := e.start(ctx); err != nil {
		// The error names log files in Dir: keep them to be read.
		e.ownDir = false
		e.logf("devenv: start failed, stopping what started: %v", err)
		e.Stop()
		return nil, err
	}
	e.logf("devenv: ready in %s\n%s", e.Dir, e.endpoints)
	return e, nil
}

func newEnv(opts Options) (*Env, error) {
	opts.Name = orDefault(opts.Name, DefaultName)
	opts.Owner = orDefault(opts.Owner, DefaultOwner)
	opts.Agent = orDefault(opts.Agent, AgentScripted)
	if opts.SourceInterval <= 0 {
		opts.SourceInterval = DefaultSourceInterval
	}
	if opts.Token == "" {
		opts.Token = "devenv-" + randomHex(16)
	}
	switch opts.Agent {
	case AgentScripted:
	case AgentClaudeCode:
		if err := checkClaude(&opts); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("devenv: unknown agent %q: use %q or %q", opts.Agent, AgentScripted, AgentClaudeCode)
	}
	e := &Env{opts: opts, Name: opts.Name, Owner: opts.Owner, Repo: opts.Name, Token: opts.Token}
	e.Dir = opts.Dir
	if e.Dir == "" {
		dir, err := os.MkdirTemp("", "gastown-devenv-")
		if err != nil {
			return nil, fmt.Errorf("devenv: creating its directory: %w", err)
		}
		e.Dir, e.ownDir = dir, !opts.KeepDir
	} else if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("devenv: creating its directory: %w", err)
	}
	return e, nil
}

// start runs the steps in order; each records what it started for Stop.
func (e *Env) start(ctx context.Context) error {
	// Building the binaries overlaps with the control plane's start, which
	// mostly waits for etcd and kube-apiserver.
	built := make(chan error, 1)
	go func() { built <- e.buildBinaries(ctx) }()
	waitBuilt := sync.OnceValue(func() error { return <-built })

	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"control plane", e.startControlPlane},
		{"binaries", func(context.Context) error { return waitBuilt() }},
		{"git server and GitHub emulator", e.startGit},
		{"source-controller", e.startSourceController},
		{"objects", e.createObjects},
		{"operator", e.startOperator},
	}
	for _, s := range steps {
		began := time.Now()
		if err := s.run(ctx); err != nil {
			_ = waitBuilt() // never leave a go build running behind a failed start
			return fmt.Errorf("devenv: %s: %w", s.name, err)
		}
		e.logf("devenv: %s ready (%s)", s.name, time.Since(began).Round(time.Millisecond))
	}
	return nil
}

func (e *Env) startControlPlane(context.Context) error {
	cp, err := testenv.Start()
	if err != nil {
		return err
	}
	e.cp, e.Client, e.Config = cp, cp.Client, cp.Config
	e.endpoints.APIServer = cp.Config.Host
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := cp.Kubeconfig(e.Kubeconfig); err != nil {
		return fmt.Errorf("writing %s: %w", e.Kubeconfig, err)
	}
	return nil
}

func (e *Env) startGit(context.Context) error {
	files, err := sampleRepository(e.Repo, e.opts.Beads)
	if err != nil {
		return err
	}
	if err := e.redirectStdLog(); err != nil {
		return err
	}
	git, err := githubemu.StartWithRepo(e.Owner, e.Repo, e.Token, files)
	if err != nil {
		return err
	}
	e.git, e.GitHub, e.CloneURL = git, git.API, git.CloneURL
	e.endpoints.GitServer = git.Git.HTTPAddress()
	e.endpoints.GitHubAPI = git.API.URL()
	return nil
}

// redirectStdLog sends the standard logger to GitServerLog while the env
// runs: the git server (gitkit, under gittestserver) logs every request
// with it, which would flood a test's or the demo's output.
func (e *Env) redirectStdLog() error {
	e.GitServerLog = filepath.Join(e.Dir, "git-server.log")
	f, err := os.OpenFile(e.GitServerLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	prev := log.Writer()
	log.SetOutput(f)
	e.restoreStdLog = func() error {
		log.SetOutput(prev)
		return f.Close()
	}
	return nil
}

// Stop stops everything Start started, in reverse order, and removes the
// env's directory unless it was given or KeepDir is set. It is safe to call
// more than once; problems are logged, as a test's cleanup cannot act on
// them.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		var errs []error
		if e.operator != nil {
			errs = append(errs, e.operator.stop())
			// The operator leaves local polecats running when it stops.
			errs = append(errs, killStrayRunners(e.RunnerPath))
		}
		if e.source != nil {
			errs = append(errs, e.source.stop())
		}
		if e.git != nil {
			e.git.Close()
		}
		if e.restoreStdLog != nil {
			errs = append(errs, e.restoreStdLog())
		}
		if e.cp != nil {
			errs = append(errs, e.cp.Stop())
		}
		if e.ownDir {
			errs = append(errs, os.RemoveAll(e.Dir))
		} else {
			e.logf("devenv: kept %s", e.Dir)
		}
		if err := errors.Join(errs...); err != nil {
			e.logf("devenv: stopping: %v", err)
		}
	})
}

// Endpoints says where each part listens.
func (e *Env) Endpoints() Endpoints { return e.endpoints }

// Endpoints are the addresses of an Env's parts, all on loopback.
type Endpoints struct {
	APIServer string
	// GitServer serves the repositories at GitServer/<owner>/<repo>.git.
	GitServer string
	GitHubAPI string
	// SourceStorage serves source-controller's artifacts.
	SourceStorage   string
	SourceHealth    string
	SourceMetrics   string
	OperatorHealth  string
	OperatorMetrics string
}

// String lists the endpoints one per line, for printing.
func (p Endpoints) String() string {
	return fmt.Sprintf(""+
		"  kube-apiserver             %s\n"+
		"  git server                 %s\n"+
		"  GitHub API emulator        %s\n"+
		"  source-controller storage  http://%s\n"+
		"  source-controller health   http://%s/readyz\n"+
		"  source-controller metrics  http://%s/metrics\n"+
		"  operator health            http://%s/readyz\n"+
		"  operator metrics           http://%s/metrics",
		p.APIServer, p.GitServer, p.GitHubAPI, p.SourceStorage, p.SourceHealth, p.SourceMetrics,
		p.OperatorHealth, p.OperatorMetrics)
}

func (e *Env) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
