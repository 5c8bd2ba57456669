package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/dispatch"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/redact"
	"github.com/boshu2/gastown-operator/internal/witness"
)

// PolecatReconciler runs a polecat: a Pod (executionMode kubernetes) or a
// child process of the operator (executionMode local), and maps how it
// ends into the polecat's status.
type PolecatReconciler struct {
	client.Client
	// APIReader reads the bead of a polecat about to start, with the text
	// its task needs, which the cache does not keep.
	APIReader     client.Reader
	EventRecorder kuberecorder.EventRecorder
	Defaults      polecat.Defaults
	// LocalRunner is the gastown-polecat binary local polecats run; empty
	// refuses executionMode local.
	LocalRunner string
	// LocalWorkDir is where local runs get their work directories.
	LocalWorkDir string

	supervisor *polecat.Supervisor
	localDone  chan event.TypedGenericEvent[*gastownv1.Polecat]
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=polecats,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=polecats/status,verbs=patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=polecats/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Reconcile brings the polecat's run to its desired state.
func (r *PolecatReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ctx = withReconcileStart(ctx)
	pc := &gastownv1.Polecat{}
	if err := r.Get(ctx, req.NamespacedName, pc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patcher := newObjectPatcher(pc, r.Client)
	phaseBefore := pc.Status.Phase
	defer func() {
		setPolecatConditions(pc)
		if err := patchStatus(ctx, patcher, pc, nil, nil, nil); err != nil {
			retErr = errors.Join(retErr, err)
		} else {
			recordPolecatMetrics(pc, phaseBefore)
		}
		// A new polecat's first phase is no event: the Rig's Dispatched
		// event and the bead's Working event say it started.
		if pc.Status.Phase != phaseBefore && phaseBefore != "" && pc.DeletionTimestamp == nil {
			r.eventForPhase(pc)
		}
	}()

	if !pc.DeletionTimestamp.IsZero() {
		r.stopLocal(pc)
		controllerutil.RemoveFinalizer(pc, gastownv1.GastownFinalizer)
		return ctrl.Result{}, nil
	}
	// The Rig creates its polecats with the finalizer; others get it here,
	// written before any pod or process exists, and the pass goes on.
	if controllerutil.AddFinalizer(pc, gastownv1.GastownFinalizer) {
		if err := patcher.Patch(ctx, pc); err != nil {
			return ctrl.Result{}, err
		}
	}
	pc.Status.AssignedBead = pc.Spec.BeadID

	switch pc.Spec.DesiredState {
	case gastownv1.DesiredIdle:
		return ctrl.Result{}, r.idle(ctx, pc)
	case gastownv1.DesiredTerminated:
		return ctrl.Result{}, r.terminate(ctx, pc)
	}
	if pc.Status.Phase.Finished() {
		return r.expire(ctx, pc)
	}
	run := r.runPod
	if pc.Spec.ExecutionMode == gastownv1.ExecutionModeLocal {
		run = r.runLocal
	}
	res, err := run(ctx, pc)
	if err == nil && res.IsZero() && pc.Status.Phase.Finished() {
		// Finished in this pass (its own status write wakes no reconcile):
		// the TTL of its pod starts now.
		return r.expire(ctx, pc)
	}
	return res, err
}

// recordPolecatMetrics records, once the status that says so is written,
// what a phase change tells: the run started (dispatch latency, from its
// bead becoming Ready to its first run) or finished (outcome, cost and
// tokens). Each is counted once per polecat, however often it is
// reconciled.
func recordPolecatMetrics(pc *gastownv1.Polecat, before gastownv1.PolecatPhase) {
	uid := string(pc.UID)
	if pc.Status.Phase == gastownv1.PolecatPhaseWorking && before != gastownv1.PolecatPhaseWorking && pc.Status.Attempts <= 1 {
		gsmetrics.DispatchLatency(uid, pc.Spec.Rig, time.Since(dispatchStart(pc)))
	}
	if res := pc.Status.Result; res != nil && pc.Status.Phase.Finished() && !before.Finished() {
		gsmetrics.AgentResult(uid, pc.Spec.Rig, string(res.Outcome), res.CostUSD, res.InputTokens, res.OutputTokens)
	}
}

// dispatchStart is when the polecat's bead became Ready, as the Rig
// recorded it on the polecat; its creation for a polecat made otherwise
// (kubectl gt sling, the Refinery's follow-ups, by hand), or whose bead's
// Ready status the Rig's cache did not show yet.
func dispatchStart(pc *gastownv1.Polecat) time.Time {
	if t, err := time.Parse(time.RFC3339, pc.Annotations[dispatch.ReadySinceAnnotation]); err == nil && !t.After(pc.CreationTimestamp.Time) {
		return t
	}
	return pc.CreationTimestamp.Time
}

// invalidSpecError says that a polecat's settings cannot be resolved from
// its spec, its bead and its rig as they are. resolve's other errors are
// reads that failed.
type invalidSpecError struct{ error }

func (e invalidSpecError) Unwrap() error { return e.error }

// failIfInvalid fails a polecat whose settings are invalid (a change of its
// spec wakes it) and returns any other error of resolve for a retry.
func failIfInvalid(pc *gastownv1.Polecat, err error) (ctrl.Result, error) {
	var invalid invalidSpecError
	if !errors.As(err, &invalid) {
		return ctrl.Result{}, err
	}
	pc.Status.Phase = gastownv1.PolecatPhaseFailed
	conditions.MarkStalled(pc, gastownv1.InvalidSpecReason, "%s", err)
	return ctrl.Result{}, nil
}

// settingsToStart resolves the settings of a polecat about to start from
// itself, its bead (read from the API server: the cached one has no text)
// and its rig, and records the agent and branch they give. A run that
// started is never resolved again: its pod (or process) has its settings,
// whatever became of the rig or the bead since.
func (r *PolecatReconciler) settingsToStart(ctx context.Context, pc *gastownv1.Polecat) (polecat.Settings, error) {
	var bead *gastownv1.Bead
	if pc.Spec.BeadID != "" {
		b := &gastownv1.Bead{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: pc.Namespace, Name: pc.Spec.BeadID}, b)
		if err == nil {
			bead = b
		} else if !apierrors.IsNotFound(err) {
			return polecat.Settings{}, err
		}
	}
	var rig *gastownv1.Rig
	rg := &gastownv1.Rig{}
	err := r.Get(ctx, types.NamespacedName{Name: pc.Spec.Rig}, rg)
	if err == nil {
		rig = rg
	} else if !apierrors.IsNotFound(err) {
		return polecat.Settings{}, err
	}
	if err := beadPolicyError(pc, bead, rig); err != nil {
		return polecat.Settings{}, invalidSpecError{err}
	}
	s, err := polecat.Resolve(pc, bead, rig, r.Defaults)
	if err != nil {
		return polecat.Settings{}, invalidSpecError{err}
	}
	pc.Status.Agent, pc.Status.AgentImage, pc.Status.AgentModel = s.Agent, s.AgentConfig.Image, s.AgentConfig.Model
	pc.Status.Branch = s.WorkBranch
	return s, nil
}

// beadPolicyError refuses a polecat about to start whose bead asks for
// agent settings its rig's agent policy does not allow. The dispatcher
// never creates one; this catches the others that take the bead's
// settings: review and conflict follow-ups made after the bead was edited,
// `kubectl gt sling` and polecats made by hand for the bead. The polecat's
// own fields are not checked: whoever creates a Polecat may run pods.
func beadPolicyError(pc *gastownv1.Polecat, bead *gastownv1.Bead, rig *gastownv1.Rig) error {
	if bead == nil || (pc.Status.Phase != "" && pc.Status.Phase != gastownv1.PolecatPhaseIdle) {
		return nil
	}
	policy := beads.DefaultPolicy()
	if rig != nil {
		policy = beads.PolicyOf(rig)
	}
	if errs := policy.Check(&bead.Spec); len(errs) > 0 {
		return fmt.Errorf("bead %s asks for what the rig's agent policy does not allow (%s): %s",
			bead.BeadID(), gastownv1.PolicyViolationReason, beads.Messages(errs))
	}
	return nil
}

// runPod creates the polecat's pod and maps its state.
func (r *PolecatReconciler) runPod(ctx context.Context, pc *gastownv1.Polecat) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	err := r.Get(ctx, types.NamespacedName{Namespace: pc.Namespace, Name: pc.PodName()}, pod)
	if apierrors.IsNotFound(err) {
		s, err := r.settingsToStart(ctx, pc)
		if err != nil {
			return failIfInvalid(pc, err)
		}
		return r.createPod(ctx, pc, s)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if !metav1.IsControlledBy(pod, pc) {
		pc.Status.Phase = gastownv1.PolecatPhaseFailed
		conditions.MarkStalled(pc, gastownv1.InvalidSpecReason, "pod %s exists and does not belong to this polecat", pod.Name)
		return ctrl.Result{}, nil
	}
	if restarting(pc, pod) {
		// The Witness deleted it to restart the run: its end (the runner
		// stopped by SIGTERM) is not the polecat's result. The pod's
		// deletion is watched; a new pod follows it.
		pc.Status.Phase = gastownv1.PolecatPhasePending
		conditions.MarkUnknown(pc, gastownv1.PodReadyCondition, gastownv1.PodPendingReason,
			"pod %s is being replaced by the Witness's restart", pod.Name)
		return ctrl.Result{}, nil
	}
	mapPod(pc, pod)
	return ctrl.Result{}, r.markMissingSecret(ctx, pc, pod)
}

// markMissingSecret names the secret a pod's container waits for when the
// kubelet cannot start it for want of its configuration
// (CreateContainerConfigError): the first secret the pod needs that is
// not there. The pod's spec and the secrets are read, not the kubelet's
// message: a secret that exists but lacks a key leaves the kubelet's own
// words, PodPending.
func (r *PolecatReconciler) markMissingSecret(ctx context.Context, pc *gastownv1.Polecat, pod *corev1.Pod) error {
	container := configErrorContainer(pod)
	if container == "" {
		return nil
	}
	// The cached pod is an outline without env and volumes.
	full := &corev1.Pod{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pod), full); err != nil {
		return client.IgnoreNotFound(err)
	}
	for _, name := range polecat.RequiredSecrets(&full.Spec) {
		err := r.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: name}, &corev1.Secret{})
		if apierrors.IsNotFound(err) {
			conditions.MarkFalse(pc, gastownv1.PodReadyCondition, gastownv1.SecretNotFoundReason,
				"container %s cannot start: secret %q not found in namespace %s: create it", container, name, pod.Namespace)
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// configErrorContainer names a container of pod that the kubelet cannot
// create for want of its configuration, or is empty.
func configErrorContainer(pod *corev1.Pod) string {
	if pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" {
		return ""
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerConfigError" {
			return cs.Name
		}
	}
	return ""
}

