package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/http/fetch"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/fluxcd/pkg/tar"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kuberecorder "k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
)

// Limits on what the BeadStore downloads and unpacks.
const (
	maxArtifactSize = 50 << 20
	maxUntarSize    = 200 << 20
)

// BeadStoreReconciler syncs Bead and Convoy objects from the bead files in a
// rig's Flux source artifact.
type BeadStoreReconciler struct {
	client.Client
	// APIReader reads what the cache does not have, or may not have yet:
	// a bead the last pass created, the text of a bead kept from a broken
	// file.
	APIReader     client.Reader
	EventRecorder kuberecorder.EventRecorder
	// NoCrossNamespaceRefs refuses sources outside the workers namespace.
	NoCrossNamespaceRefs bool
	// ArtifactRetries is how often a failed download is retried (5xx).
	ArtifactRetries int
	// Writers is how many objects a sync writes at once.
	Writers int
}

// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beadstores,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beadstores/status,verbs=patch
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beads;convoys,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=gastown.gastown.io,resources=beadstores/finalizers,verbs=update
// +kubebuilder:rbac:groups=source.toolkit.fluxcd.io,resources=gitrepositories,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile reads the source artifact and syncs the store's beads and convoys.
func (r *BeadStoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ctx = withReconcileStart(ctx)
	obj := &gastownv1.BeadStore{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, ignoreGone(err, obj, req)
	}
	patcher := newObjectPatcher(obj, r.Client)
	before := readyOf(obj)
	var ok *success
	defer func() {
		if err := patchStatus(ctx, patcher, obj, []string{gastownv1.ArtifactFetchedCondition, gastownv1.BeadsValidCondition}, ok, nil); err != nil {
			retErr = errors.Join(retErr, err)
		}
		eventOnChange(r.EventRecorder, obj, &before)
	}()

	markReconcilingNewGeneration(obj)
	if obj.Spec.Suspend {
		ok = suspended("syncing is suspended")
		obj.Status.Phase = gastownv1.BeadStorePhasePending
		return ctrl.Result{}, nil
	}

	source, err := r.resolveSource(ctx, obj)
	if err != nil || source == nil {
		obj.Status.Phase = gastownv1.BeadStorePhasePending
		return ctrl.Result{}, err
	}
	artifact := source.GetArtifact()
	if wait, fresh := syncFresh(obj, artifact); fresh {
		// Woken by its rig with this revision applied: nothing to sync.
		ok = &success{meta.ReconciliationSucceededReason, conditions.GetMessage(obj, meta.ReadyCondition)}
		return requeueAfter(wait), nil
	}

	dir, err := r.fetchArtifact(ctx, obj, artifact)
	if err != nil {
		obj.Status.Phase = gastownv1.BeadStorePhaseError
		return ctrl.Result{}, err
	}
	defer os.RemoveAll(dir)

	set, err := r.parse(obj, dir)
	if err != nil {
		obj.Status.Phase = gastownv1.BeadStorePhaseError
		return ctrl.Result{}, nil // a new revision or spec change wakes the store
	}

	rigName := obj.Spec.RigRef
	stats, err := r.sync(ctx, obj, rigName, set)
	if err != nil {
		conditions.MarkFalse(obj, meta.ReadyCondition, gastownv1.SyncFailedReason, "sync of revision %s failed: %s", artifact.Revision, err)
		obj.Status.Phase = gastownv1.BeadStorePhaseError
		return ctrl.Result{}, err
	}
	obj.Status.LastAppliedRevision = artifact.Revision
	now := metav1.Now()
	obj.Status.LastSyncTime = &now
	obj.Status.Phase = gastownv1.BeadStorePhaseSynced
	if len(set.Errors) > 0 {
		obj.Status.Phase = gastownv1.BeadStorePhaseError
	}
	ok = &success{meta.ReconciliationSucceededReason, fmt.Sprintf("synced %d beads and %d convoys from revision %s",
		obj.Status.IssueCount, obj.Status.ConvoyCount, artifact.Revision)}
	if stats.changed() || len(set.Errors) > 0 {
		r.EventRecorder.AnnotatedEventf(obj, map[string]string{"revision": artifact.Revision}, eventType(len(set.Errors)), "Synced",
			"revision %s: %s", artifact.Revision, stats)
	}
	return requeuePoll(obj.GetRequeueAfter()), nil
}

