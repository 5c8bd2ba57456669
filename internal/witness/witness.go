// Package witness decides what is wrong with a running polecat and what to
// do about it: restart it or escalate it to a person. It holds no
// controller-runtime: the Witness reconciler gathers a polecat, its pod and
// the time of its last output, asks Policy.Check, and acts on the Finding.
//
// A pod that has ended (deadline, exit) is the Polecat controller's to
// report and the dispatcher's to retry; the Witness looks at runs that are
// still waiting or running and have stopped making progress.
package witness

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

// Annotations the Witness keeps on a polecat. They live on the object, not
// in the operator's memory, so that the restart budget survives operator
// restarts and leader changes.
const (
	// RestartsAnnotation counts the pods the Witness deleted to restart
	// the polecat.
	RestartsAnnotation = "gastown.gastown.io/witness-restarts"
	// RestartedPodAnnotation is the UID of the last pod the Witness
	// deleted, so that a pod still in a stale cache is not counted twice.
	RestartedPodAnnotation = "gastown.gastown.io/witness-restarted-pod"
)

// Defaults for the spec fields the CRD also defaults; they apply to a
// Witness built in Go without the API server's defaulting.
const (
	DefaultPendingTimeout       = 10 * time.Minute
	DefaultMaxRestarts    int32 = 1
)

// Finding reasons beside those of the API package (Stuck, ImagePullFailed,
// SecretNotFound, PodPending).
const (
	UnschedulableReason = "Unschedulable"
	CrashLoopReason     = "CrashLoopBackOff"
	OOMKilledReason     = "OOMKilled"
)

// Action is what the Witness does about a finding.
type Action string

const (
	// Restart deletes the pod; the Polecat controller creates a new one.
	// Check returns it only for a polecat with a pod.
	Restart Action = "Restart"
	// Escalate tells a person: restarting is used up or cannot help.
	Escalate Action = "Escalate"
)

// Done is the action in the past tense, as the Witness's status and events
// record it.
func (a Action) Done() string {
	if a == Restart {
		return "Restarted"
	}
	return "Escalated"
}

// Finding is a problem with one polecat and what to do about it.
type Finding struct {
	Reason  string
	Message string
	Action  Action
	// Since is when the problem began: when the pod started pending or
	// the polecat last wrote output. It stays the same from one check to
	// the next, and so does Message, so that a finding that persists
	// produces no new events.
	Since time.Time
}

// Policy is a Witness's health policy with its defaults resolved.
type Policy struct {
	StuckThreshold time.Duration
	PendingTimeout time.Duration
	MaxRestarts    int32
}

// NewPolicy resolves the policy of a Witness spec.
func NewPolicy(spec gastownv1.WitnessSpec) Policy {
	p := Policy{
		StuckThreshold: gastownv1.DefaultStuckThreshold,
		PendingTimeout: DefaultPendingTimeout,
		MaxRestarts:    DefaultMaxRestarts,
	}
	if d := spec.StuckThreshold; d != nil && d.Duration > 0 {
		p.StuckThreshold = d.Duration
	}
	if d := spec.PendingTimeout; d != nil && d.Duration > 0 {
		p.PendingTimeout = d.Duration
	}
	if spec.MaxRestarts != nil {
		p.MaxRestarts = *spec.MaxRestarts
	}
	return p
}

// stuckThreshold is the polecat's own maxIdleSeconds, else the policy's.
func (p Policy) stuckThreshold(pc *gastownv1.Polecat) time.Duration {
	if s := pc.Spec.MaxIdleSeconds; s != nil && *s > 0 {
		return time.Duration(*s) * time.Second
	}
	return p.StuckThreshold
}

// Observation is what the Witness knows about one polecat at one moment.
type Observation struct {
	Polecat *gastownv1.Polecat
	// Pod is the polecat's pod: nil for a local run, and between pods.
	Pod *corev1.Pod
	// LastOutput is when the polecat last wrote a log line; zero when it
	// wrote none yet.
	LastOutput time.Time
	Now        time.Time
}