// restarting says whether pod is on its way out because the Witness
// restarts the polecat.
func restarting(pc *gastownv1.Polecat, pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil && pc.Annotations[witness.RestartedPodAnnotation] == string(pod.UID)
}

// createPod checks the secrets the pod mounts, then creates it.
func (r *PolecatReconciler) createPod(ctx context.Context, pc *gastownv1.Polecat, s polecat.Settings) (ctrl.Result, error) {
	for _, ref := range secretRefs(s) {
		// A GET of each named secret: the manager's client does not cache
		// Secrets, and the operator may not list or watch them.
		secret := &corev1.Secret{}
		err := r.Get(ctx, types.NamespacedName{Namespace: pc.Namespace, Name: ref.name}, secret)
		if err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		missing := ""
		switch {
		case err != nil:
			missing = fmt.Sprintf("secret %q (%s) not found in namespace %s: create it (see the README's Secrets Setup)", ref.name, ref.field, pc.Namespace)
		case ref.key != "" && len(secret.Data[ref.key]) == 0:
			missing = fmt.Sprintf("secret %q (%s) in namespace %s has no key %q", ref.name, ref.field, pc.Namespace, ref.key)
		}
		if missing != "" {
			pc.Status.Phase = gastownv1.PolecatPhasePending
			conditions.MarkFalse(pc, gastownv1.PodReadyCondition, gastownv1.SecretNotFoundReason, "%s", missing)
			return requeueAfter(30 * time.Second), nil
		}
	}
	pod, err := polecat.BuildPod(pc, s)
	if err != nil {
		pc.Status.Phase = gastownv1.PolecatPhaseFailed
		conditions.MarkStalled(pc, gastownv1.InvalidSpecReason, "%s", err)
		return ctrl.Result{}, nil
	}
	if err := r.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating pod %s: %w", pod.Name, err)
	}
	now := metav1.Now()
	pc.Status.PodName = pod.Name
	pc.Status.Attempts++
	pc.Status.StartedAt = &now
	// As the pod's own watch event will map it: that event then writes
	// nothing more.
	mapPod(pc, pod)
	return ctrl.Result{}, nil
}

