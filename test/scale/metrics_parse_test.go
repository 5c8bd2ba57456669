package scale

import (
	"strings"
	"testing"
)

func TestAPIServerWritesFromMetrics(t *testing.T) {
	const text = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="gastown.gastown.io",resource="beads",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 5
apiserver_request_total{code="409",component="apiserver",dry_run="",group="gastown.gastown.io",resource="beads",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 100
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 40
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 9
apiserver_request_duration_seconds_bucket{le="0.1",verb="POST"} 3
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 81.25
`
	sample, err := parseAPIServer(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if sample.cpu != 81.25 {
		t.Fatalf("cpu %v, want 81.25", sample.cpu)
	}
	w := sample.w
	if w["pods"] != 7 || w["beads/status"] != 7 || w[listPrefix+"pods"] != 3 || w["leases"] != 40 {
		t.Fatalf("writes %v", w)
	}
	if got := w.total(); got != 14 {
		t.Fatalf("total %v, want 14 (leases and LISTs not counted)", got)
	}
	if _, err := parseAPIServer(strings.NewReader(`apiserver_request_total{verb="POST",resource="pods"} 1` + "\n")); err == nil {
		t.Fatal("no error for /metrics without process_cpu_seconds_total")
	}
	if got := num(35371); got != "35,371" {
		t.Fatalf("num: %s", got)
	}
}
