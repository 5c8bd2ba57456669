package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"github.com/fluxcd/pkg/apis/meta"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BeadKind is the kind name of Bead.
const BeadKind = "Bead"

// BeadType is the kind of work a bead asks for: a work type (bug, feature,
// task, chore), an epic, or one of bd's workflow and identity types
// (merge-request, gate, molecule, message, agent, role, rig, event,
// decision, convoy), which are never dispatched.
// +kubebuilder:validation:Enum=bug;feature;task;chore;epic;merge-request;gate;molecule;message;agent;role;rig;event;decision;convoy
type BeadType string

// BeadFileStatus is the status a bead has in its file, as bd writes it.
// Only open beads are dispatched; closed ones are done; the others are
// someone's already (in_progress, hooked) or held (blocked, deferred,
// pinned).
// +kubebuilder:validation:Enum=open;in_progress;hooked;blocked;deferred;pinned;closed
type BeadFileStatus string

const (
	BeadOpen       BeadFileStatus = "open"
	BeadInProgress BeadFileStatus = "in_progress"
	BeadHooked     BeadFileStatus = "hooked"
	BeadBlocked    BeadFileStatus = "blocked"
	BeadDeferred   BeadFileStatus = "deferred"
	BeadPinned     BeadFileStatus = "pinned"
	BeadClosed     BeadFileStatus = "closed"
)

// Active says whether a bead in this status still holds the beads that
// depend on it, as bd's blocked computation has it: every status but
// closed and pinned.
func (s BeadFileStatus) Active() bool { return s != BeadClosed && s != BeadPinned }

// BeadObjectNameMaxLength bounds the name of a Bead object: the names of
// its polecats and pods add a suffix to it.
const BeadObjectNameMaxLength = 50

// BeadObjectName is the name of the Bead object for bead ID id. An ID that
// is a DNS-1123 label of at most 50 characters is its own name; any other
// (bd's child IDs such as gt-abc.1, prefixes with '_', upper case, long
// IDs) is lower-cased, every character other than a-z, 0-9 and '-' becomes
// '-', it is cut to 41 characters, and "-" and the first 8 hex digits of
// the SHA-256 of the ID are appended, so that distinct IDs get distinct
// names. The ID itself is kept in spec.id and the gastown.gastown.io/bead
// label: a name is never turned back into an ID.
func BeadObjectName(id string) string {
	if isBeadLabelName(id) {
		return id
	}
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	const keep = BeadObjectNameMaxLength - 9
	name := b.String()
	if len(name) > keep {
		name = name[:keep]
	}
	name = strings.Trim(name, "-")
	sum := sha256.Sum256([]byte(id))
	suffix := hex.EncodeToString(sum[:4])
	if name == "" {
		return "b-" + suffix
	}
	return name + "-" + suffix
}

// isBeadLabelName says whether id is a DNS-1123 label short enough to name
// a Bead object as it is.
func isBeadLabelName(id string) bool {
	if id == "" || len(id) > BeadObjectNameMaxLength || id[0] == '-' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}

// DefaultPriority of a bead without one.
const DefaultPriority = 2

