package devenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/boshu2/gastown-operator/internal/testenv"
)

// reconcileTimeout bounds a `flux reconcile` (its --timeout).
const reconcileTimeout = time.Minute

// fetchedRevision is the line `flux reconcile source git` ends with when
// the GitRepository is Ready after the reconcile it asked for.
var fetchedRevision = regexp.MustCompile(`(?m)^✔ fetched revision (\S+)$`)

// Flux runs the flux CLI (hack/testbin.sh builds it) against the env's API
// server, with the env's kubeconfig and namespace flux-system, and returns
// what it printed (flux logs its progress on standard error). A non-zero
// exit is an error that includes the output.
func (e *Env) Flux(ctx context.Context, args ...string) (string, error) {
	bin, err := testenv.FluxCLIPath()
	if err != nil {
		return "", err
	}
	// Explicit flags: KUBECONFIG, FLUX_SYSTEM_NAMESPACE and
	// FLUX_NS_FOLLOWS_KUBE_CONTEXT in this process's environment do not
	// apply over them, and a discovery cache, if a command uses one, goes
	// under Dir rather than ~/.kube/cache.
	args = append(args, "--kubeconfig="+e.Kubeconfig, "--namespace="+FluxNamespace,
		"--cache-dir="+filepath.Join(e.Dir, "kube-cache"))
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("devenv: flux %s: %w\n%s",
			strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// ReconcileSource asks source-controller to fetch the repository now, as a
// person who has just pushed does: it runs `flux reconcile source git NAME`
// and returns the revision flux reports, or flux's output in the error.
//
// flux reads status.lastHandledReconcileAt, sets the
// reconcile.fluxcd.io/requestedAt annotation, and waits until
// lastHandledReconcileAt has changed and the GitRepository is current
// (kstatus: status.observedGeneration is metadata.generation, not
// Reconciling), then requires Ready=True and prints the artifact's
// revision. The generation check matters on the first reconcile: the
// reconcile that only adds source-controller's finalizer already records
// the request, and the next one patches Ready=True before the rest of the
// status (artifact, observedGeneration); observedGeneration stays at the
// CRD's default, -1, until then.
func (e *Env) ReconcileSource(ctx context.Context) (string, error) {
	out, err := e.Flux(ctx, "reconcile", "source", "git", e.Name, "--timeout="+reconcileTimeout.String())
	if err != nil {
		return "", fmt.Errorf("%w\nsee %s", err, e.SourceControllerLog)
	}
	m := fetchedRevision.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("devenv: flux reconcile source git %s did not report a fetched revision:\n%s",
			e.Name, strings.TrimSpace(out))
	}
	return m[1], nil
}
