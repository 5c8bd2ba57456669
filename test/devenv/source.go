package devenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// Timeouts of source-controller's start and of a requested reconcile.
const (
	sourceStartTimeout = time.Minute
	reconcileTimeout   = time.Minute
)

// sourceEnvDropped are variables of this process that would change
// source-controller's configuration behind its flags' back.
var sourceEnvDropped = []string{"KUBECONFIG", "RUNTIME_NAMESPACE", "EVENTS_ADDR", "METRICS_ADDR",
	"STORAGE_PATH", "STORAGE_ADDRESS", "STORAGE_ADV_ADDR", "TMPDIR"}

// startSourceController runs Flux's source-controller out of cluster: it
// finds the API server through KUBECONFIG, watches every namespace, has no
// leader election (so it serves artifacts at once), and serves and
// advertises its artifacts on a loopback address, so that the artifact URLs
// in GitRepository statuses work from this machine.
func (e *Env) startSourceController(ctx context.Context) error {
	bin, err := testenv.SourceControllerPath()
	if err != nil {
		return err
	}
	addrs, err := freeAddrs(3)
	if err != nil {
		return err
	}
	e.endpoints.SourceStorage, e.endpoints.SourceHealth, e.endpoints.SourceMetrics = addrs[0], addrs[1], addrs[2]
	dir := filepath.Join(e.Dir, "source-controller")
	storage, tmp := filepath.Join(dir, "artifacts"), filepath.Join(dir, "tmp")
	for _, d := range []string{storage, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	args := []string{
		"--storage-path=" + storage,
		"--storage-addr=" + e.endpoints.SourceStorage,
		"--storage-adv-addr=" + e.endpoints.SourceStorage,
		"--health-addr=" + e.endpoints.SourceHealth,
		"--metrics-addr=" + e.endpoints.SourceMetrics,
		"--enable-leader-election=false",
		"--watch-all-namespaces=true",
		"--log-encoding=console",
	}
	env := append(environWithout(sourceEnvDropped...),
		"KUBECONFIG="+e.Kubeconfig,
		"RUNTIME_NAMESPACE="+FluxNamespace,
		// Its clones go under the env's directory, which Stop removes.
		"TMPDIR="+tmp)
	e.SourceControllerLog = filepath.Join(e.Dir, "source-controller.log")
	e.logf("devenv: source-controller log: %s", e.SourceControllerLog)
	if e.source, err = startProcess("source-controller", bin, args, env, e.SourceControllerLog); err != nil {
		return err
	}
	// Ready once its probes answer and its artifact server, which starts
	// after them, serves the storage directory.
	for _, url := range []string{"http://" + e.endpoints.SourceHealth + "/readyz", "http://" + e.endpoints.SourceStorage + "/"} {
		if err := waitHealthy(ctx, url, e.source.done, sourceStartTimeout); err != nil {
			if errors.Is(err, errExited) {
				err = fmt.Errorf("%w (%v)", err, e.source.waitErr)
			}
			return fmt.Errorf("%s: %w; the end of %s:\n%s",
				bin, err, e.SourceControllerLog, LogTail(e.SourceControllerLog, 20))
		}
	}
	return nil
}

func environWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return env
}

// SourceKey names the GitRepository of the sample repository.
func (e *Env) SourceKey() client.ObjectKey {
	return client.ObjectKey{Namespace: FluxNamespace, Name: e.Name}
}

// Push commits files (path to content) on the sample repository's main
// branch, as a developer pushing would, and returns the commit's SHA.
// source-controller sees it at its next interval or ReconcileSource.
func (e *Env) Push(message string, files map[string]string) (string, error) {
	sha, err := e.git.CommitFiles(githubemu.DefaultBranch, message, files)
	if err != nil {
		return "", fmt.Errorf("devenv: pushing to %s: %w", e.CloneURL, err)
	}
	return sha, nil
}

// HeadRevision is the revision of the sample repository's main branch in
// the form of Flux's artifact revisions: main@sha1:<sha>.
func (e *Env) HeadRevision() (string, error) {
	sha, err := e.GitHub.BranchSHA(e.Owner, e.Repo, githubemu.DefaultBranch)
	if err != nil {
		return "", err
	}
	return githubemu.DefaultBranch + "@sha1:" + sha, nil
}

// ReconcileSource asks source-controller to fetch the repository now, as
// `flux reconcile source git` does: it sets the reconcile.fluxcd.io/requestedAt
// annotation and waits until status.lastHandledReconcileAt equals it. It
// returns the artifact revision, or an error when the GitRepository is not
// Ready after that reconcile.
func (e *Env) ReconcileSource(ctx context.Context) (string, error) {
	key := e.SourceKey()
	requested := time.Now().Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{meta.ReconcileRequestAnnotation: requested}},
	})
	if err != nil {
		return "", err
	}
	repo := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := e.Client.Patch(ctx, repo, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return "", fmt.Errorf("devenv: requesting a reconcile of GitRepository %s: %w", key, err)
	}

	// source-controller records the request early in its reconcile: like
	// `flux reconcile`, wait for the request to be handled and then for
	// Ready to settle.
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, reconcileTimeout, true, func(ctx context.Context) (bool, error) {
		if err := e.Client.Get(ctx, key, repo); err != nil {
			return false, err
		}
		if repo.Status.LastHandledReconcileAt != requested {
			return false, nil
		}
		ready := apimeta.FindStatusCondition(repo.Status.Conditions, meta.ReadyCondition)
		reconciling := apimeta.IsStatusConditionTrue(repo.Status.Conditions, meta.ReconcilingCondition)
		return ready != nil && ready.Status != metav1.ConditionUnknown && !reconciling, nil
	})
	if err != nil {
		return "", fmt.Errorf("devenv: GitRepository %s did not handle the reconcile request %s: %w; see %s",
			key, requested, err, e.SourceControllerLog)
	}
	ready := apimeta.FindStatusCondition(repo.Status.Conditions, meta.ReadyCondition)
	if ready == nil || ready.Status != metav1.ConditionTrue || repo.Status.Artifact == nil {
		why := "no Ready condition"
		if ready != nil {
			why = ready.Reason + ": " + ready.Message
		}
		return "", fmt.Errorf("devenv: GitRepository %s is not ready after the reconcile (%s); see %s",
			key, why, e.SourceControllerLog)
	}
	return repo.Status.Artifact.Revision, nil
}
