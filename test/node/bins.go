//go:build linux

package node

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/boshu2/gastown-operator/internal/testenv"
)

// cniBinDir is where Debian's containernetworking-plugins puts the plugins.
const cniBinDir = "/usr/lib/cni"

// NodeBinDir returns the directory holding kubelet, kube-scheduler and
// kube-controller-manager: $GASTOWN_NODE_BIN, else the newest node-* that
// hack/testbin.sh built in the test binary cache.
func NodeBinDir() (string, error) {
	dir := os.Getenv("GASTOWN_NODE_BIN")
	if dir == "" {
		matches, _ := filepath.Glob(filepath.Join(testenv.CacheDir(), "node-*"))
		sort.Strings(matches)
		if len(matches) == 0 {
			return "", missingKubeBinary("kubelet", testenv.CacheDir())
		}
		dir = matches[len(matches)-1]
	}
	if _, err := os.Stat(filepath.Join(dir, "kubelet")); err != nil {
		return "", missingKubeBinary("kubelet", dir)
	}
	return dir, nil
}

func missingKubeBinary(what, where string) error {
	return fmt.Errorf("%s not found in %s: build the node binaries with 'make testbin' or "+
		"'hack/testbin.sh node' (compiled from the Go module proxy, a few minutes the first time)", what, where)
}

// binaries are the paths of the programs a node runs.
type binaries struct {
	containerd, ctr, kubelet, scheduler, controllerManager string
}

// findBinaries checks that everything the node will run is installed, so
// that a missing piece fails before anything starts, with how to get it.
func findBinaries(binDir string, scheduler, controllerManager bool) (binaries, error) {
	var b binaries
	var errs []error
	host := func(name string) string {
		path, err := exec.LookPath(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s is not installed: run hack/node-deps.sh as root "+
				"(it installs Debian's containerd, runc and containernetworking-plugins)", name))
		}
		return path
	}
	b.containerd = host("containerd")
	b.ctr = host("ctr")
	host("containerd-shim-runc-v2")
	host("runc")
	if _, err := os.Stat(filepath.Join(cniBinDir, "loopback")); err != nil {
		errs = append(errs, fmt.Errorf("the loopback CNI plugin is not in %s: run hack/node-deps.sh as root "+
			"(it installs containernetworking-plugins)", cniBinDir))
	}
	kube := func(name string) string {
		path := filepath.Join(binDir, name)
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, missingKubeBinary(name, binDir))
		}
		return path
	}
	b.kubelet = kube("kubelet")
	if scheduler {
		b.scheduler = kube("kube-scheduler")
	}
	if controllerManager {
		b.controllerManager = kube("kube-controller-manager")
	}
	return b, errors.Join(errs...)
}
