// Package polecat turns a Polecat (with its Bead and Rig, when they exist)
// into what runs it: the resolved Settings, the task prompt, the agent's
// command line, the Pod, and the configuration of the runner
// (cmd/polecat), whose result comes back through the pod's termination
// message. It reads API objects and builds values; it has no Kubernetes
// client.
package polecat

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/go-git/go-git/v5/plumbing"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/redact"
	"github.com/boshu2/gastown-operator/internal/version"
)

// Built-in defaults, used where Defaults leaves a field empty.
const (
	// DefaultRunnerPath is where the runner image keeps the runner.
	DefaultRunnerPath = "/usr/local/bin/gastown-polecat"
	// DefaultUID is the user, group and fsGroup polecat pods run as: the
	// nonroot user of distroless images.
	DefaultUID          = 65532
	DefaultAuthorName   = "Gas Town Polecat"
	DefaultAuthorEmail  = "polecat@gastown.local"
	DefaultAPIKeySecret = "api-key"
)

// DefaultRunnerImage holds the runner (images/polecat), at the operator's
// version.
var DefaultRunnerImage = version.Image("gastown-polecat")

// defaultAgentImages are the agent images used when neither the polecat,
// its bead, its rig nor Defaults names one: the project's images/<agent>,
// at the operator's version, never a moving tag. Each has the agent's CLI
// on PATH; the runner binary is added to it by an init container.
var defaultAgentImages = map[gastownv1.AgentType]string{
	gastownv1.AgentClaudeCode: version.Image("gastown-agent-claude-code"),
	gastownv1.AgentOpenCode:   version.Image("gastown-agent-opencode"),
	gastownv1.AgentAider:      version.Image("gastown-agent-aider"),
}

// DefaultAgentImage is the built-in image of an agent type; "" for custom.
func DefaultAgentImage(agent gastownv1.AgentType) string { return defaultAgentImages[agent] }

// Defaults are the operator-wide settings below the rig's: the manager
// fills them from its flags. Zero fields take the built-in defaults.
type Defaults struct {
	// RunnerImage holds the runner binary at RunnerPath (the operator's image).
	RunnerImage string
	RunnerPath  string
	// AgentImages by agent type, over the built-in DefaultAgentImage.
	AgentImages map[gastownv1.AgentType]string
	// ImagePullPolicy of every container; empty leaves Kubernetes' default.
	ImagePullPolicy corev1.PullPolicy
	// RunAsUser, RunAsGroup and FSGroup of polecat pods; never 0.
	RunAsUser  int64
	RunAsGroup int64
	FSGroup    int64
	// NoFixedUser leaves the pods' user, group and fsGroup to the platform,
	// as OpenShift's restricted-v2 SCC wants (it assigns them from the
	// namespace's range); elsewhere the images' own user, 65532, runs.
	NoFixedUser bool
	// ActiveDeadlineSeconds of a polecat pod.
	ActiveDeadlineSeconds int64
	// Resources of the agent container.
	Resources *corev1.ResourceRequirements
	// AuthorName and AuthorEmail of polecat commits.
	AuthorName  string
	AuthorEmail string
}

// DefaultResources are the agent container's resources when nothing sets
// them: agents are Node or Python programs that run builds and tests.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("500m"),
			corev1.ResourceMemory: resource.MustParse("1Gi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("4Gi"),
		},
	}
}

// withBuiltins returns d with its empty fields set to the built-in defaults.
func (d Defaults) withBuiltins() Defaults {
	d.RunnerImage = orDefault(d.RunnerImage, DefaultRunnerImage)
	d.RunnerPath = orDefault(d.RunnerPath, DefaultRunnerPath)
	images := make(map[gastownv1.AgentType]string, len(defaultAgentImages))
	for t, img := range defaultAgentImages {
		images[t] = img
	}
	for t, img := range d.AgentImages {
		if img != "" {
			images[t] = img
		}
	}
	d.AgentImages = images
	if d.RunAsUser <= 0 {
		d.RunAsUser = DefaultUID
	}
	if d.RunAsGroup <= 0 {
		d.RunAsGroup = DefaultUID
	}
	if d.FSGroup <= 0 {
		d.FSGroup = DefaultUID
	}
	if d.ActiveDeadlineSeconds <= 0 {
		d.ActiveDeadlineSeconds = gastownv1.DefaultDeadlineSeconds
	}
	if d.Resources == nil {
		r := DefaultResources()
		d.Resources = &r
	}
	d.AuthorName = orDefault(d.AuthorName, DefaultAuthorName)
	d.AuthorEmail = orDefault(d.AuthorEmail, DefaultAuthorEmail)
	return d
}

