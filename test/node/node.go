//go:build linux

package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/boshu2/gastown-operator/test/internal/childproc"
)

// Name is the name of every node's Node object. The kube-apiserver dials a
// node for logs and exec by its Hostname address, and the kubelet refuses a
// loopback node IP, so the hostname must be one that means 127.0.0.1.
const Name = "localhost"

// defaultReadyTimeout is generous: a node is Ready in seconds, but CI
// machines are shared.
const defaultReadyTimeout = 2 * time.Minute

// Options say how to run a node.
type Options struct {
	// Config is the kube-apiserver's client configuration, written into a
	// kubeconfig for the kubelet and the controllers. It is used when
	// Kubeconfig is empty.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file for the node's components.
	Kubeconfig string
	// Dir holds everything the node makes, logs included; a new temporary
	// directory when empty. It must be short: Unix socket paths under it
	// must fit in 107 bytes.
	Dir string
	// KeepDir keeps Dir, with the logs, after Stop. Everything under it is
	// unmounted all the same.
	KeepDir bool
	// Scheduler runs kube-scheduler, so that pods need no spec.nodeName.
	Scheduler bool
	// ControllerManager runs kube-controller-manager: node lifecycle
	// (taints), garbage collection by owner references, namespace deletion,
	// and the controllers of Jobs, ReplicaSets and the like. Without it
	// Start removes the node's not-ready taint itself.
	ControllerManager bool
	// Images are image tarballs to import before the kubelet starts, so
	// that the kubelet knows them before any pod asks.
	Images []string
	// Registries are plain-HTTP image registries on loopback, as host:port
	// (e.g. test/registry's Host), that containerd pulls from over HTTP:
	// images named host:port/repo:tag that were not imported are pulled
	// from there.
	Registries []string
	// BinDir holds kubelet, kube-scheduler and kube-controller-manager;
	// NodeBinDir() when empty.
	BinDir string
	// ReadyTimeout bounds the wait for the node to be Ready; two minutes
	// when zero.
	ReadyTimeout time.Duration
	// Logf, when not nil, is told what starts and how long it took.
	Logf func(format string, args ...any)
}

// Node is a running node. Its exported fields say where things are, for
// tests and for error messages.
type Node struct {
	// Name is the Node object's name, always the constant Name.
	Name string
	// Dir holds the node's state, configuration and logs.
	Dir string
	// Kubeconfig is the kubeconfig the node's components use.
	Kubeconfig string
	// ContainerdSocket is containerd's gRPC socket, for ctr --address.
	ContainerdSocket string
	// CgroupRoot is the node's cgroup, in every hierarchy, that holds its
	// pods' cgroups (kubepods and below).
	CgroupRoot string
	// PauseImage is the sandbox image containerd runs as each pod's first
	// container.
	PauseImage string
	// KubeletPort is where the kubelet serves, on 127.0.0.1.
	KubeletPort int
	// The components' logs. SchedulerLog and ControllerManagerLog are empty
	// when those do not run.
	ContainerdLog, KubeletLog, SchedulerLog, ControllerManagerLog string

	opts   Options
	bins   binaries
	client kubernetes.Interface

	containerd, kubelet, scheduler, controllerManager *childproc.Process
	schedulerPort, controllerManagerPort              int

	// joinedHost is set once the node is in the machine's shared record
	// (see joinHost), which Stop must then leave.
	joinedHost bool

	mu      sync.Mutex
	stopped bool
	stopErr error
}

