package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func init() {
	subcommands = append(subcommands, newReconcileCommand)
}

// reconcileSubcommands are the subcommands of `kubectl gt reconcile`,
// added from their own files.
var reconcileSubcommands []func(*rootOptions) *cobra.Command

// reconcilePollInterval is how often a reconcile request is checked.
var reconcilePollInterval = 2 * time.Second

func newReconcileCommand(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Ask the operator to reconcile an object now, and wait for it",
		Long: `Reconcile sets Flux's reconcile.fluxcd.io/requestedAt annotation on an object,
which makes its controller reconcile it at once, and waits until the controller
reports the request handled (status.lastHandledReconcileAt).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	for _, sub := range reconcileSubcommands {
		cmd.AddCommand(sub(root))
	}
	return cmd
}

// reconcileTarget is an object to reconcile and how to read its state.
type reconcileTarget struct {
	kind string
	key  client.ObjectKey
	// obj receives the object at every read.
	obj conditions.Getter
	// handled is obj's status.lastHandledReconcileAt.
	handled func() string
	// controller handles the request; named when it does not answer.
	controller string
}

func (t *reconcileTarget) String() string {
	if t.key.Namespace == "" {
		return t.kind + " " + t.key.Name
	}
	return t.kind + " " + t.key.Namespace + "/" + t.key.Name
}

// reconcile requests a reconcile of t with token and waits until its
// controller handled it. It returns the Ready condition that followed, and
// an error when the object is not ready, unless it is suspended.
func (t *reconcileTarget) reconcile(ctx context.Context, w io.Writer, c client.Client, token string, timeout time.Duration) (*metav1.Condition, error) {
	fmt.Fprintf(w, "annotating %s\n", t)
	if err := t.request(ctx, c, token); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "waiting for %s to reconcile\n", t)
	ready, err := t.wait(ctx, c, token, timeout)
	if err != nil {
		return nil, err
	}
	if ready.Status == metav1.ConditionFalse && ready.Reason != meta.SuspendedReason {
		return ready, fmt.Errorf("%s is not ready: %s: %s", t, ready.Reason, ready.Message)
	}
	return ready, nil
}

// request sets the reconcile annotation to token with a merge patch, which
// changes nothing else and needs no resourceVersion.
func (t *reconcileTarget) request(ctx context.Context, c client.Client, token string) error {
	if err := c.Get(ctx, t.key, t.obj); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s not found", t)
		}
		return apiError(err)
	}
	patch := client.MergeFrom(t.obj.DeepCopyObject().(client.Object))
	annotations := t.obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[meta.ReconcileRequestAnnotation] = token
	t.obj.SetAnnotations(annotations)
	if err := c.Patch(ctx, t.obj, patch); err != nil {
		return fmt.Errorf("annotating %s: %w", t, apiError(err))
	}
	return nil
}

// wait polls until the object handled token and its Ready condition says
// True or False.
func (t *reconcileTarget) wait(ctx context.Context, c client.Client, token string, timeout time.Duration) (*metav1.Condition, error) {
	var (
		ready   *metav1.Condition
		lastErr error
	)
	err := wait.PollUntilContextCancel(ctx, reconcilePollInterval, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, t.key, t.obj); err != nil {
			switch {
			case apierrors.IsNotFound(err):
				return false, fmt.Errorf("%s was deleted while waiting for it to reconcile", t)
			case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
				return false, err
			case apierrors.ReasonForError(err) != metav1.StatusReasonUnknown:
				lastErr = err // the server answered; perhaps it passes
			}
			return false, nil // try again until the timeout
		}
		if t.handled() != token {
			return false, nil
		}
		ready = conditions.Get(t.obj, meta.ReadyCondition)
		return ready != nil && ready.Status != metav1.ConditionUnknown, nil
	})
	switch {
	case err == nil:
		return ready, nil
	case !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
		return nil, err
	case ready != nil:
		return nil, fmt.Errorf("timed out after %s waiting for %s to be ready: it handled the reconcile request, and it is still %s: %s",
			timeout, t, ready.Reason, ready.Message)
	default:
		msg := fmt.Sprintf("timed out after %s waiting for %s to handle the reconcile request (%s=%s): is %s running?",
			timeout, t, meta.ReconcileRequestAnnotation, token, t.controller)
		if lastErr != nil {
			msg += fmt.Sprintf(" (last error reading it: %v)", lastErr)
		}
		return nil, errors.New(msg)
	}
}
