package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// podPrefix starts the name of every polecat's pod (Polecat.PodName).
const podPrefix = "polecat-"

// podRun is one polecat pod as last seen: a pod the Witness replaces is a
// new run, with a new UID and the same name.
type podRun struct {
	name, node     string
	phase          corev1.PodPhase
	agentContainer string
	started        time.Time
	containers     []containerRun
	gone           bool // deleted before it finished
}

// containerRun is one container of a pod, init containers first.
type containerRun struct {
	name              string
	state             string // waiting, running or terminated
	exitCode          int32
	reason            string // of a non-zero exit, e.g. OOMKilled
	started, finished time.Time
}

func (c containerRun) String() string {
	switch c.state {
	case "terminated":
		s := fmt.Sprintf("%s %d", c.name, c.exitCode)
		if c.exitCode != 0 && c.reason != "" {
			s += " " + c.reason
		}
		return s + " (" + seconds(c.finished.Sub(c.started)) + ")"
	case "":
		return c.name + " not started"
	default:
		return c.name + " " + c.state
	}
}

// duration is from the pod's start to its last container's end; zero
// while the pod runs or when it never started.
func (r *podRun) duration() time.Duration {
	var end time.Time
	for _, c := range r.containers {
		if c.finished.After(end) {
			end = c.finished
		}
	}
	if r.started.IsZero() || end.IsZero() || !finished(r.phase) {
		return -1
	}
	return end.Sub(r.started)
}

func finished(phase corev1.PodPhase) bool {
	return phase == corev1.PodSucceeded || phase == corev1.PodFailed
}

// observePods shows the phase changes of the polecats' pods and keeps each
// pod's last state for the summary: finished pods stay until their TTL, and
// a deleted one is remembered as it was last seen.
func (w *watcher) observePods(ctx context.Context) error {
	pods := &corev1.PodList{}
	if err := w.env.Client.List(ctx, pods, client.InNamespace(devenv.WorkersNamespace)); err != nil {
		return err
	}
	present := map[types.UID]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !strings.HasPrefix(pod.Name, podPrefix) || pod.Labels[gastownv1.RigLabel] != w.env.Name {
			continue
		}
		present[pod.UID] = true
		run, seen := w.podRunsByUID[pod.UID]
		if !seen {
			run = &podRun{name: pod.Name}
			w.podRunsByUID[pod.UID] = run
			w.podOrder = append(w.podOrder, pod.UID)
		}
		old := run.phase
		run.update(pod)
		if seen && old == run.phase {
			continue
		}
		switch {
		case run.phase == corev1.PodPending && run.node == "":
			w.p.event("pod %s Pending", run.name)
		case run.phase == corev1.PodPending || run.phase == corev1.PodRunning:
			w.p.event("pod %s %s on node %s", run.name, run.phase, run.node)
		case finished(run.phase):
			w.p.event("pod %s %s in %s", run.name, run.phase, seconds(run.duration()))
		}
	}
	for _, uid := range w.podOrder {
		run := w.podRunsByUID[uid]
		if !present[uid] && !run.gone && !finished(run.phase) {
			run.gone = true
			w.p.event("pod %s deleted while %s", run.name, run.phase)
		}
	}
	return nil
}

// update records what pod says now.
func (r *podRun) update(pod *corev1.Pod) {
	r.phase, r.node = pod.Status.Phase, pod.Spec.NodeName
	if r.phase == "" {
		r.phase = corev1.PodPending
	}
	if len(pod.Spec.Containers) > 0 {
		r.agentContainer = pod.Spec.Containers[0].Name
	}
	if t := pod.Status.StartTime; t != nil {
		r.started = t.Time
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, s := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		statuses[s.Name] = s
	}
	r.containers = r.containers[:0]
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		cr := containerRun{name: c.Name}
		if s, ok := statuses[c.Name]; ok {
			switch st := s.State; {
			case st.Terminated != nil:
				cr.state, cr.exitCode, cr.reason = "terminated", st.Terminated.ExitCode, st.Terminated.Reason
				cr.started, cr.finished = st.Terminated.StartedAt.Time, st.Terminated.FinishedAt.Time
			case st.Running != nil:
				cr.state, cr.started = "running", st.Running.StartedAt.Time
			case st.Waiting != nil:
				cr.state = "waiting"
				if st.Waiting.Reason != "" && st.Waiting.Reason != "PodInitializing" {
					cr.state = "waiting (" + st.Waiting.Reason + ")"
				}
			}
		}
		r.containers = append(r.containers, cr)
	}
}

// podRuns are the pods seen, in the order they appeared.
func (w *watcher) podRuns() []podRun {
	var out []podRun
	for _, uid := range w.podOrder {
		out = append(out, *w.podRunsByUID[uid])
	}
	return out
}
