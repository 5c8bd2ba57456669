//go:build linux

package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/boshu2/gastown-operator/test/internal/childproc"
)

// containerdConfig is containerd's configuration (version 2, containerd
// 1.6). Every path is under the node's directory, so that nothing it makes,
// mounts included, lands in /run/containerd, /var/lib/containerd or
// /opt/containerd. The CRI settings each answer a failure:
//   - restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so the
//     negative oom_score_adj the kubelet asks for is refused, and without it
//     every sandbox fails with "runc ... can't get final child's PID from
//     pipe: EOF".
//   - sandbox_image: nothing can be pulled, so it names the pause image the
//     node builds and imports.
//   - the loopback-only CNI configuration: without any, the node stays
//     NotReady ("cni plugin not initialized") even when every pod is
//     hostNetwork; with only loopback, only hostNetwork pods start, and pods
//     reach nothing but 127.0.0.1.
//   - stream_server_port 0 and no TCP or metrics listeners: two nodes on one
//     machine must not fight over fixed ports.
//   - disable_apparmor: a fresh machine may have AppArmor enabled without
//     apparmor_parser, which the default profile needs.
//   - runc's Root and netns_mounts_under_state_dir: runc's state and pod
//     network namespaces would otherwise live in /run.
//   - registry mirrors: each of Options.Registries, a plain-HTTP registry
//     on loopback, is its own mirror with an http:// endpoint, so that pods
//     pull from it (containerd would otherwise speak HTTPS to it).
var containerdConfig = template.Must(template.New("config.toml").Parse(`version = 2
root = {{printf "%q" .Root}}
state = {{printf "%q" .State}}
temp = {{printf "%q" .Temp}}
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = {{printf "%q" .Socket}}

[ttrpc]
  address = {{printf "%q" (print .Socket ".ttrpc")}}

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {{printf "%q" .Opt}}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {{printf "%q" .SandboxImage}}
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = {{printf "%q" .RuncRoot}}

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = {{printf "%q" .CNIBinDir}}
    conf_dir = {{printf "%q" .CNIConfDir}}
    max_conf_num = 1
{{- range .Registries}}

  [plugins."io.containerd.grpc.v1.cri".registry.mirrors.{{printf "%q" .}}]
    endpoint = [{{printf "%q" (print "http://" .)}}]
{{- end}}
`))

// loopbackCNI is the node's only network: the loopback interface.
const loopbackCNI = `{
  "cniVersion": "0.4.0",
  "name": "loopback",
  "plugins": [{"type": "loopback"}]
}
`

// ctrNamespace is the containerd namespace the CRI plugin uses, where
// images must be for the kubelet to see them.
const ctrNamespace = "k8s.io"

// startContainerd writes containerd's configuration and starts it, and
// returns when its CRI plugin is serving.
func (n *Node) startContainerd(ctx context.Context) error {
	dir := filepath.Join(n.Dir, "containerd")
	cniConf := filepath.Join(dir, "net.d")
	for _, d := range []string{dir, cniConf} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(cniConf, "10-loopback.conflist"), []byte(loopbackCNI), 0o644); err != nil {
		return err
	}
	var cfg bytes.Buffer
	err := containerdConfig.Execute(&cfg, map[string]any{
		"Root":         filepath.Join(dir, "root"),
		"State":        filepath.Join(dir, "state"),
		"Temp":         filepath.Join(dir, "tmp"),
		"Opt":          filepath.Join(dir, "opt"),
		"Socket":       n.ContainerdSocket,
		"SandboxImage": n.PauseImage,
		"RuncRoot":     filepath.Join(dir, "runc"),
		"CNIBinDir":    cniBinDir,
		"CNIConfDir":   cniConf,
		"Registries":   n.opts.Registries,
	})
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o600); err != nil {
		return err
	}
	p, err := childproc.Start("containerd", n.bins.containerd, []string{"--config", cfgPath}, nil, n.ContainerdLog)
	if err != nil {
		return err
	}
	n.containerd = p
	err = poll(ctx, p, 30*time.Second, func(ctx context.Context) (bool, error) {
		out, err := n.ctr(ctx, "plugins", "ls")
		if err != nil {
			return false, err
		}
		switch status := criStatus(out); status {
		case "ok":
			return true, nil
		case "error":
			return false, p.Errorf("its CRI plugin failed to load")
		default:
			return false, fmt.Errorf("CRI plugin status %q", status)
		}
	})
	if err != nil {
		return fmt.Errorf("containerd did not start serving CRI on %s: %w (log: %s)", n.ContainerdSocket, err, n.ContainerdLog)
	}
	return nil
}

// criStatus finds the CRI plugin's status in the output of ctr plugins ls.
func criStatus(plugins string) string {
	for _, line := range strings.Split(plugins, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "io.containerd.grpc.v1" && f[1] == "cri" {
			return f[len(f)-1]
		}
	}
	return ""
}

// ctr runs ctr against the node's containerd in the CRI namespace.
func (n *Node) ctr(ctx context.Context, args ...string) (string, error) {
	args = append([]string{"--address", n.ContainerdSocket, "--namespace", ctrNamespace}, args...)
	cmd := exec.CommandContext(ctx, n.bins.ctr, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args[4:], " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// ImportImage imports an image tarball (as BuildImage or `docker save`
// writes) into the node's containerd, where the kubelet finds it. The CRI
// plugin learns of it from containerd's events, a moment after the import.
func (n *Node) ImportImage(ctx context.Context, tarball string) error {
	if n.containerd == nil {
		return fmt.Errorf("importing %s: the node's containerd is not running", tarball)
	}
	if _, err := n.ctr(ctx, "images", "import", tarball); err != nil {
		return fmt.Errorf("importing %s into the node's containerd: %w (log: %s)", tarball, err, n.ContainerdLog)
	}
	return nil
}

// ImportImages imports each tarball in turn.
func (n *Node) ImportImages(ctx context.Context, tarballs ...string) error {
	for _, t := range tarballs {
		if err := n.ImportImage(ctx, t); err != nil {
			return err
		}
	}
	return nil
}
