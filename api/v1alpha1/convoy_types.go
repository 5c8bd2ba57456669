package v1alpha1

import (
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConvoyKind is the kind name of Convoy.
const ConvoyKind = "Convoy"

// ConvoySpec is a batch of beads that land together.
// +kubebuilder:validation:XValidation:rule="size(self.trackedBeads) > 0",message="spec.trackedBeads must name at least one bead"
type ConvoySpec struct {
	// Description of the batch.
	// +optional
	Description string `json:"description,omitempty"`

	// TrackedBeads are the IDs of the beads in the batch.
	// +listType=set
	TrackedBeads []string `json:"trackedBeads"`

	// Parallelism is the most polecats of the convoy that run at once; 0 means
	// only the rig's limit applies.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Parallelism int32 `json:"parallelism,omitempty"`

	// RigRef names the rig of the beads.
	// +optional
	RigRef string `json:"rigRef,omitempty"`

	// NotifyOnComplete names who to tell when the convoy lands; it is put on
	// the Landed event.
	// +optional
	NotifyOnComplete string `json:"notifyOnComplete,omitempty"`
}

// ConvoyStatus is the progress of a convoy.
type ConvoyStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready (true once landed), Reconciling, Stalled.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase: Pending, InProgress, Landed or Failed.
	// +optional
	Phase string `json:"phase,omitempty"`

	// Progress as closed/total, e.g. 3/5.
	// +optional
	Progress string `json:"progress,omitempty"`

	// CompletedBeads are the tracked beads that are closed.
	// +optional
	CompletedBeads []string `json:"completedBeads,omitempty"`

	// PendingBeads are the tracked beads not closed yet.
	// +optional
	PendingBeads []string `json:"pendingBeads,omitempty"`

	// FailedBeads are the tracked beads that Failed or were Rejected.
	// +optional
	FailedBeads []string `json:"failedBeads,omitempty"`

	// StartedAt is when the first tracked bead started work.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// CompletedAt is when the convoy landed.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// Convoy phases.
const (
	ConvoyPhasePending    = "Pending"
	ConvoyPhaseInProgress = "InProgress"
	ConvoyPhaseLanded     = "Landed"
	ConvoyPhaseFailed     = "Failed"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cv,categories=gastown
// +kubebuilder:printcolumn:name="Rig",type=string,JSONPath=`.spec.rigRef`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Parallelism",type=integer,JSONPath=`.spec.parallelism`,priority=1
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Convoy tracks a batch of beads and limits how many of them run at once.
type Convoy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ConvoySpec   `json:"spec,omitempty"`
	Status ConvoyStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Convoy) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Convoy) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *Convoy) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *Convoy) GetStatus() any { return &in.Status }

// +kubebuilder:object:root=true

// ConvoyList is a list of Convoys.
type ConvoyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Convoy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Convoy{}, &ConvoyList{})
}
