package witness

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func mtime(d time.Duration) *metav1.Time {
	t := metav1.NewTime(ago(d))
	return &t
}

func newPolecat(mutate ...func(*gastownv1.Polecat)) *gastownv1.Polecat {
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-a", Namespace: "workers", CreationTimestamp: metav1.NewTime(ago(time.Hour))},
		Spec:       gastownv1.PolecatSpec{Rig: "acme", ExecutionMode: gastownv1.ExecutionModeKubernetes},
		Status:     gastownv1.PolecatStatus{Phase: gastownv1.PolecatPhaseWorking, StartedAt: mtime(time.Hour)},
	}
	for _, m := range mutate {
		m(pc)
	}
	return pc
}

func restarted(n string) func(*gastownv1.Polecat) {
	return func(pc *gastownv1.Polecat) { pc.Annotations = map[string]string{RestartsAnnotation: n} }
}

func podReady(reason, msg string, since time.Duration) func(*gastownv1.Polecat) {
	return func(pc *gastownv1.Polecat) {
		pc.Status.Phase = gastownv1.PolecatPhasePending
		pc.Status.Conditions = []metav1.Condition{{Type: gastownv1.PodReadyCondition, Status: metav1.ConditionFalse,
			Reason: reason, Message: msg, LastTransitionTime: *mtime(since)}}
	}
}

func local(pc *gastownv1.Polecat) {
	pc.Spec.ExecutionMode = gastownv1.ExecutionModeLocal
	pc.Status.LocalLog = "/tmp/gt-a.log"
}

func newPod(phase corev1.PodPhase, created time.Duration, mutate ...func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "polecat-gt-a", Namespace: "workers", UID: "uid-1", CreationTimestamp: *mtime(created)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "claude"}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
	for _, m := range mutate {
		m(pod)
	}
	return pod
}

func agentStarted(d time.Duration) func(*corev1.Pod) {
	return func(pod *corev1.Pod) {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "claude",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *mtime(d)}}}}
	}
}

func unscheduled(pod *corev1.Pod) {
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."}}
}

