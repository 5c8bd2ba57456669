package dispatch

import (
	"slices"
	"testing"
	"testing/fstest"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/beads/beadstest"
)

// corpusCase is what a person reading a corpus file found: beads bd's
// rules make ready, and beads they hold, with why.
type corpusCase struct {
	ready    []string
	notReady map[string]string
}

// corpusCases were checked by hand in each file's data.
var corpusCases = map[string]corpusCase{
	// Its one open issue is an epic, bd-113: epics are not dispatched.
	"0xHoneyJar__loa": {notReady: map[string]string{"bd-113": "an open epic"}},
	"0xSaiNova__gastown_ui": {
		ready: []string{"gt-mol-1f0"}, // its blocker gt-mol-2fs is closed
		notReady: map[string]string{
			"gt-mol-1uu": "blocks on the open gt-mol-8pf",
			"gt-mol-wff": "in_progress",
		},
	},
	"Avyukth__gastown_ui": {
		ready: []string{"hq-0qb.1"}, // child of the open epic hq-0qb, which blocks on nothing
		notReady: map[string]string{
			"hq-0er.1":  "child of the epic hq-0er, blocked by the open epics hq-0qb and hq-bpb",
			"hq-0er.10": "blocks on the open hq-0qb.3",
		},
	},
	"NVIDIA-NeMo__nemo-platform": {
		ready:    []string{"nemo-platform-q10.3"}, // child of the open epic nemo-platform-q10
		notReady: map[string]string{"nemo-platform-q10.7": "blocks on the open nemo-platform-q10.9"},
	},
	// skyhook-gld.1 to .6 are closed; their epic skyhook-gld is open and not work.
	"NVIDIA__skyhook": {notReady: map[string]string{"skyhook-gld": "an open epic", "skyhook-gld.1": "closed"}},
	"Nathandela__compound-agent": {
		ready:    []string{"learning_agent-0q0", "learning_agent-793"},
		notReady: map[string]string{"learning_agent-dtf": "blocks on the open learning_agent-793"},
	},
	"NavarrePratt__atari": {
		ready:    []string{"bd-drain-k94"},
		notReady: map[string]string{"bd-drain-41l": "in_progress"},
	},
	"NewWinHilton__beads": {
		ready:    []string{"bd-au0.10", "bd-hy9p", "bd-1rh"},
		notReady: map[string]string{"bd-o4qy": "blocks on the open bd-2q6d"},
	},
	"davidplumpton__icehouse": {ready: []string{"icehouse-9qe"}},
	"jkarasha__fastapi-todo-api-beads": {
		ready: []string{"fastapi-todo-api-beads-jx6.2", "fastapi-todo-api-beads-ig8.1"},
		notReady: map[string]string{
			"fastapi-todo-api-beads-5og.10": "blocks on the open fastapi-todo-api-beads-5og.4",
			"fastapi-todo-api-beads-5og.1":  "child of the blocked epic fastapi-todo-api-beads-5og",
		},
	},
	"jlevy__markform": {ready: []string{"markform-102"}},
	"jlgeering__wt": {
		ready:    []string{"wt-2lc", "wt-17d", "wt-1od"},
		notReady: map[string]string{"wt-3n9": "blocks on the open wt-1od", "wt-3cl": "in_progress"},
	},
	"jmagar__scout_mcp": {
		ready:    []string{"scout_mcp-01v"},
		notReady: map[string]string{"scout_mcp-9z3": "blocks on the open scout_mcp-vid"},
	},
	"jmcy9999__beads-fleet": {
		ready:    []string{"bw-0i9.1", "bw-1o9", "bw-91h"},
		notReady: map[string]string{"bw-0i9.2": "blocks on the open bw-0i9.1"},
	},
	"jmreicha__lazycfg":   {ready: []string{"lazycfg-1fg"}},
	"sfncore__gastown_ui": {ready: []string{"ga-2jz"}},
	"steveyegge__beads": {
		ready:    []string{"bd-hlsw.4", "bd-mql4", "bd-r6a.3"},
		notReady: map[string]string{"bd-05a8": "blocks on the open bd-tggf"},
	},
	"steveyegge__gastown": {
		// gt-jzmsj.1: child of the open epic gt-jzmsj, whose blocker gt-6r18e is closed.
		ready: []string{"gt-jzmsj.1", "gt-0a90", "gt-02431"},
		notReady: map[string]string{
			"gt-051cr": "blocks on gt-zk7wl, open",
			"gt-0vu9e": "hooked",
			"gt-jzmsj": "an open epic",
		},
	},
	"trly__quad-ops": {
		ready:    []string{"quad-ops-jto6", "quad-ops-1i5", "quad-ops-2bs"},
		notReady: map[string]string{"quad-ops-0pl": "blocks on the open quad-ops-79g", "quad-ops-x67": "in_progress"},
	},
	"trmdy__forge": {
		ready:    []string{"swarm-5ipa.3", "swarm-0dvd", "swarm-gn87"},
		notReady: map[string]string{"swarm-5ipa.1": "in_progress"},
	},
	"ttrei__beads": {
		ready:    []string{"bd-4", "bd-100"},
		notReady: map[string]string{"bd-231": "blocks on bd-230, in_progress", "bd-230": "in_progress"},
	},
}

// TestCorpusReadyFollowsBd computes the ready set of every corpus file and
// checks it on the cases read by hand.
func TestCorpusReadyFollowsBd(t *testing.T) {
	for _, f := range beadstest.Corpus(t) {
		t.Run(f.Name, func(t *testing.T) {
			c, ok := corpusCases[f.Name]
			if !ok {
				t.Fatalf("no hand-checked cases for %s: add them to corpusCases", f.Name)
			}
			fsys := fstest.MapFS{".beads/issues.jsonl": {Data: beadstest.Read(t, f.Name)}}
			set, err := beads.Load(fsys, ".beads", beads.Options{Format: gastownv1.FormatBeadsJSONL})
			if err != nil || len(set.Errors) > 0 {
				t.Fatalf("load: %v %v", err, set.Errors)
			}
			good, _ := set.Good()
			specs := make([]*gastownv1.BeadSpec, len(good))
			for i := range good {
				specs[i] = &good[i].Spec
			}
			var ready []string
			for _, s := range Ready(specs, nil) {
				ready = append(ready, s.ID)
			}
			for _, id := range c.ready {
				if !slices.Contains(ready, id) {
					t.Errorf("%s is not ready, want it ready", id)
				}
			}
			for id, why := range c.notReady {
				if slices.Contains(ready, id) {
					t.Errorf("%s is ready, want it held: %s", id, why)
				}
			}
			t.Logf("%d beads synced, %d ready", len(good), len(ready))
		})
	}
}