// secretRef is a secret the pod needs, and a key it must hold (empty: any).
// claude-code's keys are optional one by one: the seed README's
// claude-credentials holds api-key or .credentials.json, and the runner
// says so when it has neither.
type secretRef struct{ name, key, field string }

func secretRefs(s polecat.Settings) []secretRef {
	var refs []secretRef
	if s.GitSecret != "" {
		refs = append(refs, secretRef{s.GitSecret, "", "gitSecretRef"})
	}
	if s.APIKeySecret != nil {
		refs = append(refs, secretRef{s.APIKeySecret.Name, "", "apiKeySecretRef"})
	}
	if s.ClaudeCredentialsSecret != "" {
		refs = append(refs, secretRef{s.ClaudeCredentialsSecret, "", "claudeCredsSecretRef"})
	}
	if mp := s.AgentConfig.ModelProvider; mp != nil && mp.APIKeySecretRef != nil {
		refs = append(refs, secretRef{mp.APIKeySecretRef.Name, orDefault(mp.APIKeySecretRef.Key, polecat.DefaultAPIKeySecret), "agentConfig.modelProvider.apiKeySecretRef"})
	}
	return refs
}

// mapPod maps a pod's state into the polecat's phase, conditions and result.
func mapPod(pc *gastownv1.Polecat, pod *corev1.Pod) {
	pc.Status.PodName = pod.Name
	switch pod.Status.Phase {
	case corev1.PodPending, "":
		pc.Status.Phase = gastownv1.PolecatPhasePending
		reason, msg := pendingReason(pod)
		conditions.MarkFalse(pc, gastownv1.PodReadyCondition, reason, "%s", msg)
	case corev1.PodRunning:
		pc.Status.Phase = gastownv1.PolecatPhaseWorking
		conditions.MarkTrue(pc, gastownv1.PodReadyCondition, gastownv1.PodRunningReason, "pod %s is running", pod.Name)
	case corev1.PodSucceeded, corev1.PodFailed:
		res, reason, finished := podResult(pod)
		finish(pc, res, reason, finished)
	}
}

