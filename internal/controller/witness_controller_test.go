package controller_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/controller"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/controller"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
	"github.com/boshu2/gastown-operator/internal/witness"
)

// witnessActivity is the suite Witness's view of polecat output.
var witnessActivity *scriptedActivity

// scriptedActivity stands in for the kubelet, which envtest does not run:
// pods there never write a log line. A test scripts when a polecat last
// wrote output; any other polecat goes to the real client-go reader.
type scriptedActivity struct {
	real witness.Activity
	mu   sync.Mutex
	last map[types.NamespacedName]func() time.Time
}

func (s *scriptedActivity) LastOutput(ctx context.Context, pc *gastownv1.Polecat, pod *corev1.Pod) (time.Time, error) {
	s.mu.Lock()
	script, ok := s.last[client.ObjectKeyFromObject(pc)]
	s.mu.Unlock()
	if !ok {
		return s.real.LastOutput(ctx, pc, pod)
	}
	return script(), nil
}

// scriptOutput makes the polecat ns/name report its last output from last.
func scriptOutput(t *testing.T, ns, name string, last func() time.Time) {
	key := types.NamespacedName{Namespace: ns, Name: name}
	witnessActivity.mu.Lock()
	witnessActivity.last[key] = last
	witnessActivity.mu.Unlock()
	t.Cleanup(func() {
		witnessActivity.mu.Lock()
		delete(witnessActivity.last, key)
		witnessActivity.mu.Unlock()
	})
}

func silent() time.Time { return time.Time{} }
func chatty() time.Time { return time.Now() }
func seconds(n int) *metav1.Duration {
	return &metav1.Duration{Duration: time.Duration(n) * time.Second}
}

// setupWitness registers the Witness reconciler with the suite's manager.
func setupWitness(mgr ctrl.Manager, cfg *rest.Config, c client.Client, rec kuberecorder.EventRecorder, opts ctrlcontroller.Options) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	witnessActivity = &scriptedActivity{real: witness.Logs{Clientset: cs}, last: map[types.NamespacedName]func() time.Time{}}
	return (&controller.WitnessReconciler{Client: c, EventRecorder: rec, Clientset: cs, Activity: witnessActivity}).
		SetupWithManager(mgr, opts)
}