// Check returns what is wrong with the polecat, or nil.
func (p Policy) Check(o Observation) *Finding {
	if o.Pod != nil && o.Pod.DeletionTimestamp != nil {
		return nil // on its way out; the Polecat controller makes the next one
	}
	if f := p.crashed(o); f != nil {
		return f
	}
	switch {
	case Pending(o.Polecat, o.Pod):
		return p.pending(o)
	case Running(o.Polecat, o.Pod):
		return p.stuck(o)
	}
	return nil
}

// Pending says whether the polecat waits for its pod or local process to
// start.
func Pending(pc *gastownv1.Polecat, pod *corev1.Pod) bool {
	if pod != nil {
		return pod.Status.Phase == corev1.PodPending || pod.Status.Phase == ""
	}
	return pc.Status.Phase == gastownv1.PolecatPhasePending || pc.Status.Phase == ""
}

// Running says whether the polecat's agent runs, so that its output tells
// whether it makes progress. A kubernetes polecat without a pod is between
// pods and does not run.
func Running(pc *gastownv1.Polecat, pod *corev1.Pod) bool {
	if pod != nil {
		return pod.Status.Phase == corev1.PodRunning
	}
	return isLocal(pc) && pc.Status.Phase == gastownv1.PolecatPhaseWorking
}

func isLocal(pc *gastownv1.Polecat) bool {
	return pc.Spec.ExecutionMode == gastownv1.ExecutionModeLocal
}

// pending finds a polecat that waits longer than the pending timeout and
// says why, from the PodReady condition the Polecat controller keeps.
func (p Policy) pending(o Observation) *Finding {
	since := pendingSince(o.Polecat, o.Pod)
	if o.Now.Sub(since) < p.PendingTimeout {
		return nil
	}
	reason, cause := pendingCause(o.Polecat, o.Pod)
	f := &Finding{Reason: reason, Since: since,
		Message: fmt.Sprintf("pending for longer than pendingTimeout %s: %s", p.PendingTimeout, cause)}
	switch reason {
	case gastownv1.ImagePullFailedReason, gastownv1.SecretNotFoundReason:
		// The same image and secrets fail the same way in a new pod.
		f.Action = Escalate
	case UnschedulableReason:
		// The scheduler retries the pod anyway; an identical pod fits
		// no better.
		f.Action = Escalate
	default:
		if o.Pod == nil {
			f.Action = Escalate // no pod to restart
			return f
		}
		return p.restartOrEscalate(o.Polecat, f)
	}
	return f
}

// pendingSince is when the wait began: the pod's creation, else when the
// polecat's PodReady condition last changed, else the polecat's creation.
func pendingSince(pc *gastownv1.Polecat, pod *corev1.Pod) time.Time {
	if pod != nil {
		return pod.CreationTimestamp.Time
	}
	if c := apimeta.FindStatusCondition(pc.Status.Conditions, gastownv1.PodReadyCondition); c != nil {
		return c.LastTransitionTime.Time
	}
	return pc.CreationTimestamp.Time
}

