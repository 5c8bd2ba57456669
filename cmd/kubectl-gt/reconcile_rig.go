package main

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func init() {
	reconcileSubcommands = append(reconcileSubcommands, newReconcileRigCommand)
}

const (
	operatorController = "gastown-operator ('kubectl get pods -n gastown-system')"
	sourceController   = "Flux's source-controller ('flux check')"
)

type reconcileRigOptions struct {
	withSource bool
	timeout    time.Duration
}

func newReconcileRigCommand(root *rootOptions) *cobra.Command {
	opts := &reconcileRigOptions{}
	cmd := &cobra.Command{
		Use:   "rig NAME",
		Short: "Reconcile a rig now: dispatch its ready beads; with --with-source, fetch and sync its beads first",
		Long: `Reconcile rig asks the operator to reconcile the rig now and waits until it has,
then prints the rig's Ready condition.

With --with-source it first asks Flux's source-controller to fetch the rig's
GitRepository, then the rig's BeadStore to sync the beads of the new
revision, waiting for each, so that a bead just committed is dispatched at once.

Exit codes: 0 when the rig is ready (or suspended), 1 when something is not
ready or the wait timed out.`,
		Example: `  # Dispatch now
  kubectl gt reconcile rig my-project

  # Pick up a bead file just pushed
  kubectl gt reconcile rig my-project --with-source`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.timeout <= 0 {
				return usageError{fmt.Errorf("--timeout %s: give a positive duration, such as 2m", opts.timeout)}
			}
			return opts.run(cmd.Context(), root, args[0])
		},
	}
	cmd.Flags().BoolVar(&opts.withSource, "with-source", false, "fetch the rig's GitRepository and sync its BeadStore first")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", 2*time.Minute, "how long to wait for the whole reconcile")
	return cmd
}

func (o *reconcileRigOptions) run(ctx context.Context, root *rootOptions, name string) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := root.kube.client()
	if err != nil {
		return err
	}
	rig, err := getRig(ctx, c, name)
	if err != nil {
		return err
	}
	token := time.Now().Format(time.RFC3339Nano)
	w := root.out

	if o.withSource {
		if err := o.reconcileSource(ctx, root, c, rig, token); err != nil {
			return err
		}
	}

	target := &reconcileTarget{
		kind:       gastownv1.RigKind,
		key:        client.ObjectKey{Name: rig.Name},
		obj:        rig,
		handled:    func() string { return rig.Status.LastHandledReconcileAt },
		controller: operatorController,
	}
	ready, err := target.reconcile(ctx, w, c, token, o.timeout)
	if err != nil {
		return err
	}
	if ready.Reason == meta.SuspendedReason {
		fmt.Fprintf(w, "Rig %s is suspended: %s\n", rig.Name, ready.Message)
		return nil
	}
	fmt.Fprintf(w, "Rig %s is ready: %s\n", rig.Name, ready.Message)
	return nil
}

// reconcileSource reconciles the rig's GitRepository, then its BeadStores.
func (o *reconcileRigOptions) reconcileSource(ctx context.Context, root *rootOptions, c client.Client, rig *gastownv1.Rig, token string) error {
	w := root.out
	ref := rig.Spec.SourceRef
	if ref == nil {
		return usageError{fmt.Errorf("--with-source: rig %s has no spec.sourceRef; reconcile it without --with-source", rig.Name)}
	}
	repo := &sourcev1.GitRepository{}
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	if err := c.Get(ctx, key, repo); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("GitRepository %s/%s, the source of rig %s, not found", ref.Namespace, ref.Name, rig.Name)
		}
		return apiError(err)
	}
	if repo.Spec.Suspend {
		return fmt.Errorf("GitRepository %s/%s is suspended: resume it with 'flux resume source git %s -n %s', or reconcile the rig without --with-source",
			ref.Namespace, ref.Name, ref.Name, ref.Namespace)
	}
	source := &reconcileTarget{
		kind:       sourcev1.GitRepositoryKind,
		key:        key,
		obj:        repo,
		handled:    func() string { return repo.Status.LastHandledReconcileAt },
		controller: sourceController,
	}
	if _, err := source.reconcile(ctx, w, c, token, o.timeout); err != nil {
		return err
	}
	if a := repo.GetArtifact(); a != nil {
		fmt.Fprintf(w, "fetched revision %s\n", a.Revision)
	}

	stores := &gastownv1.BeadStoreList{}
	if err := c.List(ctx, stores, client.InNamespace(rig.WorkersNamespace())); err != nil {
		return apiError(err)
	}
	found := false
	for i := range stores.Items {
		store := &stores.Items[i]
		if store.Spec.RigRef != rig.Name {
			continue
		}
		found = true
		t := &reconcileTarget{
			kind:       gastownv1.BeadStoreKind,
			key:        client.ObjectKeyFromObject(store),
			obj:        store,
			handled:    func() string { return store.Status.LastHandledReconcileAt },
			controller: operatorController,
		}
		ready, err := t.reconcile(ctx, w, c, token, o.timeout)
		if err != nil {
			return err
		}
		if ready.Reason == meta.SuspendedReason {
			fmt.Fprintf(w, "BeadStore %s/%s is suspended: %s\n", store.Namespace, store.Name, ready.Message)
			continue
		}
		fmt.Fprintf(w, "synced revision %s: %s and %s\n", orNone(store.Status.LastAppliedRevision),
			plural(int(store.Status.IssueCount), "bead"), plural(int(store.Status.ConvoyCount), "convoy"))
	}
	if !found {
		fmt.Fprintf(w, "rig %s has no BeadStore in namespace %s yet: the operator creates it when it reconciles the rig\n", rig.Name, rig.WorkersNamespace())
	}
	return nil
}
