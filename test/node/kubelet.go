//go:build linux

package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/boshu2/gastown-operator/test/internal/childproc"
)

// kubeletConfig is the kubelet's configuration. Each setting that is not a
// default answers a failure on this kind of machine:
//   - failCgroupV1 false: the kubelet refuses cgroup v1 from 1.35 on.
//   - cgroupDriver cgroupfs: there is no systemd to delegate to.
//   - cgroupRoot: the node's own, so that its pods' cgroups (kubepods...)
//     can be found and removed, and never meet another node's.
//   - failSwapOn false: the kubelet refuses a machine with swap otherwise.
//   - address 127.0.0.1, ports of its own (two nodes on one machine must
//     not fight over 10250 and 10248), anonymous authentication and
//     AlwaysAllow (test only): the kube-apiserver reaches the kubelet for
//     logs and exec without any kubelet client certificate set up; its
//     serving certificate is the self-signed one it makes in its cert dir.
//   - podLogsDir and volumePluginDir: under the node's directory instead
//     of /var/log/pods and /usr/libexec.
//   - image GC at 100% and eviction thresholds near zero: imported images
//     cannot be pulled again, and a full disk of someone else's must not
//     evict the test's pods.
var kubeletConfig = template.Must(template.New("kubelet.yaml").Parse(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: {{printf "%q" .CgroupRoot}}
cgroupsPerQOS: true
failSwapOn: false
containerRuntimeEndpoint: {{printf "%q" .Runtime}}
address: 127.0.0.1
port: {{.Port}}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {{.HealthzPort}}
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
rotateCertificates: false
serverTLSBootstrap: false
podLogsDir: {{printf "%q" .PodLogsDir}}
volumePluginDir: {{printf "%q" .VolumePluginDir}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
`))

// notReadyTaint is the taint the kubelet registers its node with and
// kube-controller-manager's node lifecycle controller removes once the node
// is Ready.
const notReadyTaint = "node.kubernetes.io/not-ready"

// startKubelet writes the kubelet's configuration and starts it.
func (n *Node) startKubelet(healthzPort int) error {
	dir := filepath.Join(n.Dir, "kubelet")
	for _, d := range []string{dir, filepath.Join(n.Dir, "pods-logs"), filepath.Join(n.Dir, "volume-plugins")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	var cfg bytes.Buffer
	err := kubeletConfig.Execute(&cfg, map[string]any{
		"CgroupRoot":      n.CgroupRoot,
		"Runtime":         "unix://" + n.ContainerdSocket,
		"Port":            n.KubeletPort,
		"HealthzPort":     healthzPort,
		"PodLogsDir":      filepath.Join(n.Dir, "pods-logs"),
		"VolumePluginDir": filepath.Join(n.Dir, "volume-plugins"),
	})
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(n.Dir, "kubelet.yaml")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o600); err != nil {
		return err
	}
	args := []string{
		"--config", cfgPath,
		"--kubeconfig", n.Kubeconfig,
		"--root-dir", dir,
		"--cert-dir", filepath.Join(n.Dir, "kubelet-pki"),
		// The kube-apiserver dials the node by its Hostname address; the
		// kubelet refuses a loopback --node-ip.
		"--hostname-override", n.Name,
		"--v", "2",
	}
	p, err := childproc.Start("kubelet", n.bins.kubelet, args, nil, n.KubeletLog)
	if err != nil {
		return err
	}
	n.kubelet = p
	return nil
}

// waitReady waits for the Node object to be Ready and free of the not-ready
// taint: removed by kube-controller-manager when it runs, else here.
func (n *Node) waitReady(ctx context.Context, timeout time.Duration) error {
	ready := func(ctx context.Context) (bool, error) {
		node, err := n.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Errorf("the kubelet has not registered node %s: %w", n.Name, err)
		}
		if err := nodeReady(node); err != nil {
			return false, err
		}
		if !hasTaint(node, notReadyTaint) {
			return true, nil
		}
		if n.controllerManager != nil {
			return false, fmt.Errorf("node %s is Ready but kube-controller-manager has not removed its %s taint yet (log: %s)",
				n.Name, notReadyTaint, n.ControllerManagerLog)
		}
		return false, n.removeNotReadyTaint(ctx)
	}
	if err := poll(ctx, n.kubelet, timeout, ready); err != nil {
		return fmt.Errorf("node %s did not become Ready: %w\nthe end of %s:\n%s", n.Name, err, n.KubeletLog, childproc.LogTail(n.KubeletLog, 40))
	}
	return nil
}

// nodeReady says why a node is not Ready, or nil when it is.
func nodeReady(node *corev1.Node) error {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("node %s is not Ready: %s: %s", node.Name, c.Reason, c.Message)
		}
	}
	return fmt.Errorf("node %s has no Ready condition yet", node.Name)
}

func hasTaint(node *corev1.Node, key string) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// removeNotReadyTaint does what the node lifecycle controller would: the
// kubelet registers the node tainted not-ready and never removes it itself.
func (n *Node) removeNotReadyTaint(ctx context.Context) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := n.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		taints := node.Spec.Taints[:0]
		for _, t := range node.Spec.Taints {
			if t.Key != notReadyTaint {
				taints = append(taints, t)
			}
		}
		node.Spec.Taints = taints
		_, err = n.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("removing the %s taint from node %s: %w", notReadyTaint, n.Name, err)
	}
	return nil
}
