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
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/operator"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/anthropicemu"
	"github.com/boshu2/gastown-operator/test/githubemu"
	"github.com/boshu2/gastown-operator/test/images"
	"github.com/boshu2/gastown-operator/test/node"
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
	// GitCredentialsSecret holds the rig's SSH key and the git server's host
	// key when Options.GitSSH, under the keys the README's secrets section
	// and the runner use.
	GitCredentialsSecret = "git-credentials"
)

// Defaults of Options.
const (
	// DefaultOpenCodeModel is opencode's model when Options.Model is empty.
	DefaultOpenCodeModel  = "claude-sonnet-4-5"
	DefaultName           = "demo"
	DefaultOwner          = "gastown"
	DefaultSourceInterval = 10 * time.Second
)

// Agents Options.Agent can name.
const (
	// AgentScripted runs test/devenv/scriptedagent: deterministic, offline.
	AgentScripted = "scripted"
	// AgentClaudeCode runs the real claude CLI (the version pinned in
	// images/versions.env) against the Anthropic API emulator, or against
	// Options.AnthropicURL.
	AgentClaudeCode = "claude-code"
	// AgentOpenCode runs the real opencode CLI the same way.
	AgentOpenCode = "opencode"
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

	// Agent is AgentScripted (the default), AgentClaudeCode or
	// AgentOpenCode.
	Agent string
	// AgentCommand is the agent CLI's argv for local polecats; the pinned
	// CLI that hack/agent-clis.sh installs when empty. Pods run the CLI of
	// the agent's image.
	AgentCommand []string
	// AnthropicURL is the Messages API the agent calls. Empty starts the
	// project's emulator (test/anthropicemu), which the env's Anthropic is.
	AnthropicURL string
	// AnthropicAPIKey is the key the agent sends; with AnthropicURL it is
	// required ($ANTHROPIC_API_KEY when empty), with the emulator a random
	// one it requires.
	AnthropicAPIKey string
	// Model for the agent; the CLI's default when empty.
	Model string

	// APIKeySecret names the secret, in WorkersNamespace, holding the agent's
	// key under AnthropicKeyKey; AnthropicKeySecret when empty.
	APIKeySecret string
	// GitSSH serves the repository over SSH too, to a key the env makes, and
	// gives the rig that URL with GitCredentialsSecret, as the README's rig
	// does. The GitRepository still fetches over HTTP.
	GitSSH bool

	// Pods runs polecats as pods on a real node (containerd and kubelet,
	// with kube-scheduler and kube-controller-manager; test/node) with the
	// project's images built locally (test/images), instead of as local
	// processes. It needs root. The rig's pods use host networking, as the
	// env's servers listen on loopback.
	Pods bool

	// Registries are OCI registries on loopback the node pulls from over
	// plain HTTP (test/registry), besides the images it imports.
	Registries []string

	// InstallOperator, when set, installs the operator instead of running it
	// in this process: it is called once the node, git server and
	// source-controller run and before the env's objects are created, with
	// a control plane that has only Flux's CRDs (the operator's install
	// brings its own) and the ServiceAccount admission plugin on. Objects it
	// makes that the env would make too (the namespaces, the secrets) are
	// kept. test/install/incluster installs the chart with it.
	InstallOperator func(ctx context.Context, e *Env) error

	// ManagerProcess runs the operator as its own process, cmd/manager
	// built into BinDir, with the env's kubeconfig, once the env's objects
	// exist, instead of in this process: for figures of the manager alone,
	// such as its peak memory (Env.OperatorStatus). The control plane is
	// the in-process operator's (the project's CRDs, no ServiceAccount
	// admission), and pods need no node: without Pods, polecats of a rig
	// in executionMode kubernetes make pods that stay Pending. Operator,
	// OperatorConfig and OperatorLog configure the in-process operator and
	// are refused with it; ManagerArgs are flags added after the env's own
	// (a later flag wins), e.g. "--concurrent=8".
	ManagerProcess bool
	ManagerArgs    []string
	// ManagerBinary, with ManagerProcess, is a manager binary to run
	// instead of building cmd/manager: one build for several envs, or
	// another version's manager against this tree's CRDs.
	ManagerBinary string

	// SourceInterval of the GitRepository; DefaultSourceInterval when zero.
	SourceInterval time.Duration

	// Rig, Refinery and Witness, when set, may change the objects before
	// they are created (for example the refinery's requiredApprovals).
	Rig      func(*gastownv1.Rig)
	Refinery func(*gastownv1.Refinery)
	Witness  func(*gastownv1.Witness)

	// Operator, when set, may change the in-process operator's options
	// (for example to watch only some namespaces).
	Operator func(*operator.Options)
	// OperatorConfig, when set, returns the in-process operator's API
	// server configuration, called once the env's objects exist; the env's
	// admin Config when nil. RBAC tests return one that impersonates the
	// chart's service account, after applying the chart's RBAC.
	OperatorConfig func(context.Context, *Env) (*rest.Config, error)

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
	// With Options.GitSSH, SSHCloneURL is the repository over SSH, SSHKey
	// the private key (OpenSSH PEM) it accepts and SSHKnownHosts the
	// server's host key as a known_hosts line.
	SSHCloneURL, SSHKnownHosts string
	SSHKey                     []byte

	// ManagerPath is cmd/manager's binary, with Options.ManagerProcess.
	ManagerPath string
	// RunnerPath and AgentPath are the binaries the operator runs locally;
	// AgentPath is empty unless the agent is AgentScripted or polecats run
	// as pods. KubectlGTPath is the kubectl plugin, for Kubectl("gt", ...).
	RunnerPath, AgentPath, KubectlGTPath string
	// Anthropic is the Messages API emulator the agents call; nil for the
	// scripted agent or when Options.AnthropicURL is set. AnthropicURL is
	// the endpoint the agents call.
	Anthropic    *anthropicemu.Server
	AnthropicURL string
	// AnthropicAPIKey is the key the agents send and the emulator requires.
	AnthropicAPIKey string
	// Node runs the polecat pods when Options.Pods; Images are the images
	// imported into it.
	Node   *node.Node
	Images images.Set

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
	manager   *process
	endpoints Endpoints
	// imageTarballs are imported into the node before its kubelet starts.
	imageTarballs []string
	stopOnce      sync.Once
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
	started := false
	defer func() {
		// Also when a hook (InstallOperator) ends its test with t.Fatal,
		// which returns through here without an error.
		if !started {
			// An error names log files in Dir: keep them to be read.
			e.ownDir = false
			if err == nil {
				err = errors.New("a hook ended the start")
			}
			e.logf("devenv: start failed, stopping what started: %v", err)
			e.Stop()
		}
	}()
	if err = e.start(ctx); err != nil {
		return nil, err
	}
	started = true
	e.logf("devenv: ready in %s\n%s", e.Dir, e.endpoints)
	return e, nil
}

