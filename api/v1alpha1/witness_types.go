package v1alpha1

import (
	"github.com/fluxcd/pkg/apis/meta"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WitnessKind is the kind name of Witness.
const WitnessKind = "Witness"

// Defaults of a Witness.
const (
	DefaultHealthCheckInterval = 30 * time.Second
	DefaultStuckThreshold      = 15 * time.Minute
)

// WitnessSpec is the health policy for a rig's polecats.
type WitnessSpec struct {
	// RigRef names the rig whose polecats are watched.
	// +kubebuilder:validation:MinLength=1
	RigRef string `json:"rigRef"`

	// HealthCheckInterval is how often running polecats are checked.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default="30s"
	// +optional
	HealthCheckInterval *metav1.Duration `json:"healthCheckInterval,omitempty"`

	// StuckThreshold: a polecat with no log output for this long is stuck.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default="15m"
	// +optional
	StuckThreshold *metav1.Duration `json:"stuckThreshold,omitempty"`

	// PendingTimeout: a pod pending (unschedulable, image or secret
	// problems) for this long is escalated.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default="10m"
	// +optional
	PendingTimeout *metav1.Duration `json:"pendingTimeout,omitempty"`

	// MaxRestarts is how often a stuck polecat is restarted before it is
	// escalated.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxRestarts *int32 `json:"maxRestarts,omitempty"`

	// EscalationTarget names who escalations are for; it is put on the
	// escalation events.
	// +kubebuilder:default=mayor
	// +optional
	EscalationTarget string `json:"escalationTarget,omitempty"`

	// Suspend stops health checks.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// WitnessStatus is what the Witness found.
type WitnessStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase: Active or Degraded; empty until the first check.
	// +optional
	Phase string `json:"phase,omitempty"`

	// PolecatsSummary counts the rig's running and stuck polecats, for the
	// printer columns.
	// +optional
	PolecatsSummary PolecatsSummary `json:"polecatsSummary,omitempty"`

	// Findings are the problems seen in the last check.
	// +optional
	Findings []WitnessFinding `json:"findings,omitempty"`
}

// PolecatsSummary counts the polecats the Witness looks after. Only the
// counts the printer columns show are kept: the Witness writes its status
// when they change, and the other phases are `kubectl get polecats` (or
// the gastown_polecats gauge) away.
type PolecatsSummary struct {
	// Running polecats: their pods run.
	// +optional
	Running int32 `json:"running,omitempty"`
	// Stuck polecats: running, with no output for stuckThreshold.
	// +optional
	Stuck int32 `json:"stuck,omitempty"`
}

// WitnessFinding is a problem with one polecat and what was done about it.
type WitnessFinding struct {
	// Polecat with the problem.
	Polecat string `json:"polecat"`
	// Reason, e.g. Stuck, ImagePullFailed, SecretNotFound, OOMKilled.
	Reason string `json:"reason"`
	// Message for people.
	Message string `json:"message"`
	// Action taken: Restarted or Escalated.
	// +optional
	Action string `json:"action,omitempty"`
	// Since when the problem was first seen.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// Witness phases.
const (
	WitnessPhaseActive   = "Active"
	WitnessPhaseDegraded = "Degraded"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wt,categories=gastown
// +kubebuilder:printcolumn:name="Rig",type=string,JSONPath=`.spec.rigRef`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Running",type=integer,JSONPath=`.status.polecatsSummary.running`
// +kubebuilder:printcolumn:name="Stuck",type=integer,JSONPath=`.status.polecatsSummary.stuck`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Witness watches a rig's polecats and restarts or escalates stuck ones.
type Witness struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WitnessSpec   `json:"spec,omitempty"`
	Status WitnessStatus `json:"status,omitempty"`
}

// GetConditions returns the status conditions.
func (in *Witness) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions sets the status conditions.
func (in *Witness) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (in *Witness) SetObservedGeneration(g int64) { in.Status.ObservedGeneration = g }

// GetStatus is the status, which the operator's patch helper diffs on its
// own.
func (in *Witness) GetStatus() any { return &in.Status }

// GetRequeueAfter returns the health check interval.
func (in *Witness) GetRequeueAfter() time.Duration {
	if in.Spec.HealthCheckInterval != nil && in.Spec.HealthCheckInterval.Duration > 0 {
		return in.Spec.HealthCheckInterval.Duration
	}
	return DefaultHealthCheckInterval
}

// +kubebuilder:object:root=true

// WitnessList is a list of Witnesses.
type WitnessList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Witness `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Witness{}, &WitnessList{})
}
