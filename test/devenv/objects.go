package devenv

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// scriptedAgentImage is never pulled: local polecats run AgentPath. The
// operator still requires an image for agent custom in every mode.
const scriptedAgentImage = "gastown-scripted-agent:local"

// refineryPollInterval is short so that reviews and merges in the emulator
// show in seconds.
const refineryPollInterval = 2 * time.Second

// createObjects creates the objects that wire the parts, in dependency
// order: the Refinery before the Rig, so that the rig keeps it instead of
// creating a default one without the emulator's URL.
func (e *Env) createObjects(ctx context.Context) error {
	objs := []client.Object{
		namespace(FluxNamespace),
		namespace(WorkersNamespace),
		e.gitRepository(),
		secret(GitHubTokenSecret, map[string]string{GitHubTokenKey: e.Token}),
	}
	if e.opts.Agent == AgentClaudeCode {
		objs = append(objs, secret(AnthropicKeySecret, map[string]string{AnthropicKeyKey: e.opts.AnthropicAPIKey}))
	}
	objs = append(objs, e.refinery(), e.rig())
	for _, obj := range objs {
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
	e.setAgent(&r.Spec)
	if e.opts.Rig != nil {
		e.opts.Rig(r)
	}
	return r
}

// setAgent makes the rig's polecats run the scripted agent, or claude-code
// with the key in AnthropicKeySecret.
func (e *Env) setAgent(spec *gastownv1.RigSpec) {
	if e.opts.Agent == AgentClaudeCode {
		spec.Agent = gastownv1.AgentClaudeCode
		spec.AgentConfig = &gastownv1.AgentConfig{Command: e.opts.ClaudeCommand, Model: e.opts.Model}
		spec.Kubernetes.APIKeySecretRef = &meta.SecretKeyReference{Name: AnthropicKeySecret, Key: AnthropicKeyKey}
		return
	}
	spec.Agent = gastownv1.AgentCustom
	spec.AgentConfig = &gastownv1.AgentConfig{Image: scriptedAgentImage, Command: []string{e.AgentPath}}
}
