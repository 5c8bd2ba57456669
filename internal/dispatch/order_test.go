package dispatch

import (
	"testing"
	"testing/fstest"

	. "github.com/onsi/gomega"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/beads/beadstest"
)

func TestPrerequisites(t *testing.T) {
	g := NewWithT(t)
	specs := []*gastownv1.BeadSpec{
		{ID: "gt-a"},
		{ID: "gt-b", DependsOn: []string{"gt-a", "gt-gone", "gt-b"}},
		{ID: "gt-epic", DependsOn: []string{"gt-a"}},
		{ID: "gt-child", Parents: []string{"gt-epic"}},
		{ID: "gt-child2", Parents: []string{"gt-epic"}, DependsOn: []string{"gt-epic"}},
		{ID: "gt-gate", WaitsFor: []string{"gt-epic"}},
	}
	g.Expect(Prerequisites(specs)).To(Equal(map[string][]string{
		"gt-b":      {"gt-a"}, // not a missing bead, nor itself
		"gt-epic":   {"gt-a"},
		"gt-child":  {"gt-epic"},
		"gt-child2": {"gt-epic"}, // once
		"gt-gate":   {"gt-epic", "gt-child", "gt-child2"},
	}))
}

func TestWaves(t *testing.T) {
	g := NewWithT(t)
	pre := map[string][]string{
		"c": {"b"}, "b": {"a"}, "d": {"a", "outside"},
		// x and y wait on each other; z waits on the cycle.
		"x": {"y"}, "y": {"x"}, "z": {"x"},
	}
	g.Expect(Waves([]string{"z", "d", "c", "y", "b", "x", "a", "e"}, pre)).To(Equal([][]string{
		{"a", "e"}, {"b", "d"}, {"c"}, {"x", "y", "z"},
	}))
	g.Expect(Waves(nil, pre)).To(BeEmpty())
}

// Written bead by bead in the order of its waves, as a BeadStore does
// (the beads of a wave are written at once, in any order), no corpus file
// ever shows the cluster a ready bead that is not ready once all are
// written: a bead seen before its blocker would be.
func TestCorpusWavesShowNoBeadReadyEarly(t *testing.T) {
	for _, f := range beadstest.Corpus(t) {
		t.Run(f.Name, func(t *testing.T) {
			fsys := fstest.MapFS{".beads/issues.jsonl": {Data: beadstest.Read(t, f.Name)}}
			set, err := beads.Load(fsys, ".beads", beads.Options{Format: gastownv1.FormatBeadsJSONL})
			if err != nil || len(set.Errors) > 0 {
				t.Fatalf("load: %v %v", err, set.Errors)
			}
			good, _ := set.Good()
			byID := map[string]*gastownv1.BeadSpec{}
			ids := make([]string, len(good))
			all := make([]*gastownv1.BeadSpec, len(good))
			for i := range good {
				all[i], ids[i] = &good[i].Spec, good[i].ID
				byID[good[i].ID] = &good[i].Spec
			}
			ready := map[string]bool{}
			for _, s := range Ready(all, nil) {
				ready[s.ID] = true
			}
			waves := Waves(ids, Prerequisites(all))
			var written []*gastownv1.BeadSpec
			for _, wave := range waves {
				for _, id := range wave {
					written = append(written, byID[id])
					for _, s := range Ready(written, nil) {
						if !ready[s.ID] {
							t.Fatalf("after %d of %d beads (%s last), %s is ready; it is not once all are written", len(written), len(all), id, s.ID)
						}
					}
				}
			}
			if len(written) != len(all) {
				t.Fatalf("the waves hold %d beads, want %d", len(written), len(all))
			}
			t.Logf("%d beads in %d waves", len(all), len(waves))
		})
	}
}