// Settings are everything a polecat's pod and runner need, resolved field
// by field from the polecat's spec, then its bead, then its rig, then
// Defaults.
type Settings struct {
	// Polecat, Namespace and Rig name the polecat, where it runs, and the
	// rig it works for (which may not exist).
	Polecat   string
	Namespace string
	Rig       string
	// BeadID is the polecat's spec.beadID; empty for a bare task.
	BeadID string
	// BeadFile is the bead's file in the repository (bead.spec.sourcePath),
	// where the runner closes it; empty when there is no Bead object.
	BeadFile string
	Purpose  gastownv1.PolecatPurpose

	Agent gastownv1.AgentType
	// AgentConfig is the merged agent configuration; Image is final.
	AgentConfig gastownv1.AgentConfig
	// APIKeySecret holds the agent's API key; nil when none is set.
	APIKeySecret *meta.SecretKeyReference
	// ClaudeCredentialsSecret holds claude-code OAuth credentials
	// (.credentials.json); empty when none is set.
	ClaudeCredentialsSecret string

	GitURL     string
	BaseBranch string
	WorkBranch string
	// GitSecret names the git credentials; empty for anonymous access.
	GitSecret   string
	AuthorName  string
	AuthorEmail string

	Resources               corev1.ResourceRequirements
	ActiveDeadlineSeconds   int64
	TTLSecondsAfterFinished *int32

	// Task is what the prompt is built from; Prompt is BuildPrompt(Task).
	// The runner adds the previous branch's diff for ConflictFix.
	Task          Task
	Prompt        string
	CommitMessage string

	// PodTemplate is the rig's addition to the pod; nil when it has none.
	PodTemplate *gastownv1.PolecatPodTemplate

	RunnerImage     string
	RunnerPath      string
	ImagePullPolicy corev1.PullPolicy
	// RunAsUser, RunAsGroup and FSGroup are nil when the platform assigns
	// them (Defaults.NoFixedUser).
	RunAsUser  *int64
	RunAsGroup *int64
	FSGroup    *int64
}

