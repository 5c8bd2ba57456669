//go:build linux

package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	probeImage  = "gastown.local/node-probe:test"
	podTimeout  = 2 * time.Minute
	podPoll     = 100 * time.Millisecond
	nonRootUID  = 65532
	messagePath = "/termination/report.json"
)

// report is what the probe's check writes as its termination message.
type report struct {
	UID          int    `json:"uid"`
	GID          int    `json:"gid"`
	CapEff       string `json:"capEff"`
	NoNewPrivs   string `json:"noNewPrivs"`
	Seccomp      string `json:"seccomp"`
	RootReadOnly bool   `json:"rootReadOnly"`
	FromInit     string `json:"fromInit"`
	Secret       string `json:"secret"`
}

// TestHardenedPod runs a node with kube-scheduler and
// kube-controller-manager, runs a hardened pod on it to completion, reads
// its termination message and both containers' logs through the
// kube-apiserver, then stops the node and checks that it left nothing.
func TestHardenedPod(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	image := buildProbeImage(t)
	sysctls := hostSysctls()

	start := time.Now()
	n, err := Start(ctx, Options{
		Config:            env.Config,
		Scheduler:         true,
		ControllerManager: true,
		Images:            []string{image},
		Logf:              t.Logf,
	})
	g.Expect(err).NotTo(HaveOccurred())
	started := time.Since(start)
	t.Cleanup(func() { _ = n.Stop() })

	ns := env.Namespace(t)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		StringData: map[string]string{"token": "s3cret-" + ns},
	}
	g.Expect(env.Client.Create(ctx, secret)).To(Succeed())
	pod := hardenedPod(ns, "")
	applied := time.Now()
	g.Expect(env.Client.Create(ctx, pod)).To(Succeed())
	waitSucceeded(g, pod)
	ran := time.Since(applied)

	g.Expect(pod.Spec.NodeName).To(Equal(Name), "kube-scheduler binds the pod to the node")
	g.Expect(pod.Status.ContainerStatuses).To(HaveLen(1))
	term := pod.Status.ContainerStatuses[0].State.Terminated
	g.Expect(term).NotTo(BeNil())
	var r report
	g.Expect(json.Unmarshal([]byte(term.Message), &r)).To(Succeed(), "termination message %q", term.Message)
	g.Expect(r).To(Equal(report{
		UID:          nonRootUID,
		GID:          nonRootUID,
		CapEff:       "0000000000000000",
		NoNewPrivs:   "1",
		Seccomp:      "2", // filter mode: the runtime's default profile
		RootReadOnly: true,
		FromInit:     "hello from the init container",
		Secret:       "s3cret-" + ns,
	}))

	logs, err := env.Kubectl("logs", "-n", ns, pod.Name, "-c", "init")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(logs).To(ContainSubstring(fmt.Sprintf("as uid %d", nonRootUID)))
	logs, err = env.Kubectl("logs", "-n", ns, pod.Name, "-c", "main")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(logs).To(ContainSubstring(`read "hello from the init container" from the init container`))

	left := snapshot(t, n)
	memory := residentMemory(left.pids)
	stopping := time.Now()
	g.Expect(n.Stop()).To(Succeed())
	stopped := time.Since(stopping)
	t.Logf("timings: node start %s (cold: containerd, pause and probe imports, kubelet), pod apply→Succeeded %s, stop %s",
		started.Round(time.Millisecond), ran.Round(time.Millisecond), stopped.Round(time.Millisecond))
	t.Logf("resident memory after the pod: %s", memory)
	expectNothingLeft(t, n, left, sysctls)
}

// TestBareNode runs a node without kube-scheduler and
// kube-controller-manager: Start removes the not-ready taint, and pods bound
// by spec.nodeName run. One is still running when the node stops, as pods
// are when a test ends: Stop kills it.
func TestBareNode(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	image := buildProbeImage(t)
	sysctls := hostSysctls()

	n, err := Start(ctx, Options{Config: env.Config, Images: []string{image}, Logf: t.Logf})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = n.Stop() })

	node := &corev1.Node{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: Name}, node)).To(Succeed())
	g.Expect(node.Spec.Taints).NotTo(ContainElement(HaveField("Key", notReadyTaint)))

	ns := env.Namespace(t)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		StringData: map[string]string{"token": "bare"},
	}
	g.Expect(env.Client.Create(ctx, secret)).To(Succeed())
	pod := hardenedPod(ns, Name)
	g.Expect(env.Client.Create(ctx, pod)).To(Succeed())
	waitSucceeded(g, pod)
	sleeper := sleeperPod(ns, Name, n.PauseImage)
	g.Expect(env.Client.Create(ctx, sleeper)).To(Succeed())
	waitRunning(g, sleeper)

	r := snapshot(t, n)
	g.Expect(r.sockets).NotTo(BeEmpty(), "the sleeper's shim listens on a socket")
	t.Logf("resident memory with one pod running: %s", residentMemory(r.pids))
	g.Expect(n.Stop()).To(Succeed())
	g.Expect(n.Stop()).To(Succeed(), "Stop is idempotent")
	expectNothingLeft(t, n, r, sysctls)
}