// pendingReason explains why a pod does not run yet, in terms a user can
// act on.
func pendingReason(pod *corev1.Pod) (string, string) {
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		switch w.Reason {
		case "ErrImagePull", "ImagePullBackOff", "InvalidImageName":
			return gastownv1.ImagePullFailedReason, fmt.Sprintf("container %s cannot pull image %s: %s", cs.Name, cs.Image, w.Message)
		case "CreateContainerConfigError":
			// PolecatReconciler.markMissingSecret tells a missing secret.
			return gastownv1.PodPendingReason, fmt.Sprintf("container %s cannot start: %s", cs.Name, w.Message)
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return gastownv1.PodPendingReason, fmt.Sprintf("pod %s is not scheduled: %s", pod.Name, c.Message)
		}
	}
	return gastownv1.PodPendingReason, fmt.Sprintf("pod %s is pending", pod.Name)
}

// sidecar tells whether name is one of pod's native sidecars.
func sidecar(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}

// podResult reads a finished pod's result: the runner's termination message
// of the container that ended it, else what its exit tells. The reason is
// the failure's when the pod tells more than the result (its deadline),
// else empty.
func podResult(pod *corev1.Pod) (*gastownv1.PolecatResult, string, time.Time) {
	finished := time.Now()
	if pod.Status.Reason == "DeadlineExceeded" {
		res := &gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError,
			Message: fmt.Sprintf("%s: the pod ran longer than activeDeadlineSeconds (%ds)", gastownv1.DeadlineExceededReason, ptrOr(pod.Spec.ActiveDeadlineSeconds, 0))}
		return res, gastownv1.DeadlineExceededReason, finished
	}
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	var last *gastownv1.PolecatResult
	for _, cs := range statuses {
		term := cs.State.Terminated
		if term == nil || sidecar(pod, cs.Name) {
			// A sidecar (git-push) is stopped when the agent is done; its
			// outcome is in the agent container's result.
			continue
		}
		finished = term.FinishedAt.Time
		if term.ExitCode == 0 && pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if res, err := polecat.ParseResult(term.Message); err == nil && term.Message != "" {
			last = res
		} else {
			last = &gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError,
				Message: fmt.Sprintf("container %s exited with %d (%s)", cs.Name, term.ExitCode, term.Reason)}
			if o, ok := polecat.OutcomeForExitCode(term.ExitCode); ok {
				last.Outcome = o
			}
			code := term.ExitCode
			last.AgentExitCode = &code
		}
		if term.ExitCode != 0 {
			break // the container that failed the pod
		}
	}
	if last == nil {
		last = &gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError, Message: "pod " + pod.Name + " " + strings.ToLower(string(pod.Status.Phase)) + ": " + pod.Status.Message}
	}
	if finished.IsZero() {
		finished = time.Now()
	}
	return last, "", finished
}