// Resolve merges a polecat's settings. bead and rig may be nil: a polecat
// written by hand may name a rig or bead that does not exist, and still
// runs on its own spec and the defaults.
//
// An agent configuration applies only to the agent type it was written
// for: when a bead or polecat switches the agent, the rig's agentConfig
// and images are not inherited.
func Resolve(pc *gastownv1.Polecat, bead *gastownv1.Bead, rig *gastownv1.Rig, d Defaults) (Settings, error) {
	if pc == nil {
		return Settings{}, fmt.Errorf("no polecat to resolve")
	}
	d = d.withBuiltins()
	l := newLayers(pc, bead, rig)

	s := Settings{
		Polecat:                 pc.Name,
		Namespace:               pc.Namespace,
		Rig:                     pc.Spec.Rig,
		BeadID:                  pc.Spec.BeadID,
		Purpose:                 orDefault(pc.Spec.Purpose, gastownv1.PurposeWork),
		Agent:                   l.agent,
		AuthorName:              orDefault(l.rigGit.AuthorName, d.AuthorName),
		AuthorEmail:             orDefault(l.rigGit.AuthorEmail, d.AuthorEmail),
		ActiveDeadlineSeconds:   firstInt64(l.pcK.ActiveDeadlineSeconds, l.rigK.ActiveDeadlineSeconds, &d.ActiveDeadlineSeconds),
		TTLSecondsAfterFinished: firstInt32(pc.Spec.TTLSecondsAfterFinished, l.rigK.TTLSecondsAfterFinished),
		PodTemplate:             l.rigK.PodTemplate,
		RunnerImage:             d.RunnerImage,
		RunnerPath:              d.RunnerPath,
		ImagePullPolicy:         d.ImagePullPolicy,
	}
	if !d.NoFixedUser {
		s.RunAsUser, s.RunAsGroup, s.FSGroup = &d.RunAsUser, &d.RunAsGroup, &d.FSGroup
	}
	if bead != nil {
		s.BeadFile = bead.Spec.SourcePath
		// The bead's own ID (bd's gt-abc.1), not its object's name: it
		// names the branch, the commit, the prompt and the line closed.
		if pc.Spec.BeadID != "" {
			s.BeadID = bead.BeadID()
		}
	}
	s.Resources = *firstResources(pc.Spec.Resources, l.pcK.Resources, l.beadResources, l.rigK.Resources, d.Resources)

	var err error
	if s.AgentConfig, err = l.agentConfig(d); err != nil {
		return Settings{}, err
	}
	s.APIKeySecret = apiKeySecret(l.pcK.APIKeySecretRef, l.rigK.APIKeySecretRef)
	s.ClaudeCredentialsSecret = firstRefName(l.pcK.ClaudeCredsSecretRef, l.rigK.ClaudeCredsSecretRef)
	s.GitSecret = firstRefName(l.pcK.GitSecretRef, l.rigK.GitSecretRef)

	if s.GitURL, err = l.gitURL(); err != nil {
		return Settings{}, err
	}
	s.BaseBranch = firstString(l.pcK.GitBranch, l.rigStatus.BaseBranch, l.rigGit.BaseBranch, gastownv1.DefaultBaseBranch)
	if s.WorkBranch, err = l.workBranch(); err != nil {
		return Settings{}, err
	}

	if s.Task, err = l.task(s); err != nil {
		return Settings{}, err
	}
	s.Prompt = BuildPrompt(s.Task)
	s.CommitMessage = CommitMessage(s.Task, s.Polecat)
	return s, nil
}

// layers are the sources of a polecat's settings, with nil parts replaced
// by empty values so that lookups need no nil checks.
type layers struct {
	pc        *gastownv1.Polecat
	bead      *gastownv1.Bead
	rig       *gastownv1.Rig
	rigName   string
	pcK       gastownv1.PolecatKubernetes
	rigK      gastownv1.RigKubernetes
	rigGit    gastownv1.RigGit
	rigStatus gastownv1.RigStatus
	// agent is the resolved agent type.
	agent gastownv1.AgentType
	// beadAgent, beadResources and rigAgent are the bead's and rig's
	// agent settings, nil when they do not apply to agent.
	beadAgent     *gastownv1.AgentConfig
	beadResources *corev1.ResourceRequirements
	rigAgent      *gastownv1.AgentConfig
	rigImage      string
}

func newLayers(pc *gastownv1.Polecat, bead *gastownv1.Bead, rig *gastownv1.Rig) *layers {
	l := &layers{pc: pc, bead: bead, rig: rig, rigName: pc.Spec.Rig}
	if pc.Spec.Kubernetes != nil {
		l.pcK = *pc.Spec.Kubernetes
	}
	var beadType, rigType gastownv1.AgentType
	if bead != nil {
		l.beadResources = bead.Spec.Resources
		if bead.Spec.Agent != nil {
			beadType = bead.Spec.Agent.Type
		}
	}
	if rig != nil {
		l.rigK = rig.Spec.Kubernetes
		l.rigGit = rig.Spec.Git
		l.rigStatus = rig.Status
		rigType = orDefault(rig.Spec.Agent, gastownv1.AgentClaudeCode)
	}
	l.agent = firstString(pc.Spec.Agent, beadType, rigType, gastownv1.AgentClaudeCode)

	if bead != nil && bead.Spec.Agent != nil && (beadType == "" || beadType == l.agent) {
		l.beadAgent = &bead.Spec.Agent.AgentConfig
	}
	if rig != nil && rigType == l.agent {
		l.rigAgent = rig.Spec.AgentConfig
		l.rigImage = rig.Spec.Kubernetes.Image
	}
	return l
}

