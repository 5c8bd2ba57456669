package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MergeRequestKind is the kind name of MergeRequest.
const MergeRequestKind = "MergeRequest"

// MergeRequestSpec says which pushed work the merge request is for. The
// Refinery sets it when it takes the work into its queue; it never changes.
type MergeRequestSpec struct {
	// BeadRef names the Bead object (in the same namespace) the work is for.
	// +kubebuilder:validation:MinLength=1
	BeadRef string `json:"beadRef"`

	// RigRef names the rig.
	// +kubebuilder:validation:MinLength=1
	RigRef string `json:"rigRef"`

	// Polecat is the dispatched polecat whose push the merge request is
	// for: one merge request per attempt, named after it.
	// +kubebuilder:validation:MinLength=1
	Polecat string `json:"polecat"`

	// HeadBranch the work was pushed to.
	// +kubebuilder:validation:MinLength=1
	HeadBranch string `json:"headBranch"`
}

// MergeRequestStatus is what the Refinery learned of the pull request (or,
// with the git provider, the direct merge). The Refinery is its only
// writer; the bead's phase and status.pullRequest are derived from it.
type MergeRequestStatus struct {
	// ObservedGeneration is the generation the Refinery last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (true once merged), Stalled (closed unmerged, or
	// given up on).
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	PullRequestStatus `json:",inline"`

	// BeadGeneration and BeadRetry are the bead's metadata.generation and
	// retry annotation when the Refinery recorded the merge: the merge
	// holds the bead (Merged, until the source shows it closed) only while
	// the bead is unchanged; reopened, edited or retried since, it runs
	// again.
	// +optional
	BeadGeneration int64 `json:"beadGeneration,omitempty"`
	// +optional
	BeadRetry string `json:"beadRetry,omitempty"`

	// Notice is what the Refinery's standing comment on the pull request
	// says (follow-up polecats that failed, the Witness's escalations), and
	// NoticeCommentID the comment: it is edited, never posted again.
	// +optional
	Notice string `json:"notice,omitempty"`
	// +optional
	NoticeCommentID int64 `json:"noticeCommentID,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mr,categories=gastown
// +kubebuilder:printcolumn:name="Bead",type=string,JSONPath=`.spec.beadRef`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Gate",type=string,JSONPath=`.status.gate`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MergeRequest is the Refinery's record of one attempt's pushed work on its
// way into the target branch: the pull request's number, state, gate,
// follow-ups and merge commit. The Bead owns it; an edited or reopened bead
// gets a new one with its next attempt, and the old one stays as history.
// +kubebuilder:validation:XValidation:rule="self.spec == oldSelf.spec",message="spec is immutable: a merge request is for one attempt"
type MergeRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MergeRequestSpec   `json:"spec"`
	Status MergeRequestStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *MergeRequest) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *MergeRequest) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *MergeRequest) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *MergeRequest) GetStatus() any { return &in.Status }

// +kubebuilder:object:root=true

// MergeRequestList is a list of MergeRequests.
type MergeRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MergeRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MergeRequest{}, &MergeRequestList{})
}