// redactedResult is res with its free text (message, summary) redacted:
// the runner already removed the secrets it was given; token shapes and URL
// credentials are removed here too, for a result from an older runner or a
// container that is not the runner.
func redactedResult(res *gastownv1.PolecatResult) *gastownv1.PolecatResult {
	if res == nil {
		return nil
	}
	out := res.DeepCopy()
	out.Message, out.Summary = redact.Text(out.Message), redact.Text(out.Summary)
	return out
}

// finish records how a run ended. reason is the failure's condition reason,
// or empty for the one its outcome gives.
func finish(pc *gastownv1.Polecat, res *gastownv1.PolecatResult, reason string, at time.Time) {
	res = redactedResult(res)
	pc.Status.Result = res
	done := metav1.NewTime(at)
	pc.Status.CompletedAt = &done
	if res.Outcome == gastownv1.OutcomePushed {
		pc.Status.Phase = gastownv1.PolecatPhaseSucceeded
		pc.Status.CommitSHA = res.Commit
		if res.Branch != "" {
			pc.Status.Branch = res.Branch
		}
		conditions.MarkTrue(pc, gastownv1.PodReadyCondition, meta.SucceededReason, "pushed %s to %s", short(res.Commit), res.Branch)
		return
	}
	if reason == "" {
		reason = failureReason(res)
	}
	pc.Status.Phase = gastownv1.PolecatPhaseFailed
	conditions.MarkFalse(pc, gastownv1.PodReadyCondition, reason, "%s", failureMessage(res))
}

func failureReason(res *gastownv1.PolecatResult) string {
	switch res.Outcome {
	case gastownv1.OutcomeNoChanges:
		return gastownv1.NoChangesReason
	case gastownv1.OutcomeAgentFailed:
		return gastownv1.AgentFailedReason
	case gastownv1.OutcomeGitFailed:
		return gastownv1.GitFailedReason
	}
	return gastownv1.PodFailedReason
}