// agentConfig merges the agent configuration and settles the image.
func (l *layers) agentConfig(d Defaults) (gastownv1.AgentConfig, error) {
	cfg := mergeAgentConfigs(l.pc.Spec.AgentConfig, l.beadAgent, l.rigAgent)
	var pcImage, beadImage, rigConfigImage string
	if l.pc.Spec.AgentConfig != nil {
		pcImage = l.pc.Spec.AgentConfig.Image
	}
	if l.beadAgent != nil {
		beadImage = l.beadAgent.Image
	}
	if l.rigAgent != nil {
		rigConfigImage = l.rigAgent.Image
	}
	// spec.kubernetes.image "overrides the agent image" at each level.
	cfg.Image = firstString(l.pcK.Image, pcImage, beadImage, l.rigImage, rigConfigImage, d.AgentImages[l.agent])

	if l.agent == gastownv1.AgentCustom && len(cfg.Command) == 0 {
		return cfg, fmt.Errorf("agent custom needs a command (spec.agentConfig.command)")
	}
	// A local run uses the agent CLI on the operator's PATH: no image.
	if l.pc.Spec.ExecutionMode == gastownv1.ExecutionModeLocal {
		return cfg, nil
	}
	if l.agent == gastownv1.AgentCustom && cfg.Image == "" {
		return cfg, fmt.Errorf("agent custom needs an image (spec.kubernetes.image or spec.agentConfig.image)")
	}
	if cfg.Image == "" {
		return cfg, fmt.Errorf("no image for agent %s: set spec.kubernetes.image, or the rig's spec.kubernetes.image", l.agent)
	}
	return cfg, nil
}

// mergeAgentConfigs merges agent configurations, highest precedence first.
// Each field comes from the first layer that sets it; env vars merge by
// name.
func mergeAgentConfigs(layers ...*gastownv1.AgentConfig) gastownv1.AgentConfig {
	var out gastownv1.AgentConfig
	seenEnv := map[string]bool{}
	for _, c := range layers {
		if c == nil {
			continue
		}
		out.Provider = firstString(out.Provider, c.Provider)
		out.Model = firstString(out.Model, c.Model)
		out.Image = firstString(out.Image, c.Image)
		if out.ModelProvider == nil && c.ModelProvider != nil {
			out.ModelProvider = c.ModelProvider.DeepCopy()
		}
		if len(out.Command) == 0 && len(c.Command) > 0 {
			out.Command = append([]string(nil), c.Command...)
		}
		if len(out.Args) == 0 && len(c.Args) > 0 {
			out.Args = append([]string(nil), c.Args...)
		}
		if out.ConfigMapRef == nil && c.ConfigMapRef != nil {
			ref := *c.ConfigMapRef
			out.ConfigMapRef = &ref
		}
		if out.MaxTurns == nil && c.MaxTurns != nil {
			n := *c.MaxTurns
			out.MaxTurns = &n
		}
		for _, e := range c.Env {
			if !seenEnv[e.Name] {
				seenEnv[e.Name] = true
				out.Env = append(out.Env, *e.DeepCopy())
			}
		}
	}
	return out
}

// gitURL is the repository the polecat clones: its own
// spec.kubernetes.gitRepository, else the rig's status.gitURL, else the
// rig's spec.gitURL. A URL with credentials in it is refused, whichever
// field it comes from: it would reach the pod's environment and the
// prompt. The message names the field, never the credentials.
func (l *layers) gitURL() (string, error) {
	candidates := []struct{ field, url string }{
		{"spec.kubernetes.gitRepository", l.pcK.GitRepository},
		{fmt.Sprintf("rig %s status.gitURL", l.rigName), l.rigStatus.GitURL},
	}
	if l.rig != nil {
		candidates = append(candidates, struct{ field, url string }{fmt.Sprintf("rig %s spec.gitURL", l.rigName), l.rig.Spec.GitURL})
	}
	for _, c := range candidates {
		if c.url == "" {
			continue
		}
		if redact.URLHasCredentials(c.url) {
			return "", CredentialsInURLError(c.field, c.url)
		}
		return c.url, nil
	}
	if l.rig == nil {
		return "", fmt.Errorf("spec.kubernetes.gitRepository is empty and rig %s does not exist", l.rigName)
	}
	return "", fmt.Errorf("spec.kubernetes.gitRepository is empty and rig %s has no gitURL", l.rigName)
}