// newWitness creates a Witness for the rig of customPolecat, checking every
// second.
func newWitness(t *testing.T, ns string, mutate func(*gastownv1.Witness)) {
	t.Helper()
	w := &gastownv1.Witness{
		ObjectMeta: metav1.ObjectMeta{Name: "witness", Namespace: ns},
		Spec:       gastownv1.WitnessSpec{RigRef: "no-such-rig", HealthCheckInterval: seconds(1)},
	}
	if mutate != nil {
		mutate(w)
	}
	if err := k8s.Create(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

// podRunning waits for the pod ns/name that is not the pod notUID, and
// patches its status as the kubelet would once the agent runs. It returns
// the pod's UID.
func podRunning(t *testing.T, ns, name string, notUID types.UID) types.UID {
	t.Helper()
	var uid types.UID
	NewWithT(t).Eventually(func(g Gomega) {
		pod := get(g, ns, name, &corev1.Pod{})
		g.Expect(pod.UID).NotTo(Equal(notUID), "the next pod")
		now := metav1.Now()
		pod.Status.Phase = corev1.PodRunning
		pod.Status.StartTime = &now
		c := pod.Spec.Containers[0]
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
		g.Expect(env.Client.Status().Update(context.Background(), pod)).To(Succeed())
		uid = pod.UID
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	return uid
}

// eventsFor returns the events of ns about the object kind/name with reason.
func eventsFor(g Gomega, ns, kind, name, reason string) []corev1.Event {
	list := &corev1.EventList{}
	g.Expect(env.Client.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func expectEscalatedEvent(g Gomega, ns, kind, name, wantMessage string) {
	events := eventsFor(g, ns, kind, name, controller.EscalatedReason)
	g.Expect(events).To(HaveLen(1))
	g.Expect(events[0].Count).To(BeNumerically("<=", 1), "one escalation, not one per check")
	g.Expect(events[0].Type).To(Equal(corev1.EventTypeWarning))
	g.Expect(events[0].Annotations).To(HaveKeyWithValue("target", "mayor"))
	g.Expect(events[0].Message).To(ContainSubstring(wantMessage))
}

func TestWitnessEscalatesAPodThatCannotPullItsImage(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	dumpOnFailure(t, ns)
	bead := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-pull", Namespace: ns}, Spec: gastownv1.BeadSpec{Title: "Pull"}}
	g.Expect(k8s.Create(context.Background(), bead)).To(Succeed())
	customPolecat(t, ns, "pull", func(pc *gastownv1.Polecat) { pc.Spec.BeadID = "gt-pull" })

	var podUID types.UID
	g.Eventually(func(g Gomega) {
		pod := get(g, ns, "polecat-pull", &corev1.Pod{})
		c := pod.Spec.Containers[0]
		pod.Status.Phase = corev1.PodPending
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}}}
		g.Expect(env.Client.Status().Update(context.Background(), pod)).To(Succeed())
		podUID = pod.UID
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	// The Witness takes the cause from the polecat's PodReady condition.
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "pull", &gastownv1.Polecat{})
		g.Expect(conditions.GetReason(pc, gastownv1.PodReadyCondition)).To(Equal(gastownv1.ImagePullFailedReason))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	newWitness(t, ns, func(w *gastownv1.Witness) {
		w.Spec.PendingTimeout = seconds(1)
		w.Spec.MaxRestarts = ptr(int32(3))
	})

	g.Eventually(func(g Gomega) {
		w := get(g, ns, "witness", &gastownv1.Witness{})
		g.Expect(w.Status.Findings).To(HaveLen(1))
		f := w.Status.Findings[0]
		g.Expect(f.Polecat).To(Equal("pull"))
		g.Expect(f.Reason).To(Equal(gastownv1.ImagePullFailedReason))
		g.Expect(f.Action).To(Equal("Escalated"), "a new pod cannot pull the image either, restarts left or not")
		g.Expect(f.Message).To(ContainSubstring("cannot pull image busybox:1.36"))
		g.Expect(f.Since).NotTo(BeNil())
		g.Expect(w.Status.Phase).To(Equal(gastownv1.WitnessPhaseDegraded))
		g.Expect(conditions.IsReady(w)).To(BeFalse())
		g.Expect(conditions.GetReason(w, meta.ReadyCondition)).To(Equal(gastownv1.ImagePullFailedReason))
		g.Expect(conditions.GetMessage(w, meta.ReadyCondition)).To(ContainSubstring("polecat pull: pending for longer than pendingTimeout 1s"))
		g.Expect(w.Status.PolecatsSummary).To(Equal(gastownv1.PolecatsSummary{}), "a pending pod is not running")
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	g.Eventually(func(g Gomega) {
		expectEscalatedEvent(g, ns, gastownv1.PolecatKind, "pull", "ImagePullFailed: pending for longer than")
		expectEscalatedEvent(g, ns, gastownv1.BeadKind, "gt-pull", "polecat pull: ImagePullFailed")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	// Later checks find the same problem and do not escalate it again.
	checks := witnessChecks(g, ns)
	g.Eventually(func(g Gomega) {
		g.Expect(witnessChecks(g, ns)).To(BeNumerically(">=", checks+2), "a check that began after the escalation")
		w := get(g, ns, "witness", &gastownv1.Witness{})
		g.Expect(w.Status.Findings).To(HaveLen(1))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	expectEscalatedEvent(g, ns, gastownv1.PolecatKind, "pull", "ImagePullFailed")
	pc := get(g, ns, "pull", &gastownv1.Polecat{})
	g.Expect(pc.Annotations).NotTo(HaveKey(witness.RestartsAnnotation))
	g.Expect(get(g, ns, "polecat-pull", &corev1.Pod{}).UID).To(Equal(podUID), "the pod is not restarted")
}

func TestWitnessRestartsAStuckPolecatThenEscalatesIt(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	dumpOnFailure(t, ns)
	scriptOutput(t, ns, "stuck", silent)
	newWitness(t, ns, func(w *gastownv1.Witness) {
		w.Spec.StuckThreshold = seconds(2)
		w.Spec.PendingTimeout = &metav1.Duration{Duration: time.Hour}
		w.Spec.MaxRestarts = ptr(int32(1))
	})
	customPolecat(t, ns, "stuck", nil)
	first := podRunning(t, ns, "polecat-stuck", "")

	// The first time, the Witness deletes the pod and the Polecat
	// controller starts the next one.
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "stuck", &gastownv1.Polecat{})
		g.Expect(pc.Annotations).To(HaveKeyWithValue(witness.RestartsAnnotation, "1"))
		g.Expect(pc.Status.Attempts).To(BeEquivalentTo(2))
		g.Expect(get(g, ns, "polecat-stuck", &corev1.Pod{}).UID).NotTo(Equal(first))
		g.Expect(eventsFor(g, ns, gastownv1.PolecatKind, "stuck", controller.RestartedReason)).To(HaveLen(1))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	// The next pod is stuck too, and the restarts are used up.
	second := podRunning(t, ns, "polecat-stuck", first)
	g.Eventually(func(g Gomega) {
		w := get(g, ns, "witness", &gastownv1.Witness{})
		g.Expect(w.Status.Findings).To(HaveLen(1))
		f := w.Status.Findings[0]
		g.Expect(f.Polecat).To(Equal("stuck"))
		g.Expect(f.Reason).To(Equal(gastownv1.StuckReason))
		g.Expect(f.Action).To(Equal("Escalated"))
		g.Expect(f.Message).To(ContainSubstring("restarted 1 times already (maxRestarts 1)"))
		g.Expect(w.Status.PolecatsSummary).To(Equal(gastownv1.PolecatsSummary{Running: 1, Stuck: 1}))
		g.Expect(w.Status.Phase).To(Equal(gastownv1.WitnessPhaseDegraded))
		g.Expect(conditions.GetReason(w, meta.ReadyCondition)).To(Equal(gastownv1.StuckReason))
		expectEscalatedEvent(g, ns, gastownv1.PolecatKind, "stuck", "Stuck: no output since")
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	pc := get(g, ns, "stuck", &gastownv1.Polecat{})
	g.Expect(pc.Annotations).To(HaveKeyWithValue(witness.RestartsAnnotation, "1"))
	g.Expect(pc.Status.Attempts).To(BeEquivalentTo(2))
	g.Expect(get(g, ns, "polecat-stuck", &corev1.Pod{}).UID).To(Equal(second), "an escalated pod is left for a person")
}

func TestWitnessLeavesAHealthyPolecatAlone(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	dumpOnFailure(t, ns)
	scriptOutput(t, ns, "chatty", chatty)
	newWitness(t, ns, func(w *gastownv1.Witness) {
		w.Spec.StuckThreshold = seconds(2)
		w.Spec.PendingTimeout = seconds(2)
	})
	customPolecat(t, ns, "chatty", nil)
	uid := podRunning(t, ns, "polecat-chatty", "")
	quiet := time.Now().Add(3 * time.Second) // past both thresholds

	var checks uint64
	g.Eventually(func(g Gomega) {
		g.Expect(time.Now()).To(BeTemporally(">", quiet))
		checks = witnessChecks(g, ns)
	}, 10*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(witnessChecks(g, ns)).To(BeNumerically(">=", checks+2), "a check that began after the thresholds passed")
		w := get(g, ns, "witness", &gastownv1.Witness{})
		g.Expect(w.Status.Findings).To(BeEmpty())
		g.Expect(w.Status.PolecatsSummary).To(Equal(gastownv1.PolecatsSummary{Running: 1}))
		g.Expect(w.Status.Phase).To(Equal(gastownv1.WitnessPhaseActive))
		g.Expect(conditions.IsReady(w)).To(BeTrue())
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	pc := get(g, ns, "chatty", &gastownv1.Polecat{})
	g.Expect(pc.Annotations).NotTo(HaveKey(witness.RestartsAnnotation))
	g.Expect(pc.Status.Attempts).To(BeEquivalentTo(1))
	g.Expect(get(g, ns, "polecat-chatty", &corev1.Pod{}).UID).To(Equal(uid))
	g.Expect(eventsFor(g, ns, gastownv1.PolecatKind, "chatty", controller.RestartedReason)).To(BeEmpty())
	g.Expect(eventsFor(g, ns, gastownv1.PolecatKind, "chatty", controller.EscalatedReason)).To(BeEmpty())
}

func TestSuspendedWitnessChecksNothingUntilResumed(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	dumpOnFailure(t, ns)
	scriptOutput(t, ns, "stuck", silent)
	newWitness(t, ns, func(w *gastownv1.Witness) {
		w.Spec.Suspend = true
		w.Spec.StuckThreshold = seconds(1)
	})
	customPolecat(t, ns, "stuck", nil)
	podRunning(t, ns, "polecat-stuck", "")
	g.Eventually(func(g Gomega) {
		w := get(g, ns, "witness", &gastownv1.Witness{})
		g.Expect(conditions.GetReason(w, meta.ReadyCondition)).To(Equal(meta.SuspendedReason))
		g.Expect(get(g, ns, "stuck", &gastownv1.Polecat{}).Status.Phase).To(Equal(gastownv1.PolecatPhaseWorking))
		g.Expect(w.Status.PolecatsSummary).To(BeZero(), "no check ran: a check counts the running polecat")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	update(t, ns, "witness", &gastownv1.Witness{}, func(w *gastownv1.Witness) { w.Spec.Suspend = false })
	g.Eventually(func(g Gomega) {
		pc := get(g, ns, "stuck", &gastownv1.Polecat{})
		g.Expect(pc.Annotations).To(HaveKeyWithValue(witness.RestartsAnnotation, "1"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestWitnessPodLogsThroughTheAPIServer runs the real client-go reader
// against the API server. envtest has no kubelet: the API server answers a
// pod without a node with an empty log, which reads as no output yet, and
// refuses a container the pod does not have.
func TestWitnessPodLogsThroughTheAPIServer(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	customPolecat(t, ns, "logs", nil)
	podRunning(t, ns, "polecat-logs", "")
	pc := get(g, ns, "logs", &gastownv1.Polecat{})
	pod := get(g, ns, "polecat-logs", &corev1.Pod{})
	reader := witness.Logs{Clientset: kubernetes.NewForConfigOrDie(env.Config)}

	last, err := reader.LastOutput(context.Background(), pc, pod)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(last.IsZero()).To(BeTrue())

	pod.Annotations["kubectl.kubernetes.io/default-container"] = "no-such-container"
	_, err = reader.LastOutput(context.Background(), pc, pod)
	g.Expect(apierrors.IsBadRequest(err)).To(BeTrue(), "the API server refuses a container the pod does not have: %v", err)
}

// witnessChecks counts the reconciles (checks) of the namespace's Witness
// "witness" that have ended, from its gotk_reconcile_duration_seconds.
func witnessChecks(g Gomega, ns string) uint64 {
	reg := prometheus.NewRegistry()
	reg.MustRegister(gsmetrics.Reconcile.Collectors()...)
	var n uint64
	for _, m := range controller.Series(g, reg, "gotk_reconcile_duration_seconds",
		map[string]string{"kind": gastownv1.WitnessKind, "namespace": ns, "name": "witness"}) {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

// A Witness has no finalizer: its reconcile learns of its deletion from
// the NotFound of its fetch, and deletes its series there.
func TestADeletedWitnessHasItsSeriesDeleted(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(gsmetrics.Reconcile.Collectors()...)
	ns := env.Namespace(t)
	newWitness(t, ns, nil)
	ofWitness := map[string]string{"kind": gastownv1.WitnessKind, "namespace": ns, "name": "witness"}
	count := func(g Gomega) []int {
		var n []int
		for _, family := range []string{"gotk_reconcile_condition", "gotk_suspend_status", "gotk_reconcile_duration_seconds"} {
			n = append(n, len(controller.Series(g, reg, family, ofWitness)))
		}
		return n
	}
	g.Eventually(count, 20*time.Second, 200*time.Millisecond).Should(Equal([]int{9, 1, 1}), "3 conditions × 3 statuses, suspend, duration")

	g.Expect(k8s.Delete(context.Background(), &gastownv1.Witness{ObjectMeta: metav1.ObjectMeta{Name: "witness", Namespace: ns}})).To(Succeed())
	g.Eventually(count, 20*time.Second, 200*time.Millisecond).Should(Equal([]int{0, 0, 0}))
}
