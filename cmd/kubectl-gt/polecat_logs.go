package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	polecatSubcommands = append(polecatSubcommands, newPolecatLogsCommand)
}

// logPollInterval is how often a followed local log is read again, and
// its polecat checked for the end of the run.
var logPollInterval = time.Second

// defaultContainerAnnotation names the container kubectl logs reads by default.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

type polecatLogsOptions struct {
	scope     scopeOptions
	follow    bool
	container string
}

func newPolecatLogsCommand(root *rootOptions) *cobra.Command {
	opts := &polecatLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print the log of a polecat's agent",
		Long: `Logs prints what a polecat's agent wrote. For a polecat that runs as a pod
(executionMode kubernetes) it reads the pod polecat-NAME, by default its agent
container; -c git-init shows the clone. For a local run (executionMode local)
it reads the log file the operator writes, which is only readable on the
machine the operator runs on.

With -f, logs follows the output until the run ends.`,
		Example: `  # Follow a polecat's agent
  kubectl gt polecat logs gt-health -n gastown-workers -f

  # See why the clone failed
  kubectl gt polecat logs gt-health -n gastown-workers -c git-init`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd.Context(), root, args[0])
		},
	}
	opts.scope.addFlags(cmd, false)
	cmd.Flags().BoolVarP(&opts.follow, "follow", "f", false, "follow the log until the polecat finishes")
	cmd.Flags().StringVarP(&opts.container, "container", "c", "", "container of the pod to read (default: the agent container)")
	return cmd
}

func (o *polecatLogsOptions) run(ctx context.Context, root *rootOptions, name string) error {
	pc := &gastownv1.Polecat{}
	c, err := o.scope.get(ctx, root, "polecat", name, pc)
	if err != nil {
		return err
	}
	if executionMode(pc) == gastownv1.ExecutionModeLocal {
		if o.container != "" {
			return usageError{fmt.Errorf("--container: polecat %s/%s runs locally, without a pod", pc.Namespace, pc.Name)}
		}
		return o.localLog(ctx, root.out, c, pc)
	}
	return o.podLog(ctx, root, pc)
}

// podLog streams the log of the polecat's pod.
func (o *polecatLogsOptions) podLog(ctx context.Context, root *rootOptions, pc *gastownv1.Polecat) error {
	cs, err := root.kube.clientset()
	if err != nil {
		return err
	}
	podName := pc.Status.PodName
	if podName == "" {
		podName = pc.PodName()
	}
	pod, err := cs.CoreV1().Pods(pc.Namespace).Get(ctx, podName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("pod %s of polecat %s/%s not found: %s", podName, pc.Namespace, pc.Name, whyNoPod(pc))
	}
	if err != nil {
		return err
	}
	container := o.container
	if container == "" {
		container = agentContainer(pod)
	} else if !hasContainer(pod, container) {
		return usageError{fmt.Errorf("--container %q: pod %s has containers %s", container, podName, strings.Join(containerNames(pod), ", "))}
	}
	if pod.Spec.NodeName == "" {
		// The API server answers an empty log for a pod on no node.
		return fmt.Errorf("pod %s of polecat %s/%s is %s and not scheduled yet, so it has no log: 'kubectl describe pod %s -n %s' says why",
			podName, pc.Namespace, pc.Name, podState(pod), podName, pc.Namespace)
	}
	stream, err := cs.CoreV1().Pods(pc.Namespace).GetLogs(podName, &corev1.PodLogOptions{
		Container: container,
		Follow:    o.follow,
	}).Stream(ctx)
	if err != nil {
		if pod.Status.Phase == corev1.PodPending {
			return fmt.Errorf("reading container %s of pod %s: %w (the pod is %s; while it clones, read 'kubectl gt polecat logs %s -n %s -c git-init')",
				container, podName, err, podState(pod), pc.Name, pc.Namespace)
		}
		return fmt.Errorf("reading container %s of pod %s: %w", container, podName, err)
	}
	defer stream.Close()
	_, err = io.Copy(root.out, stream)
	return err
}

// whyNoPod says why a polecat has no pod.
func whyNoPod(pc *gastownv1.Polecat) string {
	switch {
	case pc.Status.Phase.Finished():
		return fmt.Sprintf("the polecat %s and its pod was deleted (ttlSecondsAfterFinished); its result is in 'kubectl gt bead status %s -n %s'",
			strings.ToLower(string(pc.Status.Phase)), pc.Spec.BeadID, pc.Namespace)
	case pc.Spec.DesiredState == gastownv1.DesiredIdle:
		return "the polecat is Idle (spec.desiredState) and runs nothing"
	default:
		return "the polecat has not started yet; 'kubectl describe polecat " + pc.Name + " -n " + pc.Namespace + "' shows its conditions"
	}
}

// agentContainer is the container logs reads by default: the one the pod
// names as kubectl's default, else its first (and only) container, the agent.
func agentContainer(pod *corev1.Pod) string {
	if name := pod.Annotations[defaultContainerAnnotation]; name != "" {
		return name
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Name
	}
	return ""
}

func containerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, n := range containerNames(pod) {
		if n == name {
			return true
		}
	}
	return false
}

// podState is the pod's phase with the reason a container waits, if any.
func podState(pod *corev1.Pod) string {
	for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
		if w := s.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("%s (container %s: %s)", pod.Status.Phase, s.Name, w.Reason)
		}
	}
	return string(pod.Status.Phase)
}

// localLog prints, or follows, the log file of a local run.
func (o *polecatLogsOptions) localLog(ctx context.Context, out io.Writer, c client.Client, pc *gastownv1.Polecat) error {
	path := pc.Status.LocalLog
	if path == "" {
		return fmt.Errorf("polecat %s/%s runs locally and has not started: it has no log file yet (status.localLog is empty)", pc.Namespace, pc.Name)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("polecat %s/%s runs locally: its log is the file %s on the machine the operator runs on, and it is not readable here (%w); run this command on that machine",
			pc.Namespace, pc.Name, path, unwrapPathError(err))
	}
	defer f.Close()
	if _, err := io.Copy(out, f); err != nil {
		return err
	}
	if !o.follow {
		return nil
	}
	key := client.ObjectKeyFromObject(pc)
	for !runEnded(pc) {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logPollInterval):
		}
		// Check first, then copy: what the run wrote before it ended is
		// then always printed.
		if err := c.Get(ctx, key, pc); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if _, err := io.Copy(out, f); err != nil {
			return err
		}
	}
	return nil
}

// runEnded says whether a local run writes no more.
func runEnded(pc *gastownv1.Polecat) bool {
	return pc.Status.Phase.Finished() || pc.Status.Phase == gastownv1.PolecatPhaseIdle
}

// unwrapPathError drops the path of an *os.PathError, which the message
// already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