// TestStopAfterContainerdDies checks that Stop cleans up by force when
// containerd cannot delete the containers: it kills the shims and the
// containers in the node's cgroups, removes the shims' sockets, unmounts
// the root filesystems, and reports that containerd had died.
func TestStopAfterContainerdDies(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	sysctls := hostSysctls()

	n, err := Start(ctx, Options{Config: env.Config, Logf: t.Logf})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = n.Stop() })
	ns := env.Namespace(t)
	sleeper := sleeperPod(ns, Name, n.PauseImage)
	g.Expect(env.Client.Create(ctx, sleeper)).To(Succeed())
	waitRunning(g, sleeper)

	r := snapshot(t, n)
	g.Expect(syscall.Kill(r.pids["containerd"], syscall.SIGKILL)).To(Succeed())
	g.Expect(n.Stop()).To(MatchError(And(
		ContainSubstring("containerd had exited before Stop"),
		ContainSubstring(n.ContainerdLog),
		ContainSubstring("is kept"),
	)))
	g.Expect(n.ContainerdLog).To(BeARegularFile(), "the directory is kept for the logs")
	g.Expect(os.RemoveAll(n.Dir)).To(Succeed())
	expectNothingLeft(t, n, r, sysctls)
}

// TestStartCleansUpWhenNotReady checks that a node that is not Ready in
// time is an error holding the end of the kubelet's log, and that Start
// cleans up what it had started, keeping the directory for the logs.
func TestStartCleansUpWhenNotReady(t *testing.T) {
	g := NewWithT(t)
	sysctls := hostSysctls()
	// Nodes of other test packages may run beside this one: only a cgroup
	// this Start made would be new.
	before := nodeCgroups(t)
	dir, err := os.MkdirTemp("", "gastown-node-")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	_, err = Start(context.Background(), Options{Config: env.Config, Dir: dir, ReadyTimeout: time.Millisecond})
	g.Expect(err).To(MatchError(And(
		ContainSubstring("did not become Ready"),
		ContainSubstring("the end of "+filepath.Join(dir, "kubelet.log")),
	)))
	g.Expect(filepath.Join(dir, "kubelet.log")).To(BeARegularFile())
	for name := range nodeCgroups(t) {
		g.Expect(before).To(HaveKey(name), "the node's cgroups are removed")
	}
	g.Expect(os.RemoveAll(dir)).To(Succeed())
	expectNothingLeft(t, &Node{Dir: dir, CgroupRoot: "/gastown-node-none"}, running{}, sysctls)
}

// nodeCgroups are the nodes' cgroups in the memory hierarchy now.
func nodeCgroups(t *testing.T) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir("/sys/fs/cgroup/memory")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "gastown-node-") {
			names[e.Name()] = true
		}
	}
	return names
}

// TestStartFailsClearly checks that a missing binary is an error that says
// how to get it, before anything starts.
func TestStartFailsClearly(t *testing.T) {
	g := NewWithT(t)
	_, err := Start(context.Background(), Options{Config: env.Config, BinDir: t.TempDir()})
	g.Expect(err).To(MatchError(ContainSubstring("hack/testbin.sh node")))
}

// TestBuildImageRefusesLatest checks that an image a pod could only pull is
// refused when it is built.
func TestBuildImageRefusesLatest(t *testing.T) {
	g := NewWithT(t)
	files := map[string]File{"/hello": {Data: []byte("hi")}}
	out := filepath.Join(t.TempDir(), "img.tar")
	g.Expect(BuildImage("gastown.local/xx:latest", files, ImageConfig{}, out)).To(MatchError(ContainSubstring("latest")))
	g.Expect(BuildImage("gastown.local/xx", files, ImageConfig{}, out)).To(MatchError(ContainSubstring("latest")))
	g.Expect(BuildImage("gastown.local/xx:v1", files, ImageConfig{}, out)).To(Succeed())
}

