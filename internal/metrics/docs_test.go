package metrics

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// exported is the name of every metric the package exports.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 100)
	for _, c := range append(Collectors(), polecats, beads) {
		c.Describe(ch)
	}
	close(ch)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
	}
	return names
}

// mentioned is every gastown_ and gotk_ metric name in file, with the
// _bucket, _count and _sum of histograms taken off.
func mentioned(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range regexp.MustCompile(`\b(?:gastown|gotk)_[a-z_]+`).FindAllString(string(b), -1) {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && strings.HasSuffix(base, "_seconds") {
				n = base
			}
		}
		names[n] = true
	}
	return names
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMetricsDocumented: docs/METRICS.md names every metric exported and
// nothing else, and the Grafana dashboard queries only exported metrics
// and shows every gastown_ one.
func TestMetricsDocumented(t *testing.T) {
	want := exported(t)
	t.Logf("exported: %v", sorted(want))
	doc := mentioned(t, "../../docs/METRICS.md")
	for _, n := range sorted(want) {
		if !doc[n] {
			t.Errorf("docs/METRICS.md does not describe %s", n)
		}
	}
	dashboard := mentioned(t, "../../docs/grafana/gastown-dashboard.json")
	for _, file := range []map[string]bool{doc, dashboard} {
		for _, n := range sorted(file) {
			if !want[n] {
				t.Errorf("%s is mentioned but not exported", n)
			}
		}
	}
	for _, n := range sorted(want) {
		if strings.HasPrefix(n, "gastown_") && !dashboard[n] {
			t.Errorf("the dashboard shows no %s", n)
		}
	}
}
