package beads

import (
	"fmt"
	"testing"
	"testing/fstest"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// BenchmarkLoad measures reading and validating a repository's bead files:
// one file per bead, each depending on the previous, and a convoy per ten.
// MB/s is the parse throughput.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{100, 1000} {
		fsys := fstest.MapFS{}
		var size int64
		for i := 0; i < n; i++ {
			doc := fmt.Sprintf(`# bead %d
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-%05d
spec:
  title: Task number %d
  description: |
    Do the thing described here, then write a test for it.
  priority: %d
  dependsOn: [%s]
`, i, i, i, i%5, dep(i))
			if i%10 == 9 {
				doc += fmt.Sprintf("---\napiVersion: gastown.gastown.io/v1alpha1\nkind: Convoy\nmetadata:\n  name: cv-%d\nspec:\n  trackedBeads: [gt-%05d]\n", i, i)
			}
			name := fmt.Sprintf(".gastown/dir%d/gt-%05d.yaml", i%10, i)
			fsys[name] = &fstest.MapFile{Data: []byte(doc)}
			size += int64(len(doc))
		}
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				set, err := Load(fsys, ".gastown", Options{Format: gastownv1.FormatManifests, Prefix: "gt-"})
				if err != nil || len(set.Errors) > 0 || len(set.Beads) != n {
					b.Fatalf("load: %v, %d errors, %d beads", err, len(set.Errors), len(set.Beads))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/bead")
		})
	}
}

func dep(i int) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprintf("gt-%05d", i-1)
}
