package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// localPolecat creates a polecat run locally whose log is logFile.
func localPolecat(t *testing.T, ns, name, logFile string, phase gastownv1.PolecatPhase) *gastownv1.Polecat {
	t.Helper()
	pc := &gastownv1.Polecat{}
	pc.Name, pc.Namespace = name, ns
	pc.Spec = gastownv1.PolecatSpec{Rig: ns, BeadID: name, ExecutionMode: gastownv1.ExecutionModeLocal}
	create(t, pc, func() {
		pc.Status.Phase = phase
		pc.Status.LocalLog = logFile
	})
	return pc
}

func TestPolecatLogsLocal(t *testing.T) {
	namespace(t, "local")
	dir := t.TempDir()
	logFile := filepath.Join(dir, "local_gt-done.log")
	if err := os.WriteFile(logFile, []byte("cloning\nagent: done\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	localPolecat(t, "local", "gt-done", logFile, gastownv1.PolecatPhaseSucceeded)

	// A finished run: -f prints the file and ends.
	for _, args := range [][]string{{"polecat", "logs", "gt-done", "-n", "local"}, {"polecat", "logs", "gt-done", "-n", "local", "-f"}} {
		code, out, errOut := gt(args...)
		if code != exitOK || errOut != "" || out != "cloning\nagent: done\n" {
			t.Errorf("%v: exit code %d, stderr %q, output %q", args, code, errOut, out)
		}
	}

	// A file on the operator's machine.
	localPolecat(t, "local", "gt-far", "/var/lib/gastown/logs/local_gt-far.log", gastownv1.PolecatPhaseWorking)
	code, out, errOut := gt("polecat", "logs", "gt-far", "-n", "local")
	wantErr := "Error: polecat local/gt-far runs locally: its log is the file /var/lib/gastown/logs/local_gt-far.log on the machine the operator runs on, " +
		"and it is not readable here (no such file or directory); run this command on that machine\n"
	if code != exitFailed || out != "" || errOut != wantErr {
		t.Errorf("exit code %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, wantErr)
	}

	// Not started yet.
	localPolecat(t, "local", "gt-new", "", gastownv1.PolecatPhasePending)
	code, _, errOut = gt("polecat", "logs", "gt-new", "-n", "local", "-f")
	wantErr = "Error: polecat local/gt-new runs locally and has not started: it has no log file yet (status.localLog is empty)\n"
	if code != exitFailed || errOut != wantErr {
		t.Errorf("exit code %d, stderr %q; want %q", code, errOut, wantErr)
	}

	code, _, errOut = gt("polecat", "logs", "gt-done", "-n", "local", "-c", "claude")
	wantErr = "Error: --container: polecat local/gt-done runs locally, without a pod\nRun 'kubectl gt polecat logs --help' for usage.\n"
	if code != exitUsage || errOut != wantErr {
		t.Errorf("exit code %d, stderr %q; want %q", code, errOut, wantErr)
	}
}

// TestPolecatLogsFollowLocal follows a running local polecat: the test
// writes to its log, then finishes it as the operator would.
func TestPolecatLogsFollowLocal(t *testing.T) {
	namespace(t, "follow")
	logFile := filepath.Join(t.TempDir(), "follow_gt-run.log")
	if err := os.WriteFile(logFile, []byte("line 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pc := localPolecat(t, "follow", "gt-run", logFile, gastownv1.PolecatPhaseWorking)

	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := gt("polecat", "logs", "gt-run", "-n", "follow", "-f")
		done <- result{code, out, errOut}
	}()

	appendLine := func(line string) {
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	appendLine("line 2\n")
	select {
	case r := <-done:
		t.Fatalf("logs -f ended while the polecat runs: exit code %d, stderr %q, output %q", r.code, r.errOut, r.out)
	case <-time.After(300 * time.Millisecond):
	}
	appendLine("line 3\n")
	pc.Status.Phase = gastownv1.PolecatPhaseSucceeded
	if err := env.Client.Status().Update(context.Background(), pc); err != nil {
		t.Fatal(err)
	}

	select {
	case r := <-done:
		if r.code != exitOK || r.errOut != "" {
			t.Errorf("exit code %d, stderr %q", r.code, r.errOut)
		}
		if diff := cmp.Diff("line 1\nline 2\nline 3\n", r.out); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f did not end when the polecat finished")
	}
}

func TestPolecatLogsPod(t *testing.T) {
	namespace(t, "pods")
	pc := &gastownv1.Polecat{}
	pc.Name, pc.Namespace = "gt-pod", "pods"
	pc.Spec = gastownv1.PolecatSpec{Rig: "pods", BeadID: "gt-pod"}
	create(t, pc, nil)

	code, _, errOut := gt("polecat", "logs", "gt-pod", "-n", "pods")
	wantErr := "Error: pod polecat-gt-pod of polecat pods/gt-pod not found: the polecat has not started yet; " +
		"'kubectl describe polecat gt-pod -n pods' shows its conditions\n"
	if code != exitFailed || errOut != wantErr {
		t.Errorf("exit code %d, stderr %q; want %q", code, errOut, wantErr)
	}

	// The pod the operator would make; no scheduler runs here, so it stays
	// Pending, on no node.
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace = "polecat-gt-pod", "pods"
	pod.Spec = corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "git-init", Image: "runner"}},
		Containers:     []corev1.Container{{Name: "claude", Image: "agent"}},
	}
	create(t, pod, nil)

	code, _, errOut = gt("polecat", "logs", "gt-pod", "-n", "pods", "-f")
	wantErr = "Error: pod polecat-gt-pod of polecat pods/gt-pod is Pending and not scheduled yet, so it has no log: " +
		"'kubectl describe pod polecat-gt-pod -n pods' says why\n"
	if code != exitFailed || errOut != wantErr {
		t.Errorf("exit code %d, stderr %q; want %q", code, errOut, wantErr)
	}

	code, _, errOut = gt("polecat", "logs", "gt-pod", "-n", "pods", "-c", "agent")
	wantErr = "Error: --container \"agent\": pod polecat-gt-pod has containers git-init, claude\nRun 'kubectl gt polecat logs --help' for usage.\n"
	if code != exitUsage || errOut != wantErr {
		t.Errorf("exit code %d, stderr %q; want %q", code, errOut, wantErr)
	}
}

// TestPolecatLogsStream reads a running pod's log through the API server,
// from a kubelet the test plays: a node whose kubelet endpoint is a TLS
// server that answers containerLogs as the kubelet does.
func TestPolecatLogsStream(t *testing.T) {
	namespace(t, "stream")
	var (
		mu     sync.Mutex
		asked  string
		askedQ url.Values
	)
	request := func() (string, url.Values) {
		mu.Lock()
		defer mu.Unlock()
		return asked, askedQ
	}
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked, askedQ = r.URL.Path, r.URL.Query()
		mu.Unlock()
		fmt.Fprintln(w, "agent: reading the task")
		w.(http.Flusher).Flush()
		fmt.Fprintln(w, "agent: done")
	}))
	t.Cleanup(kubelet.Close)
	_, portText, _ := net.SplitHostPort(kubelet.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)

	node := &corev1.Node{}
	node.Name = "stream-node"
	create(t, node, func() {
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	})
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })

	pc := &gastownv1.Polecat{}
	pc.Name, pc.Namespace = "gt-run", "stream"
	pc.Spec = gastownv1.PolecatSpec{Rig: "stream", BeadID: "gt-run"}
	create(t, pc, func() {
		pc.Status.Phase = gastownv1.PolecatPhaseWorking
		pc.Status.PodName = "polecat-gt-run"
	})
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace = "polecat-gt-run", "stream"
	pod.Spec = corev1.PodSpec{
		NodeName:       node.Name,
		InitContainers: []corev1.Container{{Name: "git-init", Image: "runner"}},
		Containers:     []corev1.Container{{Name: "claude", Image: "agent"}},
	}
	create(t, pod, nil)

	code, out, errOut := gt("polecat", "logs", "gt-run", "-n", "stream", "-f")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff("agent: reading the task\nagent: done\n", out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if path, query := request(); path != "/containerLogs/stream/polecat-gt-run/claude" || query.Get("follow") != "true" {
		t.Errorf("the kubelet was asked for %s?%s, want the agent container's log, followed", path, query.Encode())
	}

	code, _, _ = gt("polecat", "logs", "gt-run", "-n", "stream", "-c", "git-init")
	if path, query := request(); code != exitOK || path != "/containerLogs/stream/polecat-gt-run/git-init" || query.Has("follow") {
		t.Errorf("-c git-init: exit code %d, the kubelet was asked for %s?%s", code, path, query.Encode())
	}
}
