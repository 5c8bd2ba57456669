package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

// sourceStartTimeout bounds source-controller's start.
const sourceStartTimeout = time.Minute

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
		if err := waitHealthy(ctx, url, e.source.Done(), sourceStartTimeout); err != nil {
			if errors.Is(err, errExited) {
				_, exitErr := e.source.Exited()
				err = fmt.Errorf("%w (%v)", err, exitErr)
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
