package v1alpha1

import (
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RefineryKind is the kind name of Refinery.
const RefineryKind = "Refinery"

// Defaults of a Refinery.
const (
	DefaultPollInterval     = 30 * time.Second
	DefaultTokenSecretKey   = "token"
	DefaultMaxRevisions     = 2
	DefaultMaxConflictFixes = 1
)

// RefineryProvider is how a Refinery merges.
// +kubebuilder:validation:Enum=github;git
type RefineryProvider string

const (
	// ProviderGitHub opens and merges pull requests through the GitHub API.
	ProviderGitHub RefineryProvider = "github"
	// ProviderGit merges polecat branches straight into the target with git.
	ProviderGit RefineryProvider = "git"
)

// UpdateBranchPolicy is when a Refinery updates a pull request's branch
// with its target before merging.
type UpdateBranchPolicy string

const (
	UpdateBranchAlways       UpdateBranchPolicy = "always"
	UpdateBranchWhenRequired UpdateBranchPolicy = "whenRequired"
)

// MergeMethod is how a pull request is merged.
// +kubebuilder:validation:Enum=squash;merge;rebase
type MergeMethod string

const (
	MergeSquash MergeMethod = "squash"
	MergeCommit MergeMethod = "merge"
	MergeRebase MergeMethod = "rebase"
)

// RefinerySpec is a rig's merge policy.
type RefinerySpec struct {
	// RigRef names the rig whose polecat branches are merged.
	// +kubebuilder:validation:MinLength=1
	RigRef string `json:"rigRef"`

	// TargetBranch pull requests merge into; the rig's base branch when empty.
	// +optional
	TargetBranch string `json:"targetBranch,omitempty"`

	// Provider: github (pull requests, the default) or git (direct merges).
	// +kubebuilder:default=github
	// +optional
	Provider RefineryProvider `json:"provider,omitempty"`

	// GitHub settings for the github provider.
	// +optional
	GitHub *GitHubSpec `json:"github,omitempty"`

	// GitSecretRef names git credentials for the git provider; the rig's
	// when empty.
	// +optional
	GitSecretRef *meta.LocalObjectReference `json:"gitSecretRef,omitempty"`

	// RequiredApprovals before merge; 0 merges on green checks.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	RequiredApprovals *int32 `json:"requiredApprovals,omitempty"`

	// RequiredChecks are check or status names that must succeed. When
	// empty, every reported check must succeed.
	// +optional
	RequiredChecks []string `json:"requiredChecks,omitempty"`

	// AutoMerge merges when the gate passes; false stops before the merge.
	// +kubebuilder:default=true
	// +optional
	AutoMerge *bool `json:"autoMerge,omitempty"`

	// UpdateBranch says when a pull request whose branch lacks the target's
	// latest commits is brought up to date (and its checks run again)
	// before it merges: always (the default), so that nothing merges that
	// was not tested on what it merges into, as a merge queue guarantees;
	// or whenRequired, only when the target's branch protection requires
	// up-to-date branches (GitHub's mergeable_state "behind").
	// +kubebuilder:validation:Enum=always;whenRequired
	// +kubebuilder:default=always
	// +optional
	UpdateBranch UpdateBranchPolicy `json:"updateBranch,omitempty"`

	// MergeMethod: squash (default), merge or rebase.
	// +kubebuilder:default=squash
	// +optional
	MergeMethod MergeMethod `json:"mergeMethod,omitempty"`

	// DeleteBranch deletes the polecat branch after the merge.
	// +kubebuilder:default=true
	// +optional
	DeleteBranch *bool `json:"deleteBranch,omitempty"`

	// Labels put on every pull request.
	// +optional
	Labels []string `json:"labels,omitempty"`

	// MaxRevisions is how many revision polecats answer "changes requested".
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxRevisions *int32 `json:"maxRevisions,omitempty"`

	// MaxConflictFixes is how many conflict-resolution polecats run before
	// the bead fails.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxConflictFixes *int32 `json:"maxConflictFixes,omitempty"`

	// PollInterval for pull requests waiting on review or checks.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default="30s"
	// +optional
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// Parallelism is kept so that manifests of the original operator apply.
	// Merges into one target branch always run one at a time.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Parallelism int32 `json:"parallelism,omitempty"`

	// TestCommand is kept so that manifests of the original operator apply.
	// It is not run: the gate waits for the repository's own checks.
	// +optional
	TestCommand string `json:"testCommand,omitempty"`

	// Suspend stops opening and merging pull requests.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// GitHubSpec configures the GitHub provider.
// +kubebuilder:validation:XValidation:rule="!(has(self.tokenSecretRef) && has(self.appSecretRef))",message="tokenSecretRef and appSecretRef are exclusive: a Refinery acts as a token's user or as a GitHub App"
type GitHubSpec struct {
	// BaseURL of the API for GitHub Enterprise, e.g. https://ghe.example.com/api/v3/.
	// +optional
	BaseURL string `json:"baseURL,omitempty"`

	// Owner of the repository; derived from the rig's git URL when empty.
	// +optional
	Owner string `json:"owner,omitempty"`

	// Repo name; derived from the rig's git URL when empty.
	// +optional
	Repo string `json:"repo,omitempty"`

	// TokenSecretRef holds the API token (key token by default).
	// +optional
	TokenSecretRef *meta.SecretKeyReference `json:"tokenSecretRef,omitempty"`

	// AppSecretRef authenticates as a GitHub App's installation instead of
	// a token: the secret's keys githubAppID, githubAppInstallationID and
	// githubAppPrivateKey (PEM), as Flux's source-controller reads them.
	// Installation tokens are fetched and refreshed before they expire.
	// +optional
	AppSecretRef *meta.LocalObjectReference `json:"appSecretRef,omitempty"`

	// WebhookSecretRef holds the secret of the repository's webhook (key
	// secret by default). With it, and the manager's --webhook-addr, GitHub's
	// deliveries to /hooks/github/<namespace>/<name> wake the Refinery, and
	// polling slows to ten times pollInterval as a fallback.
	// +optional
	WebhookSecretRef *meta.SecretKeyReference `json:"webhookSecretRef,omitempty"`
}

// DefaultWebhookSecretKey is the key of spec.github.webhookSecretRef when
// it names none.
const DefaultWebhookSecretKey = "secret"

// WebhookPollFactor is how much slower a Refinery with a webhook polls.
const WebhookPollFactor = 10

// RefineryStatus is the state of a rig's merge queue.
type RefineryStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase: Idle, Processing or Error.
	// +optional
	Phase string `json:"phase,omitempty"`

	// QueueLength is how many beads wait to merge.
	// +optional
	QueueLength int32 `json:"queueLength,omitempty"`

	// Queue in merge order.
	// +optional
	Queue []RefineryQueueEntry `json:"queue,omitempty"`

	// CurrentMerge is the bead being merged.
	// +optional
	CurrentMerge string `json:"currentMerge,omitempty"`

	// LastMergeTime is when the last merge happened.
	// +optional
	LastMergeTime *metav1.Time `json:"lastMergeTime,omitempty"`

	// MergesSummary counts merges.
	// +optional
	MergesSummary MergesSummary `json:"mergesSummary,omitempty"`
}

// RefineryQueueEntry is a bead in the merge queue.
type RefineryQueueEntry struct {
	Bead string `json:"bead"`
	// +optional
	PullRequest int `json:"pullRequest,omitempty"`
	// +optional
	Gate string `json:"gate,omitempty"`
}

// MergesSummary counts merges.
type MergesSummary struct {
	// +optional
	Total int32 `json:"total,omitempty"`
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// +optional
	Pending int32 `json:"pending,omitempty"`
}

// Refinery phases.
const (
	RefineryPhaseIdle       = "Idle"
	RefineryPhaseProcessing = "Processing"
	RefineryPhaseError      = "Error"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rf,categories=gastown
// +kubebuilder:printcolumn:name="Rig",type=string,JSONPath=`.spec.rigRef`
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Queue",type=integer,JSONPath=`.status.queueLength`
// +kubebuilder:printcolumn:name="Merged",type=integer,JSONPath=`.status.mergesSummary.succeeded`
// +kubebuilder:printcolumn:name="Last Merge",type=date,JSONPath=`.status.lastMergeTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Refinery opens pull requests for finished polecats, gates and merges them.
type Refinery struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RefinerySpec   `json:"spec,omitempty"`
	Status RefineryStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Refinery) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Refinery) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *Refinery) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *Refinery) GetStatus() any { return &in.Status }

// GetRequeueAfter returns the poll interval.
func (in *Refinery) GetRequeueAfter() time.Duration {
	if in.Spec.PollInterval != nil && in.Spec.PollInterval.Duration > 0 {
		return in.Spec.PollInterval.Duration
	}
	return DefaultPollInterval
}

// +kubebuilder:object:root=true

// RefineryList is a list of Refineries.
type RefineryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Refinery `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Refinery{}, &RefineryList{})
}