func failureMessage(res *gastownv1.PolecatResult) string {
	switch {
	case res.Message != "":
		return res.Message
	case res.Outcome == gastownv1.OutcomeNoChanges:
		return "the agent changed nothing; nothing was pushed"
	default:
		return string(res.Outcome)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// setPolecatConditions derives Ready, Reconciling and Stalled from the
// phase: Ready once the work is pushed, Stalled when the run failed.
func setPolecatConditions(pc *gastownv1.Polecat) {
	msg := conditions.GetMessage(pc, gastownv1.PodReadyCondition)
	reason := conditions.GetReason(pc, gastownv1.PodReadyCondition)
	switch pc.Status.Phase {
	case gastownv1.PolecatPhaseSucceeded:
		conditions.Delete(pc, meta.StalledCondition)
		conditions.Delete(pc, meta.ReconcilingCondition)
		conditions.MarkTrue(pc, meta.ReadyCondition, meta.SucceededReason, "%s", msg)
	case gastownv1.PolecatPhaseFailed, gastownv1.PolecatPhaseTerminated:
		conditions.Delete(pc, meta.ReconcilingCondition)
		if !conditions.IsStalled(pc) {
			conditions.MarkStalled(pc, reason, "%s", msg)
		}
	case gastownv1.PolecatPhaseIdle:
		conditions.Delete(pc, meta.StalledCondition)
		conditions.Delete(pc, meta.ReconcilingCondition)
		conditions.MarkFalse(pc, meta.ReadyCondition, gastownv1.IdleReason, "the polecat is idle")
	default:
		if reason == "" {
			reason, msg = gastownv1.PodPendingReason, "starting"
		}
		conditions.Delete(pc, meta.StalledCondition)
		conditions.MarkReconciling(pc, reason, "%s", msg)
		conditions.MarkFalse(pc, meta.ReadyCondition, reason, "%s", msg)
	}
}

func (r *PolecatReconciler) eventForPhase(pc *gastownv1.Polecat) {
	typ := corev1.EventTypeNormal
	if pc.Status.Phase == gastownv1.PolecatPhaseFailed {
		typ = corev1.EventTypeWarning
	}
	r.EventRecorder.Eventf(pc, typ, string(pc.Status.Phase), "%s", conditions.GetMessage(pc, gastownv1.PodReadyCondition))
}

// idle stops a running pod or process and leaves the polecat idle.
func (r *PolecatReconciler) idle(ctx context.Context, pc *gastownv1.Polecat) error {
	if err := r.stopRun(ctx, pc); err != nil {
		return err
	}
	pc.Status.Phase = gastownv1.PolecatPhaseIdle
	conditions.MarkFalse(pc, gastownv1.PodReadyCondition, gastownv1.IdleReason, "desiredState is Idle")
	return nil
}

// terminate stops the run for good.
func (r *PolecatReconciler) terminate(ctx context.Context, pc *gastownv1.Polecat) error {
	if pc.Status.Phase.Finished() {
		return nil
	}
	if err := r.stopRun(ctx, pc); err != nil {
		return err
	}
	now := metav1.Now()
	pc.Status.Phase = gastownv1.PolecatPhaseTerminated
	pc.Status.CompletedAt = &now
	pc.Status.Result = &gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError, Message: "terminated: desiredState is Terminated"}
	conditions.MarkFalse(pc, gastownv1.PodReadyCondition, gastownv1.TerminatedReason, "desiredState is Terminated")
	return nil
}

func (r *PolecatReconciler) stopRun(ctx context.Context, pc *gastownv1.Polecat) error {
	r.stopLocal(pc)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pc.PodName(), Namespace: pc.Namespace}}
	return client.IgnoreNotFound(r.Delete(ctx, pod))
}

// expire deletes a finished polecat's pod once its TTL passed; the Polecat
// keeps its record.
func (r *PolecatReconciler) expire(ctx context.Context, pc *gastownv1.Polecat) (ctrl.Result, error) {
	r.stopLocal(pc)
	ttl := pc.Spec.TTLSecondsAfterFinished
	if ttl == nil {
		rig := &gastownv1.Rig{}
		if err := r.Get(ctx, types.NamespacedName{Name: pc.Spec.Rig}, rig); err == nil {
			ttl = rig.Spec.Kubernetes.TTLSecondsAfterFinished
		}
	}
	if ttl == nil || pc.Status.CompletedAt == nil {
		return ctrl.Result{}, nil
	}
	if wait := time.Until(pc.Status.CompletedAt.Add(time.Duration(*ttl) * time.Second)); wait > 0 {
		return requeueAfter(wait), nil
	}
	return ctrl.Result{}, r.stopRun(ctx, pc)
}

// runLocal starts the runner as a child process and maps how it ends.
func (r *PolecatReconciler) runLocal(ctx context.Context, pc *gastownv1.Polecat) (ctrl.Result, error) {
	if r.LocalRunner == "" {
		pc.Status.Phase = gastownv1.PolecatPhaseFailed
		conditions.MarkStalled(pc, gastownv1.InvalidSpecReason, "executionMode local needs the operator to run with --local-runner")
		return ctrl.Result{}, nil
	}
	key := localKey(pc)
	run, ok := r.supervisor.Get(key)
	if !ok {
		if pc.Status.StartedAt != nil && r.supervisor.Lost(pc.Status.StartedAt.Time) {
			finish(pc, &gastownv1.PolecatResult{Outcome: gastownv1.OutcomeError, Message: polecat.ErrLost.Error()}, "", time.Now())
			return ctrl.Result{}, nil
		}
		s, err := r.settingsToStart(ctx, pc)
		if err != nil {
			return failIfInvalid(pc, err)
		}
		return r.startLocal(ctx, pc, s)
	}
	res, at := r.supervisor.Result(run)
	if res == nil {
		pc.Status.Phase = gastownv1.PolecatPhaseWorking
		conditions.MarkTrue(pc, gastownv1.PodReadyCondition, gastownv1.PodRunningReason, "running locally, log at %s", run.LogFile)
		return ctrl.Result{}, nil
	}
	// The run is forgotten (and its directory removed) once the status
	// shows the polecat finished, in expire: until then a reconcile may
	// still read the old phase from the cache and must find the run.
	finish(pc, res, "", at)
	return ctrl.Result{}, nil
}