// syncFresh says whether the store already applied this revision for its
// current spec, with no reconcile request pending and its sync interval not
// over yet; wait is what is left of the interval.
func syncFresh(obj *gastownv1.BeadStore, artifact *meta.Artifact) (wait time.Duration, fresh bool) {
	if obj.Status.LastAppliedRevision != artifact.Revision || obj.Status.ObservedGeneration != obj.Generation ||
		obj.Status.LastSyncTime == nil || !conditions.IsReady(obj) {
		return 0, false
	}
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok && v != obj.Status.LastHandledReconcileAt {
		return 0, false
	}
	wait = obj.GetRequeueAfter() - time.Since(obj.Status.LastSyncTime.Time)
	return wait, wait > 0
}

func eventType(errs int) string {
	if errs > 0 {
		return "Warning"
	}
	return "Normal"
}

// resolveSource finds the rig's GitRepository and checks it has an artifact.
// It returns nil without an error when the store must wait for a watch.
func (r *BeadStoreReconciler) resolveSource(ctx context.Context, obj *gastownv1.BeadStore) (*sourcev1.GitRepository, error) {
	rig := &gastownv1.Rig{}
	if err := r.Get(ctx, types.NamespacedName{Name: obj.Spec.RigRef}, rig); err != nil {
		if apierrors.IsNotFound(err) {
			conditions.MarkFalse(obj, gastownv1.ArtifactFetchedCondition, gastownv1.RigNotFoundReason, "rig %q not found", obj.Spec.RigRef)
			return nil, nil
		}
		return nil, err
	}
	if rig.Spec.SourceRef == nil {
		conditions.MarkStalled(obj, gastownv1.SourceNotFoundReason, "rig %q has no spec.sourceRef: there are no bead files to read", rig.Name)
		return nil, nil
	}
	conditions.Delete(obj, meta.StalledCondition)
	ref := rig.Spec.SourceRef
	if r.NoCrossNamespaceRefs && ref.Namespace != obj.Namespace {
		conditions.MarkStalled(obj, gastownv1.CrossNamespaceRefReason,
			"cross-namespace source %s/%s is not allowed: the operator runs with --no-cross-namespace-refs", ref.Namespace, ref.Name)
		return nil, nil
	}
	src := &sourcev1.GitRepository{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			conditions.MarkFalse(obj, gastownv1.ArtifactFetchedCondition, gastownv1.SourceNotFoundReason,
				"GitRepository %s/%s not found", ref.Namespace, ref.Name)
			return nil, nil
		}
		return nil, err
	}
	if src.GetArtifact() == nil {
		conditions.MarkFalse(obj, gastownv1.ArtifactFetchedCondition, gastownv1.ArtifactNotReadyReason,
			"GitRepository %s/%s has no artifact yet", ref.Namespace, ref.Name)
		return nil, nil
	}
	return src, nil
}

// fetchArtifact downloads, verifies and unpacks the artifact into a new
// temporary directory.
func (r *BeadStoreReconciler) fetchArtifact(ctx context.Context, obj *gastownv1.BeadStore, artifact *meta.Artifact) (string, error) {
	obj.Status.LastAttemptedRevision = artifact.Revision
	dir, err := os.MkdirTemp("", "beadstore-")
	if err != nil {
		return "", err
	}
	fetcher := fetch.New(
		fetch.WithRetries(r.ArtifactRetries),
		fetch.WithMaxDownloadSize(maxArtifactSize),
		fetch.WithUntar(tar.WithMaxUntarSize(maxUntarSize)),
	)
	// Every failure is retried with the controller's backoff, as Flux's
	// kustomize-controller does, a digest mismatch included: the fetcher
	// does not tell its errors apart but by their text.
	if err := fetcher.FetchWithContext(ctx, artifact.URL, artifact.Digest, dir); err != nil {
		os.RemoveAll(dir)
		conditions.MarkFalse(obj, gastownv1.ArtifactFetchedCondition, meta.ArtifactFailedReason, "fetching revision %s: %s", artifact.Revision, err)
		return "", err
	}
	conditions.MarkTrue(obj, gastownv1.ArtifactFetchedCondition, meta.SucceededReason, "fetched revision %s", artifact.Revision)
	return dir, nil
}

