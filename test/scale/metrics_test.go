package scale

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// sample is one line of Prometheus's text format: a metric's labels and
// value.
type sample struct {
	labels map[string]string
	value  float64
}

// parseMetrics reads the samples of the named metrics from Prometheus's
// text exposition format. It handles what kube-apiserver and
// controller-runtime print: no timestamps after the value, label values
// with escaped quotes.
func parseMetrics(r io.Reader, names ...string) (map[string][]sample, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]sample{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if !want[name] {
			continue
		}
		labels := map[string]string{}
		if strings.HasPrefix(rest, "{") {
			var err error
			if labels, rest, err = parseLabels(rest[1:]); err != nil {
				return nil, fmt.Errorf("metric line %q: %w", line, err)
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metric line %q has no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[name] = append(out[name], sample{labels, v})
	}
	return out, sc.Err()
}

// parseLabels parses `a="x",b="y"}` and returns the labels and what
// follows the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, "", fmt.Errorf("malformed labels at %q", s)
		}
		key := s[:eq]
		s = s[eq+2:]
		var val strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			val.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("unterminated label value of %s", key)
		}
		labels[key] = val.String()
		s = s[i+1:]
	}
}

// writeVerbs are the apiserver_request_total verbs that change objects:
// the label holds the HTTP method (POST, PUT, PATCH, DELETE) except for
// APPLY, LIST, WATCH and the like.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true,
	"DELETE": true, "DELETECOLLECTION": true, "CREATE": true, "UPDATE": true}

// writes counts the apiserver's write requests by "resource" or
// "resource/subresource" (for example "beads/status"), and its LIST
// requests by listPrefix+"resource", which are not writes.
type writes map[string]float64

const listPrefix = "LIST "

// apiserverSample is what the benchmark reads off kube-apiserver's
// /metrics: its writes and its CPU time (process_cpu_seconds_total), which
// says what a write costs on this machine.
type apiserverSample struct {
	w   writes
	cpu float64
}

// readAPIServer scrapes kube-apiserver's /metrics with the admin
// configuration (system:masters may read it).
func readAPIServer(ctx context.Context, cs kubernetes.Interface) (apiserverSample, error) {
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return apiserverSample{}, fmt.Errorf("reading kube-apiserver's /metrics: %w", err)
	}
	return parseAPIServer(strings.NewReader(string(raw)))
}

// parseAPIServer sums apiserver_request_total over write verbs, whatever
// the response code, by write resource, and LISTs apart.
func parseAPIServer(r io.Reader) (apiserverSample, error) {
	m, err := parseMetrics(r, "apiserver_request_total", "process_cpu_seconds_total")
	if err != nil {
		return apiserverSample{}, err
	}
	w := writes{}
	for _, s := range m["apiserver_request_total"] {
		if s.labels["verb"] == "LIST" {
			// LISTs the apiserver served: a cached client sends none
			// after its informer's first.
			w[listPrefix+s.labels["resource"]] += s.value
			continue
		}
		if !writeVerbs[s.labels["verb"]] || s.labels["dry_run"] != "" {
			continue
		}
		key := s.labels["resource"]
		if sub := s.labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		w[key] += s.value
	}
	cpu := m["process_cpu_seconds_total"]
	if len(cpu) != 1 {
		return apiserverSample{}, fmt.Errorf("kube-apiserver's /metrics has %d process_cpu_seconds_total series, not one", len(cpu))
	}
	return apiserverSample{w: w, cpu: cpu[0].value}, nil
}

func newClientset(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	// The benchmark's own requests are reads; they must not wait behind
	// client-go's default 5 QPS while the operator writes.
	cfg.QPS, cfg.Burst = 200, 400
	return kubernetes.NewForConfig(cfg)
}

// operator sums the writes but Flux's own on its GitRepository (the flux
// CLI's annotation, source-controller's status and events).
func (w writes) operator() float64 {
	return w.total() - w["gitrepositories"] - w["gitrepositories/status"] - w[eventsPrefix+"source-controller"]
}

// sub returns w - before, dropping resources that did not change.
func (w writes) sub(before writes) writes {
	d := writes{}
	for k, v := range w {
		if diff := v - before[k]; diff != 0 {
			d[k] = diff
		}
	}
	return d
}

// ignored are writes that are nobody's work here: the apiserver's own
// identity lease and the controllers' heartbeats, and the reviews that
// are POSTed but never stored.
var ignored = map[string]bool{"leases": true, "tokenreviews": true, "subjectaccessreviews": true,
	"selfsubjectaccessreviews": true, "selfsubjectrulesreviews": true, "selfsubjectreviews": true}

// total sums every resource but the ignored ones.
func (w writes) total() float64 {
	var t float64
	for k, v := range w {
		if !ignored[k] && !strings.HasPrefix(k, listPrefix) && !strings.HasPrefix(k, eventsPrefix) {
			t += v
		}
	}
	return t
}

// sorted lists the resources, the most written first.
func (w writes) sorted() []string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if w[keys[i]] != w[keys[j]] {
			return w[keys[i]] > w[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// managerSample is what the bench reads of the manager's /metrics: its
// reconciles by controller, summed over results, and its memory.
type managerSample struct {
	reconciles map[string]float64
	// rss is process_resident_memory_bytes; heap is
	// go_memstats_heap_inuse_bytes.
	rss, heap float64
	// cpu is process_cpu_seconds_total; collections is
	// go_gc_duration_seconds_count; gogc is go_gc_gogc_percent.
	cpu, collections, gogc float64
}

// readManager reads the manager's /metrics.
func readManager(ctx context.Context, addr string) (managerSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return managerSample{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return managerSample{}, fmt.Errorf("reading the manager's /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return managerSample{}, fmt.Errorf("reading the manager's /metrics: %s", resp.Status)
	}
	m, err := parseMetrics(resp.Body, "controller_runtime_reconcile_total", "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes",
		"process_cpu_seconds_total", "go_gc_duration_seconds_count", "go_gc_gogc_percent")
	if err != nil {
		return managerSample{}, err
	}
	out := managerSample{reconciles: map[string]float64{}}
	for _, s := range m["controller_runtime_reconcile_total"] {
		out.reconciles[s.labels["controller"]] += s.value
	}
	for _, s := range m["process_resident_memory_bytes"] {
		out.rss = s.value
	}
	for _, s := range m["go_memstats_heap_inuse_bytes"] {
		out.heap = s.value
	}
	for _, s := range m["process_cpu_seconds_total"] {
		out.cpu = s.value
	}
	for _, s := range m["go_gc_duration_seconds_count"] {
		out.collections = s.value
	}
	for _, s := range m["go_gc_gogc_percent"] {
		out.gogc = s.value
	}
	return out, nil
}

// eventsPrefix keys the event writes of one component in writes.
const eventsPrefix = "events by "

// eventWritesByComponent sums the events' counts (a repeated event is
// one PATCH of its count) by the component that reported them, across
// namespaces: the apiserver's metrics cannot tell the operator's events
// from source-controller's.
func eventWritesByComponent(ctx context.Context, cs kubernetes.Interface) (writes, error) {
	list, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	w := writes{}
	for _, ev := range list.Items {
		component := ev.ReportingController
		if component == "" {
			component = ev.Source.Component
		}
		w[eventsPrefix+component] += float64(max(ev.Count, 1))
	}
	return w, nil
}