// pendingCause is the reason and message of a long wait.
func pendingCause(pc *gastownv1.Polecat, pod *corev1.Pod) (string, string) {
	reason, msg := gastownv1.PodPendingReason, ""
	if c := apimeta.FindStatusCondition(pc.Status.Conditions, gastownv1.PodReadyCondition); c != nil {
		reason, msg = c.Reason, c.Message
	}
	if reason == gastownv1.ImagePullFailedReason || reason == gastownv1.SecretNotFoundReason {
		return reason, msg
	}
	if pod != nil {
		if c := podCondition(pod, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
			return UnschedulableReason, fmt.Sprintf("pod %s is not scheduled: %s", pod.Name, c.Message)
		}
	}
	if msg == "" {
		msg = "the run has not started"
	}
	return gastownv1.PodPendingReason, msg
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// crashed finds a container that crash-loops or was killed for memory.
func (p Policy) crashed(o Observation) *Finding {
	if o.Pod == nil {
		return nil
	}
	for _, cs := range containerStatuses(o.Pod) {
		if t := oomKilled(cs); t != nil {
			// The same limit kills the next pod too: a person raises it.
			return &Finding{Reason: OOMKilledReason, Action: Escalate, Since: t.FinishedAt.Time,
				Message: fmt.Sprintf("container %s was OOMKilled: raise the polecat's resources.limits.memory", cs.Name)}
		}
		if w := cs.State.Waiting; w != nil && w.Reason == CrashLoopReason {
			f := &Finding{Reason: CrashLoopReason, Since: o.Pod.CreationTimestamp.Time,
				Message: fmt.Sprintf("container %s is in CrashLoopBackOff", cs.Name)}
			return p.restartOrEscalate(o.Polecat, f)
		}
	}
	return nil
}

func containerStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	return append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
}

func oomKilled(cs corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
		if t != nil && t.Reason == OOMKilledReason {
			return t
		}
	}
	return nil
}

// stuck finds a running polecat that wrote nothing for its stuck threshold.
func (p Policy) stuck(o Observation) *Finding {
	last := lastSignOfLife(o)
	threshold := p.stuckThreshold(o.Polecat)
	if o.Now.Sub(last) < threshold {
		return nil
	}
	f := &Finding{Reason: gastownv1.StuckReason, Since: last,
		Message: fmt.Sprintf("no output since %s (stuck threshold %s)", last.UTC().Format(time.RFC3339), threshold)}
	if o.Pod == nil {
		// A local run is a child of the Polecat controller; the Witness
		// has no pod to delete.
		f.Action = Escalate
		f.Message += "; a local run is not restarted: set desiredState Terminated to stop it"
		return f
	}
	return p.restartOrEscalate(o.Polecat, f)
}

// lastSignOfLife is the latest of the last output and the run's start, so
// that a run that has not written anything yet gets its full threshold.
func lastSignOfLife(o Observation) time.Time {
	last := o.LastOutput
	later := func(t time.Time) {
		if t.After(last) {
			last = t
		}
	}
	if s := o.Polecat.Status.StartedAt; s != nil {
		later(s.Time)
	}
	if pod := o.Pod; pod != nil {
		later(pod.CreationTimestamp.Time)
		if pod.Status.StartTime != nil {
			later(pod.Status.StartTime.Time)
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if r := cs.State.Running; r != nil {
				later(r.StartedAt.Time)
			}
		}
	}
	return last
}

// restartOrEscalate restarts while the polecat has restarts left.
func (p Policy) restartOrEscalate(pc *gastownv1.Polecat, f *Finding) *Finding {
	if n := Restarts(pc); n >= p.MaxRestarts {
		f.Action = Escalate
		f.Message += fmt.Sprintf("; restarted %d times already (maxRestarts %d)", n, p.MaxRestarts)
		return f
	}
	f.Action = Restart
	return f
}

// Restarts is how often the Witness restarted the polecat. Removing the
// annotation gives the polecat its restarts back; a value that is not a
// number counts as none.
func Restarts(pc *gastownv1.Polecat) int32 {
	n, err := strconv.ParseInt(pc.Annotations[RestartsAnnotation], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// AlreadyRestarted says whether pod is the one the Witness last deleted:
// a cache that has not seen the deletion yet still shows it.
func AlreadyRestarted(pc *gastownv1.Polecat, pod *corev1.Pod) bool {
	return pod != nil && pod.UID != "" && string(pod.UID) == pc.Annotations[RestartedPodAnnotation]
}

// AgentContainer names the pod's agent container: the one kubectl logs
// picks by default.
func AgentContainer(pod *corev1.Pod) string {
	if name := pod.Annotations[polecat.DefaultContainerAnnotation]; name != "" {
		return name
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Name
	}
	return ""
}