// BeadSpec mirrors a bead file entry. The BeadStore writes it; people write
// the file.
type BeadSpec struct {
	// ID is the bead ID as its file writes it (metadata.name of a manifest,
	// id in issues.jsonl), dots and underscores included. The BeadStore sets
	// it; the object's name is derived from it (see BeadObjectName).
	// +optional
	ID string `json:"id,omitempty"`

	// RigRef names the rig the bead belongs to. The BeadStore sets it; a
	// bead without one is never dispatched.
	// +optional
	RigRef string `json:"rigRef,omitempty"`

	// Title of the work item.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Title string `json:"title"`

	// Description of the work, given to the agent.
	// +optional
	Description string `json:"description,omitempty"`

	// Acceptance criteria, given to the agent.
	// +optional
	Acceptance string `json:"acceptance,omitempty"`

	// Type of the work.
	// +kubebuilder:default=task
	// +optional
	Type BeadType `json:"type,omitempty"`

	// Priority from 0 (highest) to 4.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// Status in the file: open beads are dispatched when ready; closed ones
	// never; in_progress and hooked are someone's already; blocked, deferred
	// and pinned are held.
	// +kubebuilder:default=open
	// +optional
	Status BeadFileStatus `json:"status,omitempty"`

	// DependsOn lists beads that block this one while they are active (not
	// closed or pinned): bd's blocks and conditional-blocks dependencies.
	// +listType=set
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`

	// Parents are the beads this one is a child of (bd's parent-child
	// dependency): a child is blocked while a parent is blocked; an open
	// parent does not hold it.
	// +listType=set
	// +optional
	Parents []string `json:"parents,omitempty"`

	// WaitsFor lists beads whose children this one waits for (bd's
	// waits-for gate): it is blocked while one of their children is active,
	// or, with the any-children gate, until one of them is closed.
	// +listType=set
	// +optional
	WaitsFor []string `json:"waitsFor,omitempty"`

	// WaitsForAny marks the beads of WaitsFor whose gate is any-children.
	// +listType=set
	// +optional
	WaitsForAny []string `json:"waitsForAny,omitempty"`

	// Ephemeral beads (bd's wisps) are not work: never dispatched; they
	// still count as dependency targets.
	// +optional
	Ephemeral bool `json:"ephemeral,omitempty"`

	// Labels of the work item.
	// +optional
	Labels []string `json:"labels,omitempty"`

	// Agent overrides the rig's agent for this bead.
	// +optional
	Agent *AgentSpec `json:"agent,omitempty"`

	// Resources override the rig's polecat resources for this bead.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// SourcePath is the repository file the bead was read from; the polecat
	// closes the bead there.
	// +optional
	SourcePath string `json:"sourcePath,omitempty"`
}

// BeadID returns the bead's ID: spec.id, or the object's name for a bead
// written before spec.id existed or by hand.
func (in *Bead) BeadID() string {
	if in.Spec.ID != "" {
		return in.Spec.ID
	}
	return in.Name
}

// PriorityValue returns the bead's priority, resolving the default.
func (in *BeadSpec) PriorityValue() int32 {
	if in.Priority == nil {
		return DefaultPriority
	}
	return *in.Priority
}

// Hash identifies the content of the spec: a bead is dispatched at most once
// per hash. The ID is left out: it is the object's identity, not its
// content, and beads synced before spec.id existed keep their hash.
func (in *BeadSpec) Hash() string {
	spec := *in
	spec.ID = ""
	b, _ := json.Marshal(&spec) // a plain struct: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// BeadPhase is where a bead stands in its lifecycle.
type BeadPhase string

const (
	BeadPhaseOpen     BeadPhase = "Open"
	BeadPhaseBlocked  BeadPhase = "Blocked"
	BeadPhaseReady    BeadPhase = "Ready"
	BeadPhaseWorking  BeadPhase = "Working"
	BeadPhaseInReview BeadPhase = "InReview"
	BeadPhaseMerged   BeadPhase = "Merged"
	BeadPhaseClosed   BeadPhase = "Closed"
	BeadPhaseFailed   BeadPhase = "Failed"
	BeadPhaseRejected BeadPhase = "Rejected"
)

// BeadStatus is the cluster-side state of a bead. The Bead controller is
// its only writer: it derives every field from the bead's polecats (which
// the rig's dispatcher creates) and its merge requests (which the Refinery
// keeps).
type BeadStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (true once closed), Reconciling (work under way:
	// Blocked to Merged), Stalled (Failed or Rejected), BeadsValid (false
	// when its file is broken).
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase: Open, Blocked, Ready, Working, InReview, Merged, Closed, Failed
	// or Rejected.
	// +optional
	Phase BeadPhase `json:"phase,omitempty"`

	// ReadySince is when the bead became Ready, while it is: the start of
	// gastown_dispatch_latency_seconds for the polecat made for it.
	// +optional
	ReadySince *metav1.Time `json:"readySince,omitempty"`

	// Dispatch sums up the bead's dispatched polecats.
	// +optional
	Dispatch *DispatchStatus `json:"dispatch,omitempty"`

	// Polecat is the bead's latest polecat.
	// +optional
	Polecat string `json:"polecat,omitempty"`

	// Branch the bead's work was pushed to.
	// +optional
	Branch string `json:"branch,omitempty"`

	// Commit is the SHA of the pushed work.
	// +optional
	Commit string `json:"commit,omitempty"`

	// Result of the latest finished polecat.
	// +optional
	Result *PolecatResult `json:"result,omitempty"`

	// PullRequest of the bead's latest attempt, as its MergeRequest has it.
	// +optional
	PullRequest *PullRequestStatus `json:"pullRequest,omitempty"`
}

// DispatchStatus sums up a bead's dispatched polecats, read from their
// spec-hash and retry-token annotations.
type DispatchStatus struct {
	// Polecat is the latest dispatched polecat; its merge request carries
	// its name.
	// +optional
	Polecat string `json:"polecat,omitempty"`

	// SpecHash of the spec the latest polecat was dispatched for.
	SpecHash string `json:"specHash"`

	// Retry is the value of the retry annotation the latest polecat was
	// dispatched for.
	// +optional
	Retry string `json:"retry,omitempty"`

	// Attempts is the number of polecats dispatched for SpecHash and Retry.
	Attempts int32 `json:"attempts"`

	// Runs is the number of polecats ever dispatched for the bead.
	Runs int32 `json:"runs"`

	// LastDispatchTime is when the latest polecat was created.
	// +optional
	LastDispatchTime *metav1.Time `json:"lastDispatchTime,omitempty"`
}

// PullRequestStatus is the state of a bead's pull request.
type PullRequestStatus struct {
	// Number of the pull request; 0 for the git provider, which opens none.
	// +optional
	Number int `json:"number,omitempty"`

	// URL of the pull request.
	// +optional
	URL string `json:"url,omitempty"`

	// State: open, closed or merged.
	// +kubebuilder:validation:Enum=open;closed;merged
	State string `json:"state"`

	// HeadBranch of the pull request.
	// +optional
	HeadBranch string `json:"headBranch,omitempty"`

	// HeadSHA the gate was last evaluated for.
	// +optional
	HeadSHA string `json:"headSHA,omitempty"`

	// MergeCommit is the SHA of the merge on the target branch.
	// +optional
	MergeCommit string `json:"mergeCommit,omitempty"`

	// MergedAt is when the pull request merged.
	// +optional
	MergedAt *metav1.Time `json:"mergedAt,omitempty"`

	// Gate says what the merge waits for, e.g. "1 approval missing".
	// +optional
	Gate string `json:"gate,omitempty"`

	// Revisions is the number of revision polecats launched for review comments.
	// +optional
	Revisions int32 `json:"revisions,omitempty"`

	// ConflictFixes is the number of conflict-resolution polecats launched.
	// +optional
	ConflictFixes int32 `json:"conflictFixes,omitempty"`

	// LastReviewID is the latest "changes requested" review a revision was launched for.
	// +optional
	LastReviewID int64 `json:"lastReviewID,omitempty"`

	// ReviewRequested is the number of revisions after which review was
	// requested again.
	// +optional
	ReviewRequested int32 `json:"reviewRequested,omitempty"`

	// Failure says why the Refinery gave up on the pull request; the bead is
	// Failed until it is edited or retried.
	// +optional
	Failure string `json:"failure,omitempty"`
}

// Pull request states.
const (
	PullRequestOpen   = "open"
	PullRequestClosed = "closed"
	PullRequestMerged = "merged"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bd,categories=gastown
// +kubebuilder:printcolumn:name="Rig",type=string,JSONPath=`.spec.rigRef`
// +kubebuilder:printcolumn:name="Title",type=string,JSONPath=`.spec.title`
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Polecat",type=string,JSONPath=`.status.polecat`,priority=1
// +kubebuilder:printcolumn:name="PR",type=string,JSONPath=`.status.pullRequest.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Bead is one work item, synced from a bead file in git. Its name is
// derived from the bead ID by BeadObjectName (the ID itself when it is a
// DNS-1123 label of at most 50 characters), so that the names of its
// polecats and pods fit in label values; spec.id holds the ID.
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 50",message="a bead ID has at most 50 characters"
type Bead struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BeadSpec   `json:"spec,omitempty"`
	Status BeadStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Bead) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Bead) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *Bead) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *Bead) GetStatus() any { return &in.Status }

// +kubebuilder:object:root=true

// BeadList is a list of Beads.
type BeadList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Bead `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Bead{}, &BeadList{})
}