func (r *PolecatReconciler) startLocal(ctx context.Context, pc *gastownv1.Polecat, s polecat.Settings) (ctrl.Result, error) {
	if err := os.MkdirAll(r.LocalWorkDir, 0o700); err != nil {
		return ctrl.Result{}, err
	}
	work, err := os.MkdirTemp(r.LocalWorkDir, pc.Name+"-")
	if err != nil {
		return ctrl.Result{}, err
	}
	secrets := func(name string) (map[string][]byte, error) {
		secret := &corev1.Secret{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: pc.Namespace, Name: name}, secret); err != nil {
			return nil, fmt.Errorf("secret %q in namespace %s: %w", name, pc.Namespace, err)
		}
		return secret.Data, nil
	}
	proc, err := polecat.PrepareLocal(s, r.LocalRunner, work, secrets)
	if err == nil {
		_, err = r.supervisor.Start(localKey(pc), proc, work, r.localLog(pc))
	}
	if err != nil {
		os.RemoveAll(work)
		pc.Status.Phase = gastownv1.PolecatPhasePending
		conditions.MarkFalse(pc, gastownv1.PodReadyCondition, gastownv1.PodPendingReason, "cannot start the local run: %s", err)
		return requeueAfter(30 * time.Second), nil
	}
	now := metav1.Now()
	pc.Status.Attempts++
	pc.Status.StartedAt = &now
	pc.Status.Phase = gastownv1.PolecatPhaseWorking
	pc.Status.LocalLog = r.localLog(pc)
	conditions.MarkTrue(pc, gastownv1.PodReadyCondition, gastownv1.PodRunningReason, "running locally, log at %s", pc.Status.LocalLog)
	return ctrl.Result{}, nil
}

// localLog is where a local run's output goes; it outlives the run's work
// directory, for `kubectl gt polecat logs`.
func (r *PolecatReconciler) localLog(pc *gastownv1.Polecat) string {
	return filepath.Join(r.LocalWorkDir, "logs", pc.Namespace+"_"+pc.Name+"_"+string(pc.UID)+".log")
}

func (r *PolecatReconciler) stopLocal(pc *gastownv1.Polecat) {
	if r.supervisor != nil {
		_ = r.supervisor.Forget(localKey(pc))
	}
}

// SetupWithManager registers the reconciler: it owns its pods and hears
// from the local supervisor when a local run ends.
func (r *PolecatReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.localDone = make(chan event.TypedGenericEvent[*gastownv1.Polecat], 64)
	r.supervisor = polecat.NewSupervisor(r.localExited)
	if r.LocalWorkDir == "" {
		r.LocalWorkDir = os.TempDir()
	}
	// Local runs are the operator's children: stop them when it stops.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		r.supervisor.StopAll()
		return nil
	})); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Not its own status writes: a polecat is reconciled for its spec,
		// its annotations (the Witness's restart, reconcile requests) and
		// its deletion.
		For(&gastownv1.Polecat{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Not the pod's creation: the reconcile that created it mapped it
		// already, and a second reconcile then could read the polecat from
		// a cache that has not seen that status yet.
		Owns(&corev1.Pod{}, builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }})).
		WatchesRawSource(source.Channel(r.localDone, &handler.TypedEnqueueRequestForObject[*gastownv1.Polecat]{})).
		WithOptions(opts).
		Complete(r)
}

// localKey names a local run: namespace/name/uid, so that a polecat that
// is deleted and created again under the same name is a new run.
func localKey(pc *gastownv1.Polecat) string {
	return pc.Namespace + "/" + pc.Name + "/" + string(pc.UID)
}

// localExited wakes the reconciler of the polecat whose run ended.
func (r *PolecatReconciler) localExited(key string) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return
	}
	pc := &gastownv1.Polecat{ObjectMeta: metav1.ObjectMeta{Namespace: parts[0], Name: parts[1]}}
	r.localDone <- event.TypedGenericEvent[*gastownv1.Polecat]{Object: pc}
}
