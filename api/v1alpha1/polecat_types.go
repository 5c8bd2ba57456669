package v1alpha1

import (
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolecatKind is the kind name of Polecat.
const PolecatKind = "Polecat"

// DesiredState is what a polecat should be doing.
// +kubebuilder:validation:Enum=Idle;Working;Terminated
type DesiredState string

const (
	DesiredIdle       DesiredState = "Idle"
	DesiredWorking    DesiredState = "Working"
	DesiredTerminated DesiredState = "Terminated"
)

// PolecatPurpose is why a polecat runs.
// +kubebuilder:validation:Enum=Work;Revision;ConflictFix
type PolecatPurpose string

const (
	// PurposeWork starts a new branch from the base branch.
	PurposeWork PolecatPurpose = "Work"
	// PurposeRevision continues the work branch to answer review comments.
	PurposeRevision PolecatPurpose = "Revision"
	// PurposeConflictFix redoes the work on the current base branch and
	// replaces the work branch.
	PurposeConflictFix PolecatPurpose = "ConflictFix"
)

// PolecatSpec is one agent run for one bead or a bare task.
type PolecatSpec struct {
	// Rig the polecat works for. Its defaults apply when the rig exists.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.rig is immutable"
	Rig string `json:"rig"`

	// BeadID is the bead the polecat works on.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	BeadID string `json:"beadID,omitempty"`

	// DesiredState: Working runs the agent, Idle runs nothing, Terminated
	// stops a running agent.
	// +kubebuilder:default=Working
	// +optional
	DesiredState DesiredState `json:"desiredState,omitempty"`

	// ExecutionMode: kubernetes (a Pod) or local (a child process of the operator).
	// +kubebuilder:default=kubernetes
	// +optional
	ExecutionMode ExecutionMode `json:"executionMode,omitempty"`

	// Agent to run; the bead's, then the rig's, then claude-code when empty.
	// +optional
	Agent AgentType `json:"agent,omitempty"`

	// AgentConfig overrides the bead's and rig's agent configuration.
	// +optional
	AgentConfig *AgentConfig `json:"agentConfig,omitempty"`

	// TaskDescription is the task for the agent. Built from the bead when empty.
	// +optional
	TaskDescription string `json:"taskDescription,omitempty"`

	// Purpose of the run: Work, Revision or ConflictFix.
	// +kubebuilder:default=Work
	// +optional
	Purpose PolecatPurpose `json:"purpose,omitempty"`

	// Kubernetes holds the git and pod settings; they override the rig's.
	// +optional
	Kubernetes *PolecatKubernetes `json:"kubernetes,omitempty"`

	// Resources of the agent container, overriding spec.kubernetes.resources.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// TTLSecondsAfterFinished deletes the finished pod after this long; the
	// Polecat keeps its record.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// MaxIdleSeconds is the Witness's stuck threshold for this polecat: no
	// log output for this long counts as stuck.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxIdleSeconds *int32 `json:"maxIdleSeconds,omitempty"`
}

// PolecatKubernetes holds a polecat's git and pod settings.
// The rule on gitRepository is here, not on the field, so that a refusal does not
// echo the URL (and its credentials) as the invalid value.
// +kubebuilder:validation:XValidation:rule="!has(self.gitRepository) || (!self.gitRepository.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*:[^/?#@]*@') && (self.gitRepository.matches('^(?i)(ssh|git[+]ssh|ssh[+]git)://') || !self.gitRepository.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*@')))",fieldPath=".gitRepository",message="spec.kubernetes.gitRepository must not hold credentials (user:password@ or token@ before the host): put them in the git secret (gitSecretRef); only ssh:// URLs may name a bare user (ssh://git@host/org/repo.git), and git@host:org/repo.git is fine"
type PolecatKubernetes struct {
	// GitRepository to clone and push to (SSH or HTTPS URL). It must not
	// hold credentials, as the rig's spec.gitURL: they belong in the git
	// secret (gitSecretRef).
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	GitRepository string `json:"gitRepository,omitempty"`

	// GitBranch to start from.
	// +optional
	GitBranch string `json:"gitBranch,omitempty"`

	// WorkBranch to push; from the rig's branch template when empty.
	// +optional
	WorkBranch string `json:"workBranch,omitempty"`

	// GitSecretRef names the git credentials (ssh-privatekey, known_hosts;
	// or username, password or token).
	// +optional
	GitSecretRef *meta.LocalObjectReference `json:"gitSecretRef,omitempty"`

	// ClaudeCredsSecretRef holds claude-code OAuth credentials (.credentials.json).
	// +optional
	ClaudeCredsSecretRef *meta.LocalObjectReference `json:"claudeCredsSecretRef,omitempty"`

	// APIKeySecretRef holds the agent's API key (key api-key by default).
	// +optional
	APIKeySecretRef *meta.SecretKeyReference `json:"apiKeySecretRef,omitempty"`

	// Image overrides the agent container image.
	// +optional
	Image string `json:"image,omitempty"`

	// Resources of the agent container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// ActiveDeadlineSeconds bounds the pod's run time.
	// +kubebuilder:validation:Minimum=60
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
}

// PolecatPhase is where a polecat stands.
type PolecatPhase string

const (
	PolecatPhasePending    PolecatPhase = "Pending"
	PolecatPhaseWorking    PolecatPhase = "Working"
	PolecatPhaseSucceeded  PolecatPhase = "Succeeded"
	PolecatPhaseFailed     PolecatPhase = "Failed"
	PolecatPhaseIdle       PolecatPhase = "Idle"
	PolecatPhaseTerminated PolecatPhase = "Terminated"
)

// Finished says whether the phase is final.
func (p PolecatPhase) Finished() bool {
	return p == PolecatPhaseSucceeded || p == PolecatPhaseFailed || p == PolecatPhaseTerminated
}

// PolecatStatus is the observed state of a Polecat.
type PolecatStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, PodReady.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase: Pending, Working, Succeeded, Failed, Idle or Terminated.
	// +optional
	Phase PolecatPhase `json:"phase,omitempty"`

	// AssignedBead is the bead the polecat works on.
	// +optional
	AssignedBead string `json:"assignedBead,omitempty"`

	// PodName of the polecat's pod.
	// +optional
	PodName string `json:"podName,omitempty"`

	// LocalLog is the log file of a local run, on the operator's machine.
	// +optional
	LocalLog string `json:"localLog,omitempty"`

	// Branch the polecat pushes.
	// +optional
	Branch string `json:"branch,omitempty"`

	// CommitSHA of the pushed work.
	// +optional
	CommitSHA string `json:"commitSHA,omitempty"`

	// Agent, AgentImage and AgentModel in use.
	// +optional
	Agent AgentType `json:"agent,omitempty"`
	// +optional
	AgentImage string `json:"agentImage,omitempty"`
	// +optional
	AgentModel string `json:"agentModel,omitempty"`

	// Attempts is the number of pods (or processes) started for this polecat.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// StartedAt is when the run started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// CompletedAt is when the run finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// Result of the run, from the runner's termination message.
	// +optional
	Result *PolecatResult `json:"result,omitempty"`
}