func TestWitnessCheck(t *testing.T) {
	spec := gastownv1.WitnessSpec{
		StuckThreshold: &metav1.Duration{Duration: 15 * time.Minute},
		PendingTimeout: &metav1.Duration{Duration: 10 * time.Minute},
		MaxRestarts:    ptr(int32(1)),
	}
	tests := []struct {
		name       string
		spec       *gastownv1.WitnessSpec
		polecat    *gastownv1.Polecat
		pod        *corev1.Pod
		lastOutput time.Time
		// want is nil for no finding.
		want *Finding
		// message is a part of the finding's message.
		message string
	}{
		{name: "running with recent output", polecat: newPolecat(),
			pod: newPod(corev1.PodRunning, time.Hour, agentStarted(time.Hour)), lastOutput: ago(time.Minute)},
		{name: "running silent past the threshold is restarted", polecat: newPolecat(),
			pod: newPod(corev1.PodRunning, time.Hour, agentStarted(time.Hour)), lastOutput: ago(20 * time.Minute),
			want:    &Finding{Reason: gastownv1.StuckReason, Action: Restart, Since: ago(20 * time.Minute)},
			message: "no output since 2025-06-01T11:40:00Z (stuck threshold 15m0s)"},
		{name: "no output yet counts from the agent's start", polecat: newPolecat(),
			pod:  newPod(corev1.PodRunning, time.Hour, agentStarted(16*time.Minute)),
			want: &Finding{Reason: gastownv1.StuckReason, Action: Restart, Since: ago(16 * time.Minute)}},
		{name: "a long image pull does not eat the threshold", polecat: newPolecat(),
			pod: newPod(corev1.PodRunning, time.Hour, agentStarted(time.Minute))},
		{name: "stuck with restarts used up is escalated", polecat: newPolecat(restarted("1")),
			pod: newPod(corev1.PodRunning, time.Hour, agentStarted(time.Hour)), lastOutput: ago(20 * time.Minute),
			want:    &Finding{Reason: gastownv1.StuckReason, Action: Escalate, Since: ago(20 * time.Minute)},
			message: "restarted 1 times already (maxRestarts 1)"},
		{name: "maxRestarts 0 escalates at once", spec: &gastownv1.WitnessSpec{MaxRestarts: ptr(int32(0))}, polecat: newPolecat(),
			pod: newPod(corev1.PodRunning, time.Hour), lastOutput: ago(20 * time.Minute),
			want: &Finding{Reason: gastownv1.StuckReason, Action: Escalate, Since: ago(20 * time.Minute)}},
		{name: "maxIdleSeconds shortens the threshold",
			polecat: newPolecat(func(pc *gastownv1.Polecat) { pc.Spec.MaxIdleSeconds = ptr(int32(60)) }),
			pod:     newPod(corev1.PodRunning, time.Hour), lastOutput: ago(2 * time.Minute),
			want:    &Finding{Reason: gastownv1.StuckReason, Action: Restart, Since: ago(2 * time.Minute)},
			message: "stuck threshold 1m0s"},
		{name: "maxIdleSeconds lengthens the threshold",
			polecat: newPolecat(func(pc *gastownv1.Polecat) { pc.Spec.MaxIdleSeconds = ptr(int32(3600)) }),
			pod:     newPod(corev1.PodRunning, time.Hour), lastOutput: ago(20 * time.Minute)},
		{name: "pending within the timeout", polecat: newPolecat(podReady(gastownv1.ImagePullFailedReason, "cannot pull", 5*time.Minute)),
			pod: newPod(corev1.PodPending, 5*time.Minute)},
		{name: "image pull failure is escalated",
			polecat: newPolecat(podReady(gastownv1.ImagePullFailedReason, "container claude cannot pull image busybox:nope", 11*time.Minute)),
			pod:     newPod(corev1.PodPending, 11*time.Minute),
			want:    &Finding{Reason: gastownv1.ImagePullFailedReason, Action: Escalate, Since: ago(11 * time.Minute)},
			message: "pending for longer than pendingTimeout 10m0s: container claude cannot pull image busybox:nope"},
		{name: "a missing secret keeps the pod from being created and is escalated",
			polecat: newPolecat(podReady(gastownv1.SecretNotFoundReason, `secret "git-credentials" (gitSecretRef) not found`, 12*time.Minute)),
			want:    &Finding{Reason: gastownv1.SecretNotFoundReason, Action: Escalate, Since: ago(12 * time.Minute)},
			message: `secret "git-credentials"`},
		{name: "a missing secret the pod mounts is escalated",
			polecat: newPolecat(podReady(gastownv1.SecretNotFoundReason, "container claude cannot start: secret not found", 11*time.Minute)),
			pod:     newPod(corev1.PodPending, 11*time.Minute),
			want:    &Finding{Reason: gastownv1.SecretNotFoundReason, Action: Escalate, Since: ago(11 * time.Minute)}},
		{name: "unschedulable is escalated",
			polecat: newPolecat(podReady(gastownv1.PodPendingReason, "pod polecat-gt-a is not scheduled", 11*time.Minute)),
			pod:     newPod(corev1.PodPending, 11*time.Minute, unscheduled),
			want:    &Finding{Reason: UnschedulableReason, Action: Escalate, Since: ago(11 * time.Minute)},
			message: "Insufficient memory"},
		{name: "scheduled but not starting is restarted",
			polecat: newPolecat(podReady(gastownv1.PodPendingReason, "pod polecat-gt-a is pending", 11*time.Minute)),
			pod:     newPod(corev1.PodPending, 11*time.Minute),
			want:    &Finding{Reason: gastownv1.PodPendingReason, Action: Restart, Since: ago(11 * time.Minute)}},
		{name: "scheduled but not starting with restarts used up is escalated",
			polecat: newPolecat(restarted("1"), podReady(gastownv1.PodPendingReason, "pod polecat-gt-a is pending", 11*time.Minute)),
			pod:     newPod(corev1.PodPending, 11*time.Minute),
			want:    &Finding{Reason: gastownv1.PodPendingReason, Action: Escalate, Since: ago(11 * time.Minute)}},
		{name: "between pods", polecat: newPolecat()},
		{name: "a pod being deleted", polecat: newPolecat(),
			pod: newPod(corev1.PodRunning, time.Hour, func(p *corev1.Pod) { p.DeletionTimestamp = mtime(0) })},
		{name: "crash loop is restarted", polecat: newPolecat(),
			pod: newPod(corev1.PodRunning, time.Hour, func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "claude", State: corev1.ContainerState{
					Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s"}}}}
			}),
			want: &Finding{Reason: CrashLoopReason, Action: Restart, Since: ago(time.Hour)}},
		{name: "OOMKilled is escalated", polecat: newPolecat(restarted("0")),
			pod: newPod(corev1.PodRunning, time.Hour, func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "claude", LastTerminationState: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, FinishedAt: *mtime(3 * time.Minute)}}}}
			}),
			want:    &Finding{Reason: OOMKilledReason, Action: Escalate, Since: ago(3 * time.Minute)},
			message: "resources.limits.memory"},
		{name: "local run writing its log", polecat: newPolecat(local), lastOutput: ago(time.Minute)},
		{name: "local run silent is escalated, not restarted", polecat: newPolecat(local), lastOutput: ago(20 * time.Minute),
			want:    &Finding{Reason: gastownv1.StuckReason, Action: Escalate, Since: ago(20 * time.Minute)},
			message: "a local run is not restarted"},
		{name: "local run that cannot start is escalated",
			polecat: newPolecat(local, podReady(gastownv1.PodPendingReason, "cannot start the local run: no claude on PATH", 11*time.Minute)),
			want:    &Finding{Reason: gastownv1.PodPendingReason, Action: Escalate, Since: ago(11 * time.Minute)},
			message: "no claude on PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec
			if tt.spec != nil {
				s = *tt.spec
			}
			got := NewPolicy(s).Check(Observation{Polecat: tt.polecat, Pod: tt.pod, LastOutput: tt.lastOutput, Now: now})
			if tt.want == nil {
				if got != nil {
					t.Fatalf("want no finding, got %+v", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("want %+v, got no finding", tt.want)
			}
			if got.Reason != tt.want.Reason || got.Action != tt.want.Action || !got.Since.Equal(tt.want.Since) {
				t.Errorf("got reason=%s action=%s since=%s, want reason=%s action=%s since=%s",
					got.Reason, got.Action, got.Since, tt.want.Reason, tt.want.Action, tt.want.Since)
			}
			if !strings.Contains(got.Message, tt.message) {
				t.Errorf("message %q does not contain %q", got.Message, tt.message)
			}
		})
	}
}