// parse reads the bead files under the store's path.
func (r *BeadStoreReconciler) parse(obj *gastownv1.BeadStore, dir string) (*beads.Set, error) {
	// An issues.jsonl may be as large as the artifact unpacks to.
	set, err := beads.Load(os.DirFS(dir), obj.BeadsPath(), beads.Options{Format: obj.Spec.Format, Prefix: obj.Spec.Prefix,
		MaxJSONLSize: maxUntarSize})
	if err != nil {
		conditions.MarkFalse(obj, gastownv1.BeadsValidCondition, meta.InvalidPathReason, "%s", err)
		return nil, err
	}
	obj.Status.ErrorCount = int32(len(set.Errors))
	obj.Status.Errors = nil
	for i, e := range set.Errors {
		if i == gastownv1.MaxReportedErrors {
			break
		}
		obj.Status.Errors = append(obj.Status.Errors, e.Error())
	}
	obj.Status.WarningCount = int32(len(set.Warnings))
	obj.Status.Warnings = nil
	for i, e := range set.Warnings {
		if i == gastownv1.MaxReportedErrors {
			break
		}
		obj.Status.Warnings = append(obj.Status.Warnings, e.Error())
	}
	if len(set.Errors) > 0 {
		conditions.MarkFalse(obj, gastownv1.BeadsValidCondition, gastownv1.InvalidBeadsReason,
			"%d errors in %d files, first: %s", len(set.Errors), filesWithErrors(set.Errors), set.Errors[0])
	} else if len(set.Warnings) > 0 {
		conditions.MarkTrue(obj, gastownv1.BeadsValidCondition, meta.SucceededReason, "%d files valid, %d warnings, first: %s",
			len(set.Files), len(set.Warnings), set.Warnings[0])
	} else {
		conditions.MarkTrue(obj, gastownv1.BeadsValidCondition, meta.SucceededReason, "%d files valid", len(set.Files))
	}
	return set, nil
}

func filesWithErrors(errs []beads.Error) int {
	files := map[string]bool{}
	for _, e := range errs {
		files[e.File] = true
	}
	return len(files)
}

// SetupWithManager registers the reconciler with its watches and indexes.
func (r *BeadStoreReconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&gastownv1.BeadStore{}, builder.WithPredicates(primaryPredicate())).
		Watches(&sourcev1.GitRepository{},
			handler.EnqueueRequestsFromMapFunc(r.storesForSource),
			builder.WithPredicates(sourceRevisionChanged{})).
		Watches(&gastownv1.Rig{},
			handler.EnqueueRequestsFromMapFunc(r.storesForRig),
			builder.WithPredicates(primaryPredicate())).
		WithOptions(opts).
		Complete(r)
}

func (r *BeadStoreReconciler) storesForRig(ctx context.Context, o client.Object) []reconcile.Request {
	return requestsByIndex(ctx, r.Client, &gastownv1.BeadStoreList{}, "", beadStoreRigIndex, o.GetName())
}

func (r *BeadStoreReconciler) storesForSource(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, rig := range requestsByIndex(ctx, r.Client, &gastownv1.RigList{}, "", rigSourceIndex, o.GetNamespace()+"/"+o.GetName()) {
		reqs = append(reqs, r.storesForRig(ctx, &gastownv1.Rig{ObjectMeta: metav1.ObjectMeta{Name: rig.Name}})...)
	}
	return reqs
}