// CredentialsInURLError is the refusal of a git URL with credentials in its
// user information, in field. It shows the URL without them.
func CredentialsInURLError(field, url string) error {
	return fmt.Errorf("%s holds credentials in the user information of its URL (%s with user:password@ or token@ before the host): "+
		"credentials are not allowed in a git URL; remove them from the URL and put them in the git secret "+
		"(gitSecretRef: username with password or token, for HTTPS)", field, redact.URL(url))
}

// branchData is what a rig's branch template sees.
type branchData struct {
	// BeadID is the polecat's bead, or the polecat's name for a bare task.
	BeadID string
}

func (l *layers) workBranch() (string, error) {
	branch := l.pcK.WorkBranch
	field := "spec.kubernetes.workBranch"
	if branch == "" {
		text := orDefault(l.rigGit.BranchTemplate, gastownv1.DefaultBranchTemplate)
		field = fmt.Sprintf("rig %s spec.git.branchTemplate %q", l.rigName, text)
		tmpl, err := template.New("branch").Option("missingkey=error").Parse(text)
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		var buf bytes.Buffer
		id := firstString(l.pc.Spec.BeadID, l.pc.Name)
		if l.bead != nil && l.pc.Spec.BeadID != "" {
			id = l.bead.BeadID()
		}
		if err := tmpl.Execute(&buf, branchData{BeadID: id}); err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		branch = strings.TrimSpace(buf.String())
	}
	if err := plumbing.NewBranchReferenceName(branch).Validate(); err != nil || strings.ContainsAny(branch, " \t\n") {
		return "", fmt.Errorf("%s gives %q, which is not a valid branch name", field, branch)
	}
	return branch, nil
}

// task gathers what the prompt says. spec.taskDescription, when set,
// replaces the bead's description; for Purpose Revision it holds the review
// comments instead (see Task.ReviewComments).
func (l *layers) task(s Settings) (Task, error) {
	t := Task{
		Purpose:    s.Purpose,
		BeadID:     s.BeadID,
		RepoURL:    s.GitURL,
		BaseBranch: s.BaseBranch,
		WorkBranch: s.WorkBranch,
		BeadFile:   s.BeadFile,
	}
	if l.bead != nil {
		t.Title = l.bead.Spec.Title
		t.Description = l.bead.Spec.Description
		t.Acceptance = l.bead.Spec.Acceptance
	}
	text := strings.TrimSpace(l.pc.Spec.TaskDescription)
	if s.Purpose == gastownv1.PurposeRevision {
		t.ReviewComments = text
		if t.ReviewComments == "" {
			return t, fmt.Errorf("purpose Revision needs the review comments in spec.taskDescription")
		}
		return t, nil
	}
	if text != "" {
		t.Description = text
	}
	if t.Title == "" && strings.TrimSpace(t.Description) == "" {
		if l.bead == nil && s.BeadID != "" {
			return t, fmt.Errorf("spec.taskDescription is empty and bead %s was not found", s.BeadID)
		}
		return t, fmt.Errorf("spec.taskDescription is empty and there is no bead to take the task from")
	}
	return t, nil
}

func apiKeySecret(refs ...*meta.SecretKeyReference) *meta.SecretKeyReference {
	for _, r := range refs {
		if r != nil && r.Name != "" {
			return &meta.SecretKeyReference{Name: r.Name, Key: orDefault(r.Key, DefaultAPIKeySecret)}
		}
	}
	return nil
}

func firstRefName(refs ...*meta.LocalObjectReference) string {
	for _, r := range refs {
		if r != nil && r.Name != "" {
			return r.Name
		}
	}
	return ""
}

func firstResources(rs ...*corev1.ResourceRequirements) *corev1.ResourceRequirements {
	for _, r := range rs {
		if r != nil {
			return r.DeepCopy()
		}
	}
	return &corev1.ResourceRequirements{}
}

func firstInt64(vs ...*int64) int64 {
	for _, v := range vs {
		if v != nil && *v > 0 {
			return *v
		}
	}
	return 0
}

func firstInt32(vs ...*int32) *int32 {
	for _, v := range vs {
		if v != nil {
			n := *v
			return &n
		}
	}
	return nil
}

func firstString[T ~string](vs ...T) T {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func orDefault[T ~string](v, def T) T {
	if v == "" {
		return def
	}
	return v
}