func TestWitnessCheckIsStableWhileTheProblemLasts(t *testing.T) {
	p := NewPolicy(gastownv1.WitnessSpec{})
	pc, pod := newPolecat(), newPod(corev1.PodRunning, 2*time.Hour)
	first := p.Check(Observation{Polecat: pc, Pod: pod, LastOutput: ago(time.Hour), Now: now})
	later := p.Check(Observation{Polecat: pc, Pod: pod, LastOutput: ago(time.Hour), Now: now.Add(10 * time.Minute)})
	if first == nil || later == nil || *first != *later {
		t.Fatalf("a lasting problem must give the same finding (no new events): %+v then %+v", first, later)
	}
}

func TestWitnessPolicyDefaults(t *testing.T) {
	got := NewPolicy(gastownv1.WitnessSpec{})
	want := Policy{StuckThreshold: gastownv1.DefaultStuckThreshold, PendingTimeout: DefaultPendingTimeout, MaxRestarts: DefaultMaxRestarts}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestWitnessRestartsAnnotation(t *testing.T) {
	for value, want := range map[string]int32{"": 0, "0": 0, "2": 2, "x": 0, "-1": 0} {
		pc := newPolecat()
		if value != "" {
			pc.Annotations = map[string]string{RestartsAnnotation: value}
		}
		if got := Restarts(pc); got != want {
			t.Errorf("Restarts(%q) = %d, want %d", value, got, want)
		}
	}
}

func TestWitnessAlreadyRestarted(t *testing.T) {
	pc := newPolecat(func(pc *gastownv1.Polecat) { pc.Annotations = map[string]string{RestartedPodAnnotation: "uid-1"} })
	if !AlreadyRestarted(pc, newPod(corev1.PodRunning, 0)) {
		t.Error("the pod the Witness deleted is already restarted")
	}
	if AlreadyRestarted(pc, newPod(corev1.PodRunning, 0, func(p *corev1.Pod) { p.UID = "uid-2" })) {
		t.Error("the next pod is not")
	}
	if AlreadyRestarted(newPolecat(), nil) {
		t.Error("no pod is not")
	}
}

func TestWitnessAgentContainer(t *testing.T) {
	pod := newPod(corev1.PodRunning, 0, func(p *corev1.Pod) {
		p.Spec.Containers = []corev1.Container{{Name: "sidecar"}, {Name: "aider"}}
	})
	if got := AgentContainer(pod); got != "sidecar" {
		t.Errorf("without the annotation: got %q, want the first container", got)
	}
	pod.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": "aider"}
	if got := AgentContainer(pod); got != "aider" {
		t.Errorf("with the annotation: got %q, want aider", got)
	}
}

func TestWitnessActionDone(t *testing.T) {
	if Restart.Done() != "Restarted" || Escalate.Done() != "Escalated" {
		t.Errorf("got %s and %s", Restart.Done(), Escalate.Done())
	}
}

func ptr[T any](v T) *T { return &v }
