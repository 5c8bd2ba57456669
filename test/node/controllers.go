//go:build linux

package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/boshu2/gastown-operator/test/internal/childproc"
)

// disabledControllers are kube-controller-manager's controllers that cannot
// work against the test kube-apiserver:
//   - serviceaccount-token-controller makes the legacy token Secrets and
//     needs the private key the kube-apiserver verifies service account
//     tokens with, which envtest keeps to itself. (Without the key it only
//     skips itself with a warning; disabling it says so.) Pods here get
//     their tokens from the TokenRequest API, signed by the kube-apiserver,
//     or none.
//   - certificatesigningrequest-signing-controller needs a cluster signing
//     certificate and key; nothing here asks for certificates through
//     CertificateSigningRequests.
//
// Every other on-by-default controller runs; those that need a cloud
// provider or a feature gate skip themselves.
var disabledControllers = []string{"serviceaccount-token-controller", "certificatesigningrequest-signing-controller"}

// startScheduler starts kube-scheduler, serving its health on port.
func (n *Node) startScheduler(port int) error {
	p, err := childproc.Start("kube-scheduler", n.bins.scheduler, n.componentArgs("kube-scheduler", port), nil, n.SchedulerLog)
	if err != nil {
		return err
	}
	n.scheduler = p
	n.schedulerPort = port
	return nil
}

// startControllerManager starts kube-controller-manager with every
// controller but disabledControllers, using the kubeconfig's own
// credentials (not one service account per controller, which would need
// the token controller).
func (n *Node) startControllerManager(port int) error {
	controllers := "*"
	for _, c := range disabledControllers {
		controllers += ",-" + c
	}
	args := append(n.componentArgs("kube-controller-manager", port),
		"--controllers", controllers,
		"--use-service-account-credentials=false",
	)
	p, err := childproc.Start("kube-controller-manager", n.bins.controllerManager, args, nil, n.ControllerManagerLog)
	if err != nil {
		return err
	}
	n.controllerManager = p
	n.controllerManagerPort = port
	return nil
}

// componentArgs are the flags kube-scheduler and kube-controller-manager
// share: the node's kubeconfig for everything (so that they need not find
// in-cluster credentials), no leader election (there is one of each, and
// waiting for a lease slows the start), and health served on a loopback
// port of their own with a self-signed certificate in the node's directory.
// They skip looking up the front proxy's client CA, which envtest's
// kube-apiserver does not have (and they would log so every second).
func (n *Node) componentArgs(name string, port int) []string {
	return []string{
		"--kubeconfig", n.Kubeconfig,
		"--authentication-kubeconfig", n.Kubeconfig,
		"--authorization-kubeconfig", n.Kubeconfig,
		"--authentication-skip-lookup",
		"--leader-elect=false",
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port),
		"--cert-dir", filepath.Join(n.Dir, name+"-pki"),
		"--v", "2",
	}
}

// waitHealthy waits until the component answers "ok" on /healthz.
func waitHealthy(ctx context.Context, p *childproc.Process, port int, timeout time.Duration) error {
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	// The component's certificate is self-signed, made at its start; there
	// is nothing to verify it against, and nothing secret is exchanged.
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // see above
	}
	defer client.CloseIdleConnections()
	err := poll(ctx, p, timeout, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%s did not become healthy: %w\nthe end of %s:\n%s", p.Name, err, p.Log, childproc.LogTail(p.Log, 30))
	}
	return nil
}
