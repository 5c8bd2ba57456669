package v1alpha1

import (
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BeadStoreKind is the kind name of BeadStore.
const BeadStoreKind = "BeadStore"

// BeadFormat is the file format of a BeadStore's bead files.
// +kubebuilder:validation:Enum=manifests;beads-jsonl
type BeadFormat string

const (
	// FormatManifests reads Bead and Convoy YAML documents under the path.
	FormatManifests BeadFormat = "manifests"
	// FormatBeadsJSONL reads issues.jsonl of the beads (bd) tool in the path.
	FormatBeadsJSONL BeadFormat = "beads-jsonl"
)

// Defaults of a BeadStore.
const (
	DefaultManifestsPath  = ".gastown"
	DefaultBeadsJSONLPath = ".beads"
	DefaultSyncInterval   = 5 * time.Minute
	// MaxReportedErrors bounds status.errors; status.errorCount has the total.
	MaxReportedErrors = 20
)

// BeadStoreSpec says where a rig's bead files live in its source and in
// which format.
type BeadStoreSpec struct {
	// RigRef names the Rig whose source holds the bead files.
	// +kubebuilder:validation:MinLength=1
	RigRef string `json:"rigRef"`

	// Path of the bead files in the source artifact: .gastown for manifests,
	// .beads for beads-jsonl when empty.
	// +optional
	Path string `json:"path,omitempty"`

	// Format of the bead files.
	// +kubebuilder:default=manifests
	// +optional
	Format BeadFormat `json:"format,omitempty"`

	// Prefix every bead ID must start with, e.g. "gt-".
	// +kubebuilder:validation:Pattern=`^[a-z]+-$`
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// WorkTypes are the bead types that are dispatched: task, bug, feature
	// and chore when empty. Epics and bd's workflow and identity types may
	// be listed to widen it.
	// +listType=set
	// +optional
	WorkTypes []BeadType `json:"workTypes,omitempty"`

	// Prune deletes Beads and Convoys whose files are gone from the source.
	// +kubebuilder:default=true
	// +optional
	Prune *bool `json:"prune,omitempty"`

	// SyncInterval at which the store re-reads the artifact without a new
	// revision, as a safety net; new revisions are seen at once.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default="5m"
	// +optional
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`

	// GitSecretRef is kept so that manifests of the original operator apply.
	// It is not used: Flux fetches the source.
	// +optional
	GitSecretRef *meta.LocalObjectReference `json:"gitSecretRef,omitempty"`

	// Suspend stops syncing.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// BeadStoreStatus is the observed state of a BeadStore.
type BeadStoreStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled, ArtifactFetched, BeadsValid.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase for printing: Pending, Synced or Error.
	// +optional
	Phase string `json:"phase,omitempty"`

	// LastAppliedRevision is the source revision last synced.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`

	// LastAttemptedRevision is the source revision last read.
	// +optional
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`

	// LastSyncTime is when the store last synced.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// IssueCount is how many beads the store holds.
	// +optional
	IssueCount int32 `json:"issueCount,omitempty"`

	// ConvoyCount is how many convoys the store holds.
	// +optional
	ConvoyCount int32 `json:"convoyCount,omitempty"`

	// Errors in the bead files, as FILE:LINE: message, at most 20.
	// +optional
	Errors []string `json:"errors,omitempty"`

	// ErrorCount is the number of errors, reported or not.
	// +optional
	ErrorCount int32 `json:"errorCount,omitempty"`

	// Warnings about the bead files, as FILE:LINE: message, at most 20:
	// problems that do not stop a bead (a duplicated ID, a dependency on
	// a bead that is not in the file).
	// +optional
	Warnings []string `json:"warnings,omitempty"`

	// WarningCount is the number of warnings, reported or not.
	// +optional
	WarningCount int32 `json:"warningCount,omitempty"`
}

// BeadStore phases.
const (
	BeadStorePhasePending = "Pending"
	BeadStorePhaseSynced  = "Synced"
	BeadStorePhaseError   = "Error"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bs,categories=gastown
// +kubebuilder:printcolumn:name="Rig",type=string,JSONPath=`.spec.rigRef`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Beads",type=integer,JSONPath=`.status.issueCount`
// +kubebuilder:printcolumn:name="Errors",type=integer,JSONPath=`.status.errorCount`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.lastAppliedRevision`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// BeadStore reads a rig's bead files from its Flux source artifact and keeps
// Bead and Convoy objects in step with them.
type BeadStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BeadStoreSpec   `json:"spec,omitempty"`
	Status BeadStoreStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *BeadStore) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *BeadStore) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *BeadStore) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *BeadStore) GetStatus() any { return &in.Status }

// GetRequeueAfter returns the sync interval.
func (in *BeadStore) GetRequeueAfter() time.Duration {
	if in.Spec.SyncInterval != nil && in.Spec.SyncInterval.Duration > 0 {
		return in.Spec.SyncInterval.Duration
	}
	return DefaultSyncInterval
}

// BeadsPath returns the path of the bead files in the artifact.
func (in *BeadStore) BeadsPath() string {
	switch {
	case in.Spec.Path != "":
		return in.Spec.Path
	case in.Spec.Format == FormatBeadsJSONL:
		return DefaultBeadsJSONLPath
	default:
		return DefaultManifestsPath
	}
}

// DefaultWorkTypes are the bead types dispatched when spec.workTypes is empty.
var DefaultWorkTypes = []BeadType{"task", "bug", "feature", "chore"}

// DispatchedTypes returns spec.workTypes, or DefaultWorkTypes.
func (in *BeadStore) DispatchedTypes() []BeadType {
	if len(in.Spec.WorkTypes) > 0 {
		return in.Spec.WorkTypes
	}
	return DefaultWorkTypes
}

// PruneEnabled says whether objects of deleted files are deleted.
func (in *BeadStore) PruneEnabled() bool { return in.Spec.Prune == nil || *in.Spec.Prune }

// +kubebuilder:object:root=true

// BeadStoreList is a list of BeadStores.
type BeadStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BeadStore `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BeadStore{}, &BeadStoreList{})
}