func newEnv(opts Options) (*Env, error) {
	opts.Name = orDefault(opts.Name, DefaultName)
	opts.Owner = orDefault(opts.Owner, DefaultOwner)
	opts.Agent = orDefault(opts.Agent, AgentScripted)
	opts.APIKeySecret = orDefault(opts.APIKeySecret, AnthropicKeySecret)
	if opts.SourceInterval <= 0 {
		opts.SourceInterval = DefaultSourceInterval
	}
	if opts.Token == "" {
		opts.Token = "devenv-" + randomHex(16)
	}
	switch opts.Agent {
	case AgentScripted, AgentClaudeCode, AgentOpenCode:
	default:
		return nil, fmt.Errorf("devenv: unknown agent %q: use %q, %q or %q", opts.Agent, AgentScripted, AgentClaudeCode, AgentOpenCode)
	}
	if opts.Agent != AgentScripted {
		if err := checkAnthropic(&opts); err != nil {
			return nil, err
		}
	}
	if opts.Pods && os.Geteuid() != 0 {
		return nil, errors.New("devenv: polecats as pods need a kubelet, which needs root: run as root, or without Pods (local polecats)")
	}
	if err := checkManagerProcess(opts); err != nil {
		return nil, err
	}
	if opts.InstallOperator != nil && !opts.Pods {
		return nil, errors.New("devenv: an installed operator runs as a pod: set Pods with InstallOperator")
	}
	e := &Env{opts: opts, Name: opts.Name, Owner: opts.Owner, Repo: opts.Name, Token: opts.Token,
		AnthropicAPIKey: opts.AnthropicAPIKey}
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
	// Building the binaries and images overlaps with the control plane's
	// start, which mostly waits for etcd and kube-apiserver.
	built := make(chan error, 1)
	go func() {
		err := e.buildBinaries(ctx)
		if err == nil && e.opts.Pods {
			err = e.buildImages(ctx)
		}
		built <- err
	}()
	waitBuilt := sync.OnceValue(func() error { return <-built })

	type step struct {
		name string
		run  func(context.Context) error
	}
	steps := []step{
		{"control plane", e.startControlPlane},
		{"binaries", func(context.Context) error { return waitBuilt() }},
	}
	if e.opts.Pods {
		steps = append(steps, step{"node", e.startNode})
	}
	if e.opts.Agent != AgentScripted {
		steps = append(steps, step{"Anthropic API", e.startAnthropic})
	}
	steps = append(steps,
		step{"git server and GitHub emulator", e.startGit},
		step{"source-controller", e.startSourceController},
	)
	if e.opts.InstallOperator != nil {
		steps = append(steps,
			step{"operator install", func(ctx context.Context) error { return e.opts.InstallOperator(ctx, e) }},
			step{"objects", e.createObjects})
	} else if e.opts.ManagerProcess {
		steps = append(steps, step{"objects", e.createObjects}, step{"manager process", e.startManagerProcess})
	} else {
		steps = append(steps, step{"objects", e.createObjects}, step{"operator", e.startOperator})
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
	installed := e.opts.InstallOperator != nil
	cp, err := testenv.StartWith(testenv.Options{WithoutProjectCRDs: installed, ServiceAccounts: installed})
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
	if e.opts.GitSSH {
		key, authorized, err := newSSHKey()
		if err != nil {
			return err
		}
		srv, err := git.StartSSH(authorized)
		if err != nil {
			return err
		}
		e.SSHKey, e.SSHCloneURL, e.SSHKnownHosts = key, srv.CloneURL, srv.KnownHosts
	}
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
		}
		// After StopOperator too: a runner still stopping when the
		// manager's graceful shutdown ended.
		errs = append(errs, killStrayRunners(e.RunnerPath))
		if e.manager != nil {
			errs = append(errs, e.manager.stop())
		}
		if e.Node != nil {
			// Before the control plane: the kubelet stops its pods' containers
			// and the cleanup needs no API server.
			errs = append(errs, e.Node.Stop())
		}
		if e.Anthropic != nil {
			e.Anthropic.Close()
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

// Kubectl runs kubectl against the env's API server, as a user would, with
// the kubectl gt plugin on its PATH, and returns its standard output.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		return "", err
	}
	// KUBECONFIG rather than --kubeconfig: kubectl passes no flags placed
	// before a plugin's name.
	cmd := exec.CommandContext(ctx, filepath.Join(assets, "kubectl"), args...)
	cmd.Env = append(environWithout("KUBECONFIG", "PATH"),
		"KUBECONFIG="+e.Kubeconfig, "PATH="+filepath.Dir(e.KubectlGTPath)+":"+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Endpoints says where each part listens.
func (e *Env) Endpoints() Endpoints { return e.endpoints }

// Endpoints are the addresses of an Env's parts, all on loopback.
type Endpoints struct {
	APIServer string
	// Kubelet is the node's kubelet, when polecats run as pods.
	Kubelet string
	// AnthropicAPI is the Messages API emulator, when an agent CLI runs.
	AnthropicAPI string
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
	// url is addr's URL, empty when the part does not run here.
	url := func(addr, path string) string {
		if addr == "" {
			return ""
		}
		return "http://" + addr + path
	}
	lines := [][2]string{
		{"kube-apiserver", p.APIServer},
		{"kubelet", p.Kubelet},
		{"git server", p.GitServer},
		{"GitHub API emulator", p.GitHubAPI},
		{"Anthropic API emulator", p.AnthropicAPI},
		{"source-controller storage", url(p.SourceStorage, "")},
		{"source-controller health", url(p.SourceHealth, "/readyz")},
		{"source-controller metrics", url(p.SourceMetrics, "/metrics")},
		{"operator health", url(p.OperatorHealth, "/readyz")},
		{"operator metrics", url(p.OperatorMetrics, "/metrics")},
	}
	var b strings.Builder
	for _, l := range lines {
		if l[1] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  %-26s %s", l[0], l[1])
	}
	return b.String()
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