// Start starts a node beside a kube-apiserver: containerd, the kubelet and,
// as opts say, kube-scheduler and kube-controller-manager. It returns once
// the Node object is Ready and schedulable. It fails, rather than skips,
// when not run as root, when a binary is missing (saying how to install it)
// or when the node is not Ready in time; whatever it had started by then it
// stops and cleans up, keeping the directory so that the logs it names can
// be read.
func Start(ctx context.Context, opts Options) (_ *Node, err error) {
	begin := time.Now()
	if os.Geteuid() != 0 {
		return nil, errors.New("a test node needs root (containerd, runc and the kubelet mount filesystems, " +
			"make cgroups and set sysctls): run the tests as root")
	}
	if opts.Config == nil && opts.Kubeconfig == "" {
		return nil, errors.New("node.Options needs the kube-apiserver's Config or a Kubeconfig")
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = defaultReadyTimeout
	}
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = NodeBinDir(); err != nil {
			return nil, err
		}
	}
	bins, err := findBinaries(binDir, opts.Scheduler, opts.ControllerManager)
	if err != nil {
		return nil, err
	}
	pauseRef, pauseTarball, err := pauseImage(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := nodeDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	n := &Node{
		Name:             Name,
		Dir:              dir,
		ContainerdSocket: filepath.Join(dir, "containerd", "containerd.sock"),
		CgroupRoot:       "/gastown-node-" + id,
		PauseImage:       pauseRef,
		ContainerdLog:    filepath.Join(dir, "containerd.log"),
		KubeletLog:       filepath.Join(dir, "kubelet.log"),
		opts:             opts,
		bins:             bins,
	}
	if opts.Scheduler {
		n.SchedulerLog = filepath.Join(dir, "kube-scheduler.log")
	}
	if opts.ControllerManager {
		n.ControllerManagerLog = filepath.Join(dir, "kube-controller-manager.log")
	}
	// From here on a failure cleans up what was started; the directory
	// stays for its logs.
	defer func() {
		if err == nil {
			return
		}
		n.opts.KeepDir = true
		if stopErr := n.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up after the failed start: %w", stopErr))
		}
		err = fmt.Errorf("starting a node in %s (kept, with its logs): %w", dir, err)
	}()
	if err := joinHost(n.Dir); err != nil {
		return nil, fmt.Errorf("saving the host's state: %w", err)
	}
	n.joinedHost = true
	if err := n.connect(); err != nil {
		return nil, err
	}
	if err := makeCgroupRoot(n.CgroupRoot); err != nil {
		return nil, err
	}
	ports, err := childproc.FreeAddrs(4)
	if err != nil {
		return nil, err
	}
	n.KubeletPort = ports[0].Port
	step := time.Now()
	if err := n.startContainerd(ctx); err != nil {
		return nil, err
	}
	n.logf("node: containerd serving in %s", since(step))
	// The controllers need nothing from the node: they warm up while the
	// images are imported and the kubelet registers.
	if opts.Scheduler {
		if err := n.startScheduler(ports[2].Port); err != nil {
			return nil, err
		}
	}
	if opts.ControllerManager {
		if err := n.startControllerManager(ports[3].Port); err != nil {
			return nil, err
		}
	}
	step = time.Now()
	if err := n.ImportImages(ctx, append([]string{pauseTarball}, opts.Images...)...); err != nil {
		return nil, err
	}
	n.logf("node: imported %d images in %s", 1+len(opts.Images), since(step))
	step = time.Now()
	if err := n.startKubelet(ports[1].Port); err != nil {
		return nil, err
	}
	if err := n.waitReady(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	n.logf("node: kubelet Ready in %s", since(step))
	if n.scheduler != nil {
		if err := waitHealthy(ctx, n.scheduler, n.schedulerPort, opts.ReadyTimeout); err != nil {
			return nil, err
		}
	}
	if n.controllerManager != nil {
		if err := waitHealthy(ctx, n.controllerManager, n.controllerManagerPort, opts.ReadyTimeout); err != nil {
			return nil, err
		}
	}
	n.logf("node: %s started in %s (%s)", n.Name, since(begin), n.Dir)
	return n, nil
}

// nodeDir makes the node's directory and checks that the longest socket
// path under it fits in a sockaddr_un.
func nodeDir(dir string) (string, error) {
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gastown-node-"); err != nil {
			return "", err
		}
	} else {
		if dir, err = filepath.Abs(dir); err != nil {
			return "", err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
	}
	const longest = "/kubelet/pod-resources/kubelet.sock"
	if len(dir)+len(longest) > 107 {
		return "", fmt.Errorf("node directory %s is too long for the Unix sockets under it (at most %d bytes): "+
			"leave Options.Dir empty for a short temporary one", dir, 107-len(longest))
	}
	return dir, nil
}

