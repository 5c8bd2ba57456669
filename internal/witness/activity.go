package witness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Activity tells when a polecat last wrote output. It is an interface so
// that tests can script it: reading a pod's log goes through the kubelet,
// and envtest runs none.
type Activity interface {
	// LastOutput is the time of the polecat's last log line; zero when it
	// wrote none yet. pod is nil for a local run.
	LastOutput(ctx context.Context, pc *gastownv1.Polecat, pod *corev1.Pod) (time.Time, error)
}

// Logs reads the time of the last line of the agent container's log (the
// controller-runtime client cannot read pod logs, hence client-go), or the
// modification time of a local run's log file.
type Logs struct {
	Clientset kubernetes.Interface
}

// maxLogBytes bounds the read of the last line: only its timestamp is
// needed, and the agent's stream-json lines can be long.
const maxLogBytes = 64

// LastOutput implements Activity.
func (l Logs) LastOutput(ctx context.Context, pc *gastownv1.Polecat, pod *corev1.Pod) (time.Time, error) {
	if pod == nil {
		return fileTime(pc.Status.LocalLog)
	}
	tail, limit := int64(1), int64(maxLogBytes)
	raw, err := l.Clientset.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{
		Container: AgentContainer(pod), TailLines: &tail, LimitBytes: &limit, Timestamps: true,
	}).DoRaw(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the log of pod %s: %w", pod.Name, err)
	}
	return lineTime(string(raw))
}

// lineTime parses the timestamp the kubelet puts before a log line.
func lineTime(line string) (time.Time, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return time.Time{}, nil
	}
	stamp, _, _ := strings.Cut(line, " ")
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return time.Time{}, fmt.Errorf("log line without a timestamp: %w", err)
	}
	return t, nil
}

// fileTime is when a local run last wrote its log; zero before it wrote.
func fileTime(path string) (time.Time, error) {
	if path == "" {
		return time.Time{}, nil
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return info.ModTime(), nil
}
