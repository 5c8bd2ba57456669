package v1alpha1

import (
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
)

// Labels the operator puts on everything it creates.
const (
	RigLabel       = "gastown.gastown.io/rig"
	BeadLabel      = "gastown.gastown.io/bead"
	PolecatLabel   = "gastown.gastown.io/polecat"
	ConvoyLabel    = "gastown.gastown.io/convoy"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "gastown-operator"
)

// Annotations.
const (
	// RetryAnnotation makes a Failed or Rejected bead dispatchable again
	// whenever its value changes.
	RetryAnnotation = "gastown.gastown.io/retry"
	// ContentHashAnnotation records the hash of what the BeadStore applied to a
	// Bead or Convoy, so that unchanged objects are not written again.
	ContentHashAnnotation = "gastown.gastown.io/content-hash"
)

// GastownFinalizer is the finalizer of Polecats: a local run (a child
// process of the operator) is stopped before its Polecat goes. The other
// kinds need no cleanup beyond garbage collection of what they own.
const GastownFinalizer = "gastown.gastown.io/finalizer"

// Condition types beside meta.ReadyCondition, meta.ReconcilingCondition and
// meta.StalledCondition.
const (
	// SourceReadyCondition: the Rig's GitRepository exists and has an artifact.
	SourceReadyCondition = "SourceReady"
	// ArtifactFetchedCondition: the BeadStore downloaded and verified the artifact.
	ArtifactFetchedCondition = "ArtifactFetched"
	// BeadsValidCondition: every bead file parsed and validated.
	BeadsValidCondition = "BeadsValid"
	// PodReadyCondition: the polecat's pod (or local process) is running or done.
	PodReadyCondition = "PodReady"
)

// Condition reasons beside the ones in github.com/fluxcd/pkg/apis/meta.
const (
	SourceNotFoundReason    = "SourceNotFound"
	ArtifactNotReadyReason  = "ArtifactNotReady"
	NamespaceNotFoundReason = "NamespaceNotFound"
	CrossNamespaceRefReason = "CrossNamespaceRefNotAllowed"
	RigNotFoundReason       = "RigNotFound"
	InvalidBeadsReason      = "InvalidBeads"
	SyncFailedReason        = "SyncFailed"
	DispatchFailedReason    = "DispatchFailed"
	SecretNotFoundReason    = "SecretNotFound"
	ImagePullFailedReason   = "ImagePullFailed"
	DeadlineExceededReason  = "DeadlineExceeded"
	AgentFailedReason       = "AgentFailed"
	GitFailedReason         = "GitFailed"
	NoChangesReason         = "NoChanges"
	PodFailedReason         = "PodFailed"
	PodPendingReason        = "PodPending"
	PodRunningReason        = "PodRunning"
	IdleReason              = "Idle"
	TerminatedReason        = "Terminated"
	BlockedReason           = "Blocked"
	WaitingReason           = "Waiting"
	RetriesExhaustedReason  = "RetriesExhausted"
	PullRequestOpenReason   = "PullRequestOpen"
	PullRequestMergedReason = "PullRequestMerged"
	PullRequestClosedReason = "PullRequestClosed"
	MergeConflictReason     = "MergeConflict"
	ProviderErrorReason     = "ProviderError"
	RateLimitedReason       = "RateLimited"
	InvalidSpecReason       = "InvalidSpec"
	StuckReason             = "Stuck"
	// PolicyViolationReason: the bead asks for agent settings or resources
	// its rig's spec.agentPolicy does not allow; it is not dispatched.
	PolicyViolationReason = "PolicyViolation"
)

// AgentType names a coding agent a polecat can run.
// +kubebuilder:validation:Enum=claude-code;opencode;aider;custom
type AgentType string

const (
	AgentClaudeCode AgentType = "claude-code"
	AgentOpenCode   AgentType = "opencode"
	AgentAider      AgentType = "aider"
	AgentCustom     AgentType = "custom"
)

// ExecutionMode says where a polecat runs.
// +kubebuilder:validation:Enum=kubernetes;local
type ExecutionMode string

const (
	// ExecutionModeKubernetes runs the polecat as a Pod in the workers namespace.
	ExecutionModeKubernetes ExecutionMode = "kubernetes"
	// ExecutionModeLocal runs the polecat as a child process of the operator.
	ExecutionModeLocal ExecutionMode = "local"
)

// AgentConfig configures the coding agent. Every field is optional; unset
// fields fall back to the bead's, then the rig's, then the agent's defaults.
type AgentConfig struct {
	// Provider of the model, for agents that speak to several (opencode, aider).
	// +kubebuilder:validation:Enum=litellm;anthropic;openai;ollama
	// +optional
	Provider string `json:"provider,omitempty"`

	// Model name or ID, e.g. claude-sonnet-4-5.
	// +optional
	Model string `json:"model,omitempty"`

	// ModelProvider is an OpenAI-compatible endpoint and its key.
	// +optional
	ModelProvider *ModelProvider `json:"modelProvider,omitempty"`

	// Image overrides the agent container image.
	// +optional
	Image string `json:"image,omitempty"`

	// Command overrides the agent command. Required for the custom agent.
	// +optional
	Command []string `json:"command,omitempty"`

	// Args are appended to the agent command.
	// +optional
	Args []string `json:"args,omitempty"`

	// ConfigMapRef names a ConfigMap mounted into the agent's config directory
	// (for example an opencode.json).
	// +optional
	ConfigMapRef *meta.LocalObjectReference `json:"configMapRef,omitempty"`

	// Env adds environment variables to the agent.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`

	// MaxTurns bounds the agent's turns, for agents that support it (claude-code).
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxTurns *int32 `json:"maxTurns,omitempty"`
}

// ModelProvider is an API endpoint for the model and the secret holding its key.
type ModelProvider struct {
	// Endpoint is the API base URL.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// APIKeySecretRef holds the API key.
	// +optional
	APIKeySecretRef *meta.SecretKeyReference `json:"apiKeySecretRef,omitempty"`
}

// AgentSpec is an agent type with its configuration, as beads override it.
type AgentSpec struct {
	// Type of the agent.
	// +optional
	Type AgentType `json:"type,omitempty"`

	AgentConfig `json:",inline"`
}

// SourceReference points at a Flux GitRepository.
type SourceReference struct {
	// APIVersion of the source, source.toolkit.fluxcd.io/v1 when empty.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the source. Only GitRepository is supported.
	// +kubebuilder:validation:Enum=GitRepository
	// +kubebuilder:default=GitRepository
	// +optional
	Kind string `json:"kind,omitempty"`

	// Name of the source.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Namespace of the source. Required: a Rig is cluster-scoped.
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`
}