func randomID() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// connect writes the kubeconfig for the node's components, unless one was
// given, and makes the client the node watches itself with.
func (n *Node) connect() error {
	cfg := n.opts.Config
	if n.opts.Kubeconfig != "" {
		n.Kubeconfig = n.opts.Kubeconfig
		var err error
		if cfg, err = clientcmd.BuildConfigFromFlags("", n.Kubeconfig); err != nil {
			return fmt.Errorf("reading kubeconfig %s: %w", n.Kubeconfig, err)
		}
	} else {
		n.Kubeconfig = filepath.Join(n.Dir, "kubeconfig")
		if err := writeKubeconfig(cfg, n.Kubeconfig); err != nil {
			return fmt.Errorf("writing the node's kubeconfig: %w", err)
		}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	n.client = client
	return nil
}

// writeKubeconfig writes a kubeconfig holding cfg's server and credentials.
func writeKubeconfig(cfg *rest.Config, path string) error {
	if cfg.AuthProvider != nil {
		return errors.New("a rest.Config with an auth provider plugin cannot be written to a kubeconfig here")
	}
	server := cfg.Host
	if !strings.Contains(server, "://") {
		scheme := "https"
		if cfg.Insecure || (len(cfg.CAData) == 0 && cfg.CAFile == "" && len(cfg.CertData) == 0 && cfg.CertFile == "") {
			scheme = "http"
		}
		server = scheme + "://" + server
	}
	cluster := clientcmdapi.NewCluster()
	cluster.Server = strings.TrimSuffix(server, "/") + cfg.APIPath
	cluster.CertificateAuthority = cfg.CAFile
	cluster.CertificateAuthorityData = cfg.CAData
	cluster.InsecureSkipTLSVerify = cfg.Insecure
	cluster.TLSServerName = cfg.ServerName
	user := clientcmdapi.NewAuthInfo()
	user.ClientCertificate, user.ClientCertificateData = cfg.CertFile, cfg.CertData
	user.ClientKey, user.ClientKeyData = cfg.KeyFile, cfg.KeyData
	user.Token, user.TokenFile = cfg.BearerToken, cfg.BearerTokenFile
	user.Username, user.Password = cfg.Username, cfg.Password
	user.Exec = cfg.ExecProvider
	kc := clientcmdapi.NewConfig()
	kc.Clusters["node"] = cluster
	kc.AuthInfos["node"] = user
	kc.Contexts["node"] = &clientcmdapi.Context{Cluster: "node", AuthInfo: "node"}
	kc.CurrentContext = "node"
	return clientcmd.WriteToFile(*kc, path)
}

// Stop stops everything the node started and cleans up after it: the
// controllers and the kubelet, every container and shim left running (the
// kubelet leaves its pods behind when it stops), containerd; then it
// unmounts everything under the node's directory, removes the node's
// cgroups in every hierarchy, restores the sysctls the kubelet changed (when
// no other node runs on the machine; see joinHost), removes the Node object
// and, unless Options.KeepDir, the directory. It carries on past a failing
// step and reports them all; when any failed the directory stays, for the
// logs the errors name. Calling it again returns the first call's result.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return n.stopErr
	}
	n.stopped = true
	begin := time.Now()
	ctx := context.Background()
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(n.scheduler.Stop())
	add(n.controllerManager.Stop())
	add(n.kubelet.Stop())
	if n.containerd.Running() {
		add(n.deleteTasks(ctx))
	}
	add(n.containerd.Stop())
	add(killProcessesUsing(ctx, n.Dir))
	add(removeCgroups(ctx, n.CgroupRoot))
	add(unmountAll(ctx, n.Dir))
	add(removeContainerLogLinks(n.Dir))
	if n.joinedHost {
		add(leaveHost(n.Dir))
	}
	n.deleteNodeObject(ctx)
	switch {
	case len(errs) > 0:
		errs = append(errs, fmt.Errorf("the node's directory %s is kept, with its logs", n.Dir))
	case !n.opts.KeepDir:
		add(os.RemoveAll(n.Dir))
	}
	n.stopErr = errors.Join(errs...)
	n.logf("node: stopped in %s", since(begin))
	return n.stopErr
}

// deleteTasks kills and deletes every task (running container) through
// containerd, so that the shims exit on their own, unmounting the
// containers' root filesystems and removing their sockets. A task may go
// by itself meanwhile (the pause container's end kills the rest of its pod,
// and the CRI plugin deletes tasks that exit), so "not found" is success
// and what counts is that none is left.
func (n *Node) deleteTasks(ctx context.Context) error {
	var last error
	err := poll(ctx, nil, cleanupTimeout, func(ctx context.Context) (bool, error) {
		out, err := n.ctr(ctx, "tasks", "list", "--quiet")
		if err != nil {
			return false, err
		}
		ids := strings.Fields(out)
		for _, id := range ids {
			if _, err := n.ctr(ctx, "tasks", "delete", "--force", id); err != nil && !strings.Contains(err.Error(), "not found") {
				last = err
			}
		}
		return len(ids) == 0, fmt.Errorf("containers %v are left", ids)
	})
	if err != nil {
		return errors.Join(fmt.Errorf("deleting the node's containers: %w", err), last)
	}
	return nil
}

// deleteNodeObject deletes the Node object, so that the next node on the
// same kube-apiserver does not inherit the unreachable taints and pods
// bound to this one. The kube-apiserver may already be gone: then there is
// nothing to delete it from, and no error.
func (n *Node) deleteNodeObject(ctx context.Context) {
	if n.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := n.client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		n.logf("node: deleting the Node object %s: %v", n.Name, err)
	}
}

// PIDs returns the process id of each of the node's running components:
// "containerd", "kubelet", "kube-scheduler", "kube-controller-manager".
func (n *Node) PIDs() map[string]int {
	pids := map[string]int{}
	for _, p := range []*childproc.Process{n.containerd, n.kubelet, n.scheduler, n.controllerManager} {
		if pid := p.Pid(); pid != 0 {
			pids[p.Name] = pid
		}
	}
	return pids
}

func (n *Node) logf(format string, args ...any) {
	if n.opts.Logf != nil {
		n.opts.Logf(format, args...)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