// PolecatOutcome is how a run ended.
type PolecatOutcome string

const (
	OutcomePushed      PolecatOutcome = "Pushed"
	OutcomeNoChanges   PolecatOutcome = "NoChanges"
	OutcomeAgentFailed PolecatOutcome = "AgentFailed"
	OutcomeGitFailed   PolecatOutcome = "GitFailed"
	OutcomeError       PolecatOutcome = "Error"
)

// PolecatResult is what the runner reports when it finishes.
type PolecatResult struct {
	// Outcome: Pushed, NoChanges, AgentFailed, GitFailed or Error.
	Outcome PolecatOutcome `json:"outcome"`

	// Branch pushed.
	// +optional
	Branch string `json:"branch,omitempty"`

	// Commit pushed.
	// +optional
	Commit string `json:"commit,omitempty"`

	// FilesChanged is the number of files the commit changed.
	// +optional
	FilesChanged int32 `json:"filesChanged,omitempty"`

	// AgentExitCode is the agent's exit code.
	// +optional
	AgentExitCode *int32 `json:"agentExitCode,omitempty"`

	// CostUSD the agent reported, as a decimal string.
	// +optional
	CostUSD string `json:"costUSD,omitempty"`

	// InputTokens the agent reported: all the input the model read, the
	// uncached input plus the prompt cache's reads and writes (claude-code
	// and opencode report these apart).
	// +optional
	InputTokens int64 `json:"inputTokens,omitempty"`
	// OutputTokens the agent reported: all the model wrote, thinking
	// included.
	// +optional
	OutputTokens int64 `json:"outputTokens,omitempty"`

	// Turns the agent took, where it reports them.
	// +optional
	Turns int32 `json:"turns,omitempty"`

	// Summary of the work, from the agent.
	// +optional
	Summary string `json:"summary,omitempty"`

	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pc,categories=gastown
// +kubebuilder:printcolumn:name="Rig",type=string,JSONPath=`.spec.rig`
// +kubebuilder:printcolumn:name="Bead",type=string,JSONPath=`.spec.beadID`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Agent",type=string,JSONPath=`.status.agent`,priority=1
// +kubebuilder:printcolumn:name="Branch",type=string,JSONPath=`.status.branch`
// +kubebuilder:printcolumn:name="Pod",type=string,JSONPath=`.status.podName`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Polecat is one agent run: a pod (or local process) that clones the repo,
// runs the agent, commits, and pushes a branch.
type Polecat struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PolecatSpec   `json:"spec,omitempty"`
	Status PolecatStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Polecat) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Polecat) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *Polecat) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *Polecat) GetStatus() any { return &in.Status }

// PodName is the name of the polecat's pod.
func (in *Polecat) PodName() string { return "polecat-" + in.Name }

// +kubebuilder:object:root=true

// PolecatList is a list of Polecats.
type PolecatList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Polecat `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Polecat{}, &PolecatList{})
}