// buildProbeImage compiles the probe and puts it in an image FROM scratch.
func buildProbeImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "probe")
	if err := BuildProgram(context.Background(), "./test/node/internal/probe", bin); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "probe.tar")
	files := map[string]File{"/probe": {Source: bin, Mode: 0o755}}
	cfg := ImageConfig{Entrypoint: []string{"/probe"}, User: fmt.Sprintf("%d:%d", nonRootUID, nonRootUID)}
	if err := BuildImage(probeImage, files, cfg, tarball); err != nil {
		t.Fatal(err)
	}
	return tarball
}

// hardenedPod is a pod as locked down as the operator's polecats: host
// network only, non-root, read-only root filesystem, no capabilities, the
// runtime's seccomp profile, no service account token. Its init container
// hands a file to the main container through an emptyDir; the main
// container also reads a secret volume and reports in its termination
// message. nodeName binds it when there is no scheduler.
func hardenedPod(ns, nodeName string) *corev1.Pod {
	container := func(name string, args ...string) corev1.Container {
		return corev1.Container{
			Name:            name,
			Image:           probeImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Args:            args,
			VolumeMounts: []corev1.VolumeMount{
				{Name: "work", MountPath: "/work"},
				{Name: "secret", MountPath: "/secret", ReadOnly: true},
			},
			Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("100m"),
					corev1.ResourceMemory: resource.MustParse("64Mi"),
				},
			},
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr.To(true),
				RunAsUser:                ptr.To(int64(nonRootUID)),
				RunAsGroup:               ptr.To(int64(nonRootUID)),
				ReadOnlyRootFilesystem:   ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false),
				Privileged:               ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}
	}
	main := container("main", "check", "/work/greeting", "/secret/token", messagePath)
	main.TerminationMessagePath = messagePath
	main.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hardened", Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:                      nodeName,
			HostNetwork:                   true,
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To(int64(5)),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				FSGroup:        ptr.To(int64(nonRootUID)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			InitContainers: []corev1.Container{container("init", "init", "/work/greeting")},
			Containers:     []corev1.Container{main},
			Volumes: []corev1.Volume{
				{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: "probe", DefaultMode: ptr.To(int32(0o440)),
				}}},
			},
		},
	}
}

// waitSucceeded polls the pod until it has Succeeded, giving up at once
// when it has Failed.
func waitSucceeded(g *WithT, pod *corev1.Pod) {
	g.Eventually(func(g Gomega) corev1.PodPhase {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		if pod.Status.Phase == corev1.PodFailed {
			StopTrying(fmt.Sprintf("pod %s failed: %s", pod.Name, podStatus(pod))).Now()
		}
		return pod.Status.Phase
	}).WithTimeout(podTimeout).WithPolling(podPoll).Should(Equal(corev1.PodSucceeded), func() string { return podStatus(pod) })
}

// podStatus sums up why a pod is where it is, for failure messages.
func podStatus(pod *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s %s", pod.Status.Phase, pod.Status.Message)
	for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
		switch {
		case s.State.Waiting != nil:
			fmt.Fprintf(&b, "; %s waiting: %s %s", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message)
		case s.State.Terminated != nil:
			fmt.Fprintf(&b, "; %s terminated: exit %d %s %s", s.Name, s.State.Terminated.ExitCode,
				s.State.Terminated.Reason, s.State.Terminated.Message)
		case s.State.Running != nil:
			fmt.Fprintf(&b, "; %s running", s.Name)
		}
	}
	return b.String()
}

// sleeperPod runs the pause image, which sleeps until it is stopped.
func sleeperPod(ns, nodeName, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper", Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:                     nodeName,
			HostNetwork:                  true,
			AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{
				Name: "sleep", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			}},
		},
	}
}

func waitRunning(g *WithT, pod *corev1.Pod) {
	g.Eventually(func(g Gomega) corev1.PodPhase {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		return pod.Status.Phase
	}).WithTimeout(podTimeout).WithPolling(podPoll).Should(Equal(corev1.PodRunning), func() string { return podStatus(pod) })
}

// residentMemory reads the resident memory of each process, for the report.
func residentMemory(pids map[string]int) string {
	var parts []string
	for name, pid := range pids {
		parts = append(parts, fmt.Sprintf("%s %s", name, rss(pid)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}
