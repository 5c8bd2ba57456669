package v1alpha1

import (
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RigKind is the kind name of Rig.
const RigKind = "Rig"

// Defaults a Rig resolves when its spec leaves them unset.
const (
	DefaultWorkersNamespace = "gastown-workers"
	DefaultBaseBranch       = "main"
	DefaultBranchTemplate   = "polecat/{{.BeadID}}"
	DefaultMaxPolecats      = 8
	DefaultMaxRetries       = 2
	DefaultDeadlineSeconds  = 3600
	DefaultRigInterval      = 10 * time.Minute
)

// RigSpec defines a project: where its work comes from (a Flux GitRepository),
// where its polecats run, and with which agent and limits.
// +kubebuilder:validation:XValidation:rule="has(self.sourceRef) || has(self.gitURL)",message="one of spec.sourceRef or spec.gitURL is required"
// The rule on gitURL is here, not on the field, so that a refusal does not
// echo the URL (and its credentials) as the invalid value.
// +kubebuilder:validation:XValidation:rule="!has(self.gitURL) || (!self.gitURL.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*:[^/?#@]*@') && (self.gitURL.matches('^(?i)(ssh|git[+]ssh|ssh[+]git)://') || !self.gitURL.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*@')))",fieldPath=".gitURL",message="spec.gitURL must not hold credentials (user:password@ or token@ before the host): put them in the git secret (gitSecretRef); only ssh:// URLs may name a bare user (ssh://git@host/org/repo.git), and git@host:org/repo.git is fine"
type RigSpec struct {
	// SourceRef is the Flux GitRepository holding the rig's bead files.
	// Without it the rig runs only polecats created by hand.
	// +optional
	SourceRef *SourceReference `json:"sourceRef,omitempty"`

	// GitURL is the repository polecats clone and push to (HTTPS or SSH).
	// When empty it is taken from the source's spec.url. It must not hold
	// credentials: https://user:token@host/... and https://token@host/...
	// are refused (the credentials belong in the git secret); a bare user
	// on an ssh:// URL (ssh://git@host/org/repo.git) and the scp-like
	// git@host:org/repo.git are fine.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	GitURL string `json:"gitURL,omitempty"`

	// BeadsPrefix is the prefix of the rig's bead IDs (gt for gt-abc).
	// It becomes the prefix its BeadStore checks.
	// +kubebuilder:validation:Pattern=`^[a-z]{2,10}$`
	// +optional
	BeadsPrefix string `json:"beadsPrefix,omitempty"`

	// LocalPath is kept so that manifests of the original operator apply.
	// It is not used.
	// +optional
	LocalPath string `json:"localPath,omitempty"`

	// WorkersNamespace is where the rig's BeadStore, Witness, Refinery, beads
	// and polecats live.
	// +kubebuilder:default=gastown-workers
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	// +optional
	WorkersNamespace string `json:"workersNamespace,omitempty"`

	// Git settings for the polecats' branches and commits.
	// +kubebuilder:default={}
	// +optional
	Git RigGit `json:"git,omitempty"`

	// Agent is the default agent of the rig's polecats.
	// +kubebuilder:default=claude-code
	// +optional
	Agent AgentType `json:"agent,omitempty"`

	// AgentConfig is the default agent configuration.
	// +optional
	AgentConfig *AgentConfig `json:"agentConfig,omitempty"`

	// AgentPolicy says which agent settings and resources the rig's beads
	// may choose in their spec.agent and spec.resources. It is the cluster
	// admin's: whoever can push a bead file chooses only what it allows.
	// Without it a bead may set spec.agent.type only to the rig's agent,
	// spec.agent.model and spec.agent.provider only to the rig's, and
	// spec.agent.maxTurns up to the rig's agentConfig.maxTurns; nothing
	// else. A bead that asks for more is not dispatched: its phase is
	// Failed with reason PolicyViolation.
	// +optional
	AgentPolicy *AgentPolicy `json:"agentPolicy,omitempty"`

	// Kubernetes holds the pod defaults of the rig's polecats: secrets, image,
	// resources and deadline.
	// +kubebuilder:default={}
	// +optional
	Kubernetes RigKubernetes `json:"kubernetes,omitempty"`

	// Settings are the rig's limits.
	// +kubebuilder:default={}
	// +optional
	Settings RigSettings `json:"settings,omitempty"`

	// Suspend stops new polecats, the Refinery's revisions and conflict
	// fixes included; running ones finish.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Interval at which the rig is reconciled without a change, as a safety net.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default="10m"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// AgentPolicy lists what a rig's beads may choose beside the rig's own
// agent settings. Every list is of exact values; an empty list allows
// nothing more. Whatever it says, a bead can never name a secret or a
// ConfigMap (spec.agent.modelProvider.apiKeySecretRef, spec.agent.env
// valueFrom, spec.agent.configMapRef) nor a model endpoint
// (spec.agent.modelProvider.endpoint, which would receive the rig's model
// key): those belong in the rig's agentConfig.
type AgentPolicy struct {
	// AgentTypes a bead may set in spec.agent.type, beside the rig's own
	// spec.agent. The custom agent also needs an image from Images and
	// AllowCommand.
	// +listType=set
	// +optional
	AgentTypes []AgentType `json:"agentTypes,omitempty"`

	// Models a bead may set in spec.agent.model, beside the rig's own
	// agentConfig.model.
	// +listType=set
	// +optional
	Models []string `json:"models,omitempty"`

	// Providers a bead may set in spec.agent.provider, beside the rig's own
	// agentConfig.provider.
	// +listType=set
	// +optional
	Providers []string `json:"providers,omitempty"`

	// Images a bead may set in spec.agent.image, as exact references
	// (pin them by digest). Empty: a bead may not choose an image. An image
	// runs with the rig's model key and the workspace.
	// +listType=set
	// +optional
	Images []string `json:"images,omitempty"`

	// AllowCommand lets a bead set spec.agent.command and spec.agent.args:
	// it then runs any program it likes in the agent container, with the
	// rig's model key. Off by default.
	// +optional
	AllowCommand bool `json:"allowCommand,omitempty"`

	// Env names the environment variables a bead may set in
	// spec.agent.env, with a plain value only (never valueFrom). Empty: a
	// bead may set none (variables such as ANTHROPIC_BASE_URL or
	// NODE_OPTIONS would redirect the agent or its key).
	// +listType=set
	// +optional
	Env []string `json:"env,omitempty"`

	// MaxTurns bounds spec.agent.maxTurns of a bead. When unset, the bound
	// is the rig's agentConfig.maxTurns, and there is none when that is
	// unset too.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxTurns *int32 `json:"maxTurns,omitempty"`

	// MaxResources caps spec.resources of a bead: each request and limit a
	// bead sets must name a resource listed here and be at most its
	// quantity. When unset, a bead may not set spec.resources.
	// +optional
	MaxResources corev1.ResourceList `json:"maxResources,omitempty"`
}

// RigGit configures the branches and commits of a rig's polecats.
type RigGit struct {
	// BaseBranch polecats start from and pull requests target. When empty, the
	// source's branch, else main.
	// +optional
	BaseBranch string `json:"baseBranch,omitempty"`

	// BranchTemplate names a polecat's branch; a Go template with .BeadID.
	// +kubebuilder:default="polecat/{{.BeadID}}"
	// +kubebuilder:validation:MinLength=1
	// +optional
	BranchTemplate string `json:"branchTemplate,omitempty"`

	// AuthorName of polecat commits.
	// +kubebuilder:default="Gas Town Polecat"
	// +optional
	AuthorName string `json:"authorName,omitempty"`

	// AuthorEmail of polecat commits.
	// +kubebuilder:default="polecat@gastown.local"
	// +optional
	AuthorEmail string `json:"authorEmail,omitempty"`
}

// RigKubernetes holds the pod defaults of a rig's polecats. The fields carry
// the names of Polecat.spec.kubernetes, which overrides them.
type RigKubernetes struct {
	// GitSecretRef names the git credentials in the workers namespace:
	// ssh-privatekey (and optionally known_hosts) for SSH, or username with
	// password or token for HTTPS.
	// +optional
	GitSecretRef *meta.LocalObjectReference `json:"gitSecretRef,omitempty"`

	// APIKeySecretRef holds the agent's API key (key api-key by default).
	// +optional
	APIKeySecretRef *meta.SecretKeyReference `json:"apiKeySecretRef,omitempty"`

	// ClaudeCredsSecretRef holds claude-code OAuth credentials (.credentials.json).
	// +optional
	ClaudeCredsSecretRef *meta.LocalObjectReference `json:"claudeCredsSecretRef,omitempty"`

	// Image overrides the agent image.
	// +optional
	Image string `json:"image,omitempty"`

	// Resources of the agent container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// ActiveDeadlineSeconds bounds a polecat pod's run time.
	// +kubebuilder:validation:Minimum=60
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// TTLSecondsAfterFinished deletes a finished polecat's pod after this long;
	// the Polecat keeps its record.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// PodTemplate adds the cluster's placement rules to every polecat pod of
	// the rig. It is the rig admin's alone: beads and polecats cannot set it.
	// +optional
	PodTemplate *PolecatPodTemplate `json:"podTemplate,omitempty"`
}

// PolecatPodTemplate is what a rig adds to its polecats' pods: metadata and
// where they are scheduled. The operator's own labels, security settings and
// containers cannot be changed through it.
type PolecatPodTemplate struct {
	// Labels added to the pod; the operator's gastown.gastown.io/* and
	// app.kubernetes.io/managed-by labels win over these.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations added to the pod.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// NodeSelector of the pod.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations of the pod.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// PriorityClassName of the pod.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// RuntimeClassName of the pod, e.g. a gVisor or Kata sandbox.
	// +optional
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`

	// HostNetwork runs the pod in the node's network namespace. It exists for
	// single-node test environments, whose servers listen on loopback; never
	// set it in a real cluster (Pod Security "baseline" and "restricted"
	// forbid it).
	// +optional
	HostNetwork bool `json:"hostNetwork,omitempty"`
}

// RigSettings are a rig's limits.
type RigSettings struct {
	// MaxPolecats is the most polecats of this rig that run at once: the
	// cluster's capacity is the real bound.
	// +kubebuilder:default=8
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxPolecats int32 `json:"maxPolecats,omitempty"`

	// MaxRetries is how often a failed polecat run is retried before its bead
	// is Failed.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +optional
	MaxRetries *int32 `json:"maxRetries,omitempty"`

	// ExecutionMode of the polecats the rig dispatches.
	// +kubebuilder:default=kubernetes
	// +optional
	ExecutionMode ExecutionMode `json:"executionMode,omitempty"`

	// NamepoolTheme is kept so that manifests of the original operator apply.
	// It is not used: polecats are named after their beads.
	// +optional
	NamepoolTheme string `json:"namepoolTheme,omitempty"`
}

// RigStatus is the observed state of a Rig.
type RigStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// ObservedGeneration is the last generation reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, SourceReady.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase for printing: Initializing, Ready, Suspended or Degraded.
	// +optional
	Phase string `json:"phase,omitempty"`

	// GitURL in use, from the spec or derived from the source.
	// +optional
	GitURL string `json:"gitURL,omitempty"`

	// BaseBranch in use.
	// +optional
	BaseBranch string `json:"baseBranch,omitempty"`

	// PolecatCount is how many of the rig's polecats are running.
	// +optional
	PolecatCount int32 `json:"polecatCount,omitempty"`

	// ReadyBeads is how many beads wait for a polecat.
	// +optional
	ReadyBeads int32 `json:"readyBeads,omitempty"`

	// LastDispatchTime is when the rig last created a polecat.
	// +optional
	LastDispatchTime *metav1.Time `json:"lastDispatchTime,omitempty"`
}

// Rig phases.
const (
	RigPhaseInitializing = "Initializing"
	RigPhaseReady        = "Ready"
	RigPhaseSuspended    = "Suspended"
	RigPhaseDegraded     = "Degraded"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=rg,categories=gastown
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Workers",type=string,JSONPath=`.spec.workersNamespace`
// +kubebuilder:printcolumn:name="Polecats",type=integer,JSONPath=`.status.polecatCount`
// +kubebuilder:printcolumn:name="Ready Beads",type=integer,JSONPath=`.status.readyBeads`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Rig is a project: a Flux source of bead files, a workers namespace, and
// the defaults and limits of the polecats that work on it.
type Rig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RigSpec   `json:"spec,omitempty"`
	Status RigStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Rig) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Rig) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *Rig) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *Rig) GetStatus() any { return &in.Status }

// GetRequeueAfter returns how long to wait before the next reconcile.
func (in *Rig) GetRequeueAfter() time.Duration {
	if in.Spec.Interval != nil && in.Spec.Interval.Duration > 0 {
		return in.Spec.Interval.Duration
	}
	return DefaultRigInterval
}

// WorkersNamespace returns the namespace of the rig's objects.
func (in *Rig) WorkersNamespace() string {
	if in.Spec.WorkersNamespace != "" {
		return in.Spec.WorkersNamespace
	}
	return DefaultWorkersNamespace
}

// MaxPolecats returns the rig's concurrency limit.
func (in *Rig) MaxPolecats() int {
	if in.Spec.Settings.MaxPolecats > 0 {
		return int(in.Spec.Settings.MaxPolecats)
	}
	return DefaultMaxPolecats
}

// MaxRetries returns how often a failed run is retried.
func (in *Rig) MaxRetries() int {
	if in.Spec.Settings.MaxRetries != nil {
		return int(*in.Spec.Settings.MaxRetries)
	}
	return DefaultMaxRetries
}

// +kubebuilder:object:root=true

// RigList is a list of Rigs.
type RigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rig `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Rig{}, &RigList{})
}
