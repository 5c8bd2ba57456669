package devenv

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// refineryPollInterval is short so that reviews and merges in the emulator
// show in seconds.
const refineryPollInterval = 2 * time.Second

// createObjects creates the objects that wire the parts, in dependency
// order: the Refinery before the Rig, so that the rig keeps it instead of
// creating a default one without the emulator's URL. Namespaces and secrets
// that exist already (made by Options.InstallOperator, as the README says)
// are kept.
func (e *Env) createObjects(ctx context.Context) error {
	keep := []client.Object{
		namespace(FluxNamespace),
		namespace(WorkersNamespace),
		secret(GitHubTokenSecret, map[string]string{GitHubTokenKey: e.Token}),
	}
	if e.opts.Agent != AgentScripted {
		keep = append(keep, secret(e.opts.APIKeySecret, map[string]string{AnthropicKeyKey: e.AnthropicAPIKey}))
	}
	if e.opts.GitSSH {
		keep = append(keep, secret(GitCredentialsSecret, map[string]string{
			"ssh-privatekey": string(e.SSHKey),
			"known_hosts":    e.SSHKnownHosts,
		}))
	}
	for _, obj := range keep {
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	for _, obj := range []client.Object{e.gitRepository(), e.refinery(), e.witness(), e.rig()} {
		if err := e.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	return nil
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func secret(name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: WorkersNamespace},
		StringData: data,
	}
}

func (e *Env) gitRepository() *sourcev1.GitRepository {
	return &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: FluxNamespace},
		Spec: sourcev1.GitRepositorySpec{
			URL:       e.CloneURL,
			Interval:  metav1.Duration{Duration: e.opts.SourceInterval},
			Reference: &sourcev1.GitRepositoryRef{Branch: githubemu.DefaultBranch},
		},
	}
}

func (e *Env) refinery() *gastownv1.Refinery {
	r := &gastownv1.Refinery{
		ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: WorkersNamespace},
		Spec: gastownv1.RefinerySpec{
			RigRef:   e.Name,
			Provider: gastownv1.ProviderGitHub,
			GitHub: &gastownv1.GitHubSpec{
				BaseURL:        e.GitHub.URL(),
				Owner:          e.Owner,
				Repo:           e.Repo,
				TokenSecretRef: &meta.SecretKeyReference{Name: GitHubTokenSecret, Key: GitHubTokenKey},
			},
			PollInterval: &metav1.Duration{Duration: refineryPollInterval},
		},
	}
	if e.opts.Refinery != nil {
		e.opts.Refinery(r)
	}
	return r
}

// witnessInterval is short so that stuck and failing pods are found in
// seconds.
const witnessInterval = 2 * time.Second

func (e *Env) witness() *gastownv1.Witness {
	w := &gastownv1.Witness{
		ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: WorkersNamespace},
		Spec: gastownv1.WitnessSpec{
			RigRef:              e.Name,
			HealthCheckInterval: &metav1.Duration{Duration: witnessInterval},
		},
	}
	if e.opts.Witness != nil {
		e.opts.Witness(w)
	}
	return w
}

func (e *Env) rig() *gastownv1.Rig {
	r := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: e.Name},
		Spec: gastownv1.RigSpec{
			SourceRef: &gastownv1.SourceReference{
				Kind: sourcev1.GitRepositoryKind, Name: e.Name, Namespace: FluxNamespace,
			},
			GitURL:           e.CloneURL,
			WorkersNamespace: WorkersNamespace,
			Settings:         gastownv1.RigSettings{ExecutionMode: gastownv1.ExecutionModeLocal},
		},
	}
	if e.opts.GitSSH {
		r.Spec.GitURL = e.SSHCloneURL
		r.Spec.Kubernetes.GitSecretRef = &meta.LocalObjectReference{Name: GitCredentialsSecret}
	}
	if e.opts.Pods {
		r.Spec.Settings.ExecutionMode = gastownv1.ExecutionModeKubernetes
		// The env's servers listen on loopback: the pods share the node's
		// network to reach them. Only this test environment does that.
		r.Spec.Kubernetes.PodTemplate = &gastownv1.PolecatPodTemplate{HostNetwork: true}
	}
	e.setAgent(&r.Spec)
	if e.opts.Rig != nil {
		e.opts.Rig(r)
	}
	return r
}

// setAgent makes the rig's polecats run the scripted agent, or an agent CLI
// against the env's Anthropic endpoint with the key in AnthropicKeySecret.
// Pods run the agent image's CLI and the scripted agent's image; local
// polecats run the binaries on this machine.
func (e *Env) setAgent(spec *gastownv1.RigSpec) {
	if e.opts.Agent == AgentScripted {
		command := e.AgentPath
		if e.opts.Pods {
			command = ScriptedAgentPath
		}
		spec.Agent = gastownv1.AgentCustom
		spec.AgentConfig = &gastownv1.AgentConfig{Image: ScriptedAgentImage, Command: []string{command}}
		return
	}
	spec.Agent = gastownv1.AgentType(e.opts.Agent)
	cfg := &gastownv1.AgentConfig{
		Model:         e.opts.Model,
		ModelProvider: &gastownv1.ModelProvider{Endpoint: e.AnthropicURL},
	}
	if e.opts.Agent == AgentOpenCode {
		// opencode speaks to Anthropic through its anthropic provider, and
		// needs a model of its built-in list.
		cfg.Provider = "anthropic"
		if cfg.Model == "" {
			cfg.Model = DefaultOpenCodeModel
		}
	}
	if !e.opts.Pods {
		cfg.Command = e.opts.AgentCommand
		if os.Geteuid() == 0 {
			// claude refuses to skip its permission prompts as root outside
			// a sandbox it is told about; a pod runs it as a plain user.
			cfg.Env = append(cfg.Env, corev1.EnvVar{Name: "IS_SANDBOX", Value: "1"})
		}
	}
	spec.AgentConfig = cfg
	spec.Kubernetes.APIKeySecretRef = &meta.SecretKeyReference{Name: e.opts.APIKeySecret, Key: AnthropicKeyKey}
}
