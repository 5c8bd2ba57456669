package dispatch

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// BenchmarkDecide measures one dispatch decision for rigs of growing size:
// a fifth of the beads depend on another, a tenth are in convoys, fifty
// polecats run. ns/bead staying flat across sizes means the decision is
// linear in the number of beads.
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		beads, polecats, convoys := rigOfSize(n)
		rig := Rig{MaxPolecats: 60, MaxRetries: 2, RetryBackoff: time.Minute, MaxBackoff: 10 * time.Minute}
		b.Run(fmt.Sprintf("beads=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var created int
			for b.Loop() {
				created = len(Decide(rig, beads, polecats, nil, convoys, t0).Create)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/bead")
			b.ReportMetric(float64(created), "created")
		})
	}
}

func rigOfSize(n int) ([]gastownv1.Bead, []gastownv1.Polecat, []gastownv1.Convoy) {
	beads := make([]gastownv1.Bead, n)
	for i := range beads {
		beads[i] = bead(fmt.Sprintf("gt-%05d", i), prio(int32(i%5)), age(i%600))
		if i%5 == 1 {
			beads[i].Spec.DependsOn = []string{fmt.Sprintf("gt-%05d", i-1)}
		}
	}
	var polecats []gastownv1.Polecat
	for i := 0; i < 50 && i < n; i++ {
		polecats = append(polecats, dispatched(beads[i*2], beads[i*2].Name, gastownv1.PolecatPhaseWorking))
	}
	var convoys []gastownv1.Convoy
	for i := 0; i+10 <= n/10; i += 10 {
		var tracked []string
		for j := i; j < i+10; j++ {
			tracked = append(tracked, beads[j].Name)
		}
		convoys = append(convoys, gastownv1.Convoy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cv-%d", i)},
			Spec: gastownv1.ConvoySpec{TrackedBeads: tracked, Parallelism: 2}})
	}
	return beads, polecats, convoys
}
