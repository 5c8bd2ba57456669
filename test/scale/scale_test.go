package scale

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// defaultSizes are the bead counts when BENCH_BEADS is unset.
var defaultSizes = []int{1000, 10000}

const (
	defaultReady = 1000
	defaultQuiet = 10 * time.Second
	// maxSettle bounds the wait for a quiet apiserver after a phase's
	// target is reached; a phase that never quiets is reported as such.
	maxSettle = 3 * time.Minute
	// memSampleInterval is how often the manager's memory is read.
	memSampleInterval = 250 * time.Millisecond
	// cpuProfileSeconds is the length of the intake's CPU profile.
	cpuProfileSeconds = 30
	// phaseTimeout bounds a phase's wait for its objects.
	phaseTimeout = 30 * time.Minute
	beadsPerFile = 100
	rigCRD       = "rigs.gastown.gastown.io"
)

var (
	beadGVR    = schema.GroupVersionResource{Group: gastownv1.GroupVersion.Group, Version: gastownv1.GroupVersion.Version, Resource: "beads"}
	polecatGVR = schema.GroupVersionResource{Group: gastownv1.GroupVersion.Group, Version: gastownv1.GroupVersion.Version, Resource: "polecats"}
	podGVR     = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// BenchmarkScale runs issue 12's scenarios once per size in BENCH_BEADS
// (comma-separated; 1000,10000 by default), each in an environment of its
// own, and prints the table. Run it with -benchtime=1x: one run is several
// minutes.
func BenchmarkScale(b *testing.B) {
	if bt := flag.Lookup("test.benchtime"); bt == nil || bt.Value.String() != "1x" {
		b.Fatal("run BenchmarkScale with -benchtime=1x (make bench-scale): each run starts a control plane and takes minutes")
	}
	sizes, err := envInts("BENCH_BEADS", defaultSizes)
	if err != nil {
		b.Fatal(err)
	}
	ready, err := envInts("BENCH_READY", []int{defaultReady})
	if err != nil || len(ready) != 1 {
		b.Fatalf("BENCH_READY: one number: %v", err)
	}
	description := defaultDescription
	if v := os.Getenv("BENCH_TEXT_BYTES"); v != "" {
		size, err := strconv.Atoi(v)
		if err != nil || size <= 0 {
			b.Fatalf("BENCH_TEXT_BYTES=%q: a positive number of bytes", v)
		}
		description = benchText(size)
	}
	quiet := defaultQuiet
	if v := os.Getenv("BENCH_QUIET"); v != "" {
		if quiet, err = time.ParseDuration(v); err != nil {
			b.Fatalf("BENCH_QUIET: %v", err)
		}
	}
	// One manager binary for every size, built now: the tree may change
	// while the benchmark runs.
	manager := os.Getenv("BENCH_MANAGER")
	if manager == "" {
		if manager, err = buildManager(b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
	// envtest logs through controller-runtime's logger; its errors are
	// returned to us anyway.
	ctrl.SetLogger(logr.Discard())
	var results []*result
	for _, n := range sizes {
		b.Run(fmt.Sprintf("beads=%d", n), func(b *testing.B) {
			r := runScale(b, manager, n, min(ready[0], n), description, quiet)
			results = append(results, r)
			r.report(b)
		})
	}
	if len(results) > 1 {
		printFlatness(results)
	}
}

// result holds one size's figures.
type result struct {
	beads int
	// textBytes is the length of each bead's description.
	textBytes int

	intakeTime, intakeSettle time.Duration
	intakeQuiet              bool
	intakeWrites             writes
	intakeReconciles         map[string]float64

	resyncWrites writes
	resyncQuiet  bool

	ready, maxPolecats, crdMax int
	readyTime, readySettle     time.Duration
	readyQuiet                 bool
	readyWrites                writes
	dispatchTime               time.Duration
	dispatchSettle             time.Duration
	dispatchQuiet              bool
	dispatchWrites             writes
	dispatchReconciles         map[string]float64
	polecats, pods             int

	finalBeads int
	hwm, rss   string
	// rssAnon and rssFile split the RSS at the end: the heap, stacks and
	// runtime's own, and the binary's pages.
	rssAnon, rssFile string
	mem              []phaseMem
	cpu              []phaseCPU
	gogc             float64
}

func runScale(b *testing.B, manager string, n, ready int, description string, quiet time.Duration) *result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*phaseTimeout)
	defer cancel()
	r := &result{beads: n, ready: ready, textBytes: len(description)}
	env, err := devenv.Start(ctx, devenv.Options{
		// No beads at first: the intake is measured from a push.
		Beads:          map[string]string{},
		ManagerProcess: true,
		ManagerBinary:  manager,
		// source-controller fetches when asked (ReconcileSource) only, so
		// that its writes fall in the phase that asked.
		SourceInterval: time.Hour,
		Rig: func(rig *gastownv1.Rig) {
			rig.Spec.Suspend = true
			rig.Spec.Settings.ExecutionMode = gastownv1.ExecutionModeKubernetes
			rig.Spec.Kubernetes.PodTemplate = nil
		},
		// The defaults of the CRDs, as a user's objects have, not devenv's
		// fast ones.
		Witness:  func(w *gastownv1.Witness) { w.Spec.HealthCheckInterval = nil },
		Refinery: func(ref *gastownv1.Refinery) { ref.Spec.PollInterval = nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Stop()
	cs, err := newClientset(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	ph := &phases{b: b, env: env, cs: cs, quiet: quiet}
	ph.startInformers(ctx)
	defer ph.stopInformers()
	go ph.sampleMemory(ctx)

	// An empty repository first, and a quiet apiserver.
	if _, err := env.ReconcileSource(ctx); err != nil {
		b.Fatal(err)
	}
	ph.settle(ctx)

	// (1) Intake of n beads that are not dispatchable (epics) by a
	// suspended rig: a suspended rig dispatches today, epics never.
	if _, err := env.Push(fmt.Sprintf("Add %d beads", n), beadFiles(n, 0, false, description)); err != nil {
		b.Fatal(err)
	}
	before := ph.snapshot(ctx)
	ph.mem.take()
	began := time.Now()
	// BENCH_CPU_PROFILE names a file prefix for the CPU profiles of the
	// intake's first cpuProfileSeconds: the manager's, and kube-apiserver's,
	// whose CPU is what a write costs.
	cpuProfile := make(chan error, 2)
	if prefix := os.Getenv("BENCH_CPU_PROFILE"); prefix != "" {
		go func() {
			cpuProfile <- saveProfile(env, fmt.Sprintf("profile?seconds=%d", cpuProfileSeconds), fmt.Sprintf("%s-%d.pprof", prefix, n))
		}()
		go func() {
			cpuProfile <- saveAPIServerProfile(ctx, cs, fmt.Sprintf("%s-%d-apiserver.pprof", prefix, n))
		}()
	} else {
		cpuProfile <- nil
		cpuProfile <- nil
	}
	if _, err := env.ReconcileSource(ctx); err != nil {
		b.Fatal(err)
	}
	ph.waitFor(ctx, fmt.Sprintf("%d Beads", n), func() bool { return count(ph.beads) >= n })
	r.intakeTime = time.Since(began)
	// The intake's heap, its statuses still being written.
	ph.saveHeap("intake", n)
	after, quietOK := ph.settle(ctx)
	r.intakeSettle, r.intakeQuiet = time.Since(began), quietOK
	r.intakeWrites = after.w.sub(before.w)
	r.intakeReconciles = subCounts(after.reconciles, before.reconciles)
	r.mem = append(r.mem, ph.peakOf("intake"))
	r.cpu = append(r.cpu, cpuOf("intake", before, after))
	for range 2 {
		if err := <-cpuProfile; err != nil {
			b.Fatal(err)
		}
	}

	// (2) One bead's title changes.
	gen0 := generation(ph.beads, beadName(0))
	if _, err := env.Push("Retitle one bead", beadFiles(n, 0, true, description)); err != nil {
		b.Fatal(err)
	}
	before = ph.snapshot(ctx)
	ph.mem.take()
	if _, err := env.ReconcileSource(ctx); err != nil {
		b.Fatal(err)
	}
	ph.waitFor(ctx, "the changed bead", func() bool { return generation(ph.beads, beadName(0)) > gen0 })
	after, r.resyncQuiet = ph.settle(ctx)
	r.resyncWrites = after.w.sub(before.w)
	r.mem = append(r.mem, ph.peakOf("resync"))
	r.cpu = append(r.cpu, cpuOf("resync", before, after))
	ph.saveHeap("resync", n)

	// (3) A push makes ready beads tasks, the rig still suspended: the
	// beads become Ready.
	gens := map[string]int64{}
	for i := range ready {
		gens[beadName(i)] = generation(ph.beads, beadName(i))
	}
	if _, err := env.Push(fmt.Sprintf("Make %d beads tasks", ready), beadFiles(n, ready, true, description)); err != nil {
		b.Fatal(err)
	}
	before = ph.snapshot(ctx)
	ph.mem.take()
	began = time.Now()
	if _, err := env.ReconcileSource(ctx); err != nil {
		b.Fatal(err)
	}
	ph.waitFor(ctx, fmt.Sprintf("%d beads changed to tasks", ready), func() bool {
		for name, g := range gens {
			if generation(ph.beads, name) <= g {
				return false
			}
		}
		return true
	})
	r.readyTime = time.Since(began)
	after, r.readyQuiet = ph.settle(ctx)
	r.readySettle = time.Since(began)
	r.readyWrites = after.w.sub(before.w)
	r.mem = append(r.mem, ph.peakOf("ready"))
	r.cpu = append(r.cpu, cpuOf("ready", before, after))
	ph.saveHeap("ready", n)

	// (4) The ready beads get polecats: the rig resumed, with maxPolecats
	// raised to ready or the CRD's maximum.
	r.crdMax = maxPolecatsMaximum(ctx, b, env.Client)
	r.maxPolecats = ready
	if r.crdMax > 0 && r.crdMax < ready {
		r.maxPolecats = r.crdMax
	}
	rig := &gastownv1.Rig{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: env.Name}, rig); err != nil {
		b.Fatal(err)
	}
	before = ph.snapshot(ctx)
	ph.mem.take()
	began = time.Now()
	p := client.MergeFrom(rig.DeepCopy())
	rig.Spec.Suspend = false
	rig.Spec.Settings.MaxPolecats = int32(r.maxPolecats)
	if err := env.Client.Patch(ctx, rig, p, client.FieldOwner("bench-scale")); err != nil {
		b.Fatal(err)
	}
	ph.waitFor(ctx, fmt.Sprintf("%d Polecats and Pods", r.maxPolecats), func() bool {
		return count(ph.polecats) >= r.maxPolecats && count(ph.pods) >= r.maxPolecats
	})
	r.dispatchTime = time.Since(began)
	after, r.dispatchQuiet = ph.settle(ctx)
	r.dispatchSettle = time.Since(began)
	r.dispatchWrites = after.w.sub(before.w)
	r.mem = append(r.mem, ph.peakOf("dispatch"))
	r.cpu = append(r.cpu, cpuOf("dispatch", before, after))
	r.dispatchReconciles = subCounts(after.reconciles, before.reconciles)
	r.polecats, r.pods, r.finalBeads = count(ph.polecats), count(ph.pods), count(ph.beads)
	r.gogc = after.gogc

	// (5) The manager's peak and current memory with all of that, and, when
	// BENCH_HEAP_PROFILE names a file prefix, its heap profile.
	st, err := env.OperatorStatus()
	if err != nil {
		b.Fatal(err)
	}
	if prefix := os.Getenv("BENCH_HEAP_PROFILE"); prefix != "" {
		if err := saveProfile(env, "heap", fmt.Sprintf("%s-%d.pprof", prefix, n)); err != nil {
			b.Fatal(err)
		}
		// The runtime's own accounting (heap in use, idle and released,
		// stacks) is at the end of the text form.
		if err := saveProfile(env, "heap?debug=1", fmt.Sprintf("%s-%d.txt", prefix, n)); err != nil {
			b.Fatal(err)
		}
	}
	r.hwm, r.rss, r.rssAnon, r.rssFile = st["VmHWM"], st["VmRSS"], st["RssAnon"], st["RssFile"]
	return r
}

// saveHeap saves the manager's heap profile at the end of a phase when
// BENCH_HEAP_PROFILE names a file prefix, after a collection so that its
// in-use figures are the live heap of that moment; with -base, two of them
// give what the phases between them allocated.
func (p *phases) saveHeap(phase string, n int) {
	prefix := os.Getenv("BENCH_HEAP_PROFILE")
	if prefix == "" {
		return
	}
	if err := saveProfile(p.env, "heap?gc=1", fmt.Sprintf("%s-%d-%s.pprof", prefix, n, phase)); err != nil {
		p.b.Fatal(err)
	}
}

// phases holds what the phases share: the env, informers on the workers
// namespace's beads, polecats and pods (metadata only), and the quiet
// window.
type phases struct {
	b     *testing.B
	env   *devenv.Env
	cs    kubernetes.Interface
	quiet time.Duration

	beads, polecats, pods cache.SharedIndexInformer
	stop                  chan struct{}
	mem                   memPeak
}

type snap struct {
	w          writes
	reconciles map[string]float64
	// The manager's CPU seconds and collections so far, and its GOGC.
	cpu, collections, gogc float64
	// apiserverCPU is kube-apiserver's CPU seconds so far.
	apiserverCPU float64
}

// phaseCPU is the manager's CPU time and garbage collections in one
// phase, and kube-apiserver's CPU time and the writes it served.
type phaseCPU struct {
	phase                         string
	cpu, collections              float64
	apiserverCPU, apiserverWrites float64
}

func cpuOf(phase string, before, after snap) phaseCPU {
	return phaseCPU{phase, after.cpu - before.cpu, after.collections - before.collections,
		after.apiserverCPU - before.apiserverCPU, after.w.sub(before.w).total()}
}

// memPeak is the manager's highest RSS and heap in use that a sampler saw
// since its last reset.
type memPeak struct {
	mu        sync.Mutex
	rss, heap float64
}

func (m *memPeak) observe(s managerSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rss, m.heap = max(m.rss, s.rss), max(m.heap, s.heap)
}

// take returns the peaks and starts over.
func (m *memPeak) take() (rss, heap float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rss, heap, m.rss, m.heap = m.rss, m.heap, 0, 0
	return rss, heap
}

// phaseMem is the manager's peak memory in one phase, as sampled.
type phaseMem struct {
	phase     string
	rss, heap float64
}

// peakOf ends a phase's memory sampling.
func (p *phases) peakOf(phase string) phaseMem {
	rss, heap := p.mem.take()
	return phaseMem{phase, rss, heap}
}

// sampleMemory reads the manager's RSS from /proc every memSampleInterval
// until ctx ends: the peak of a phase may fall between two snapshots. Not
// from its /metrics, whose every scrape the manager pays for (the heap in
// use is read at the snapshots, once a second).
func (p *phases) sampleMemory(ctx context.Context) {
	t := time.NewTicker(memSampleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st, err := p.env.OperatorStatus()
			if err != nil {
				continue
			}
			if kb, err := kiB(st["VmRSS"]); err == nil {
				p.mem.observe(managerSample{rss: kb * 1024})
			}
		}
	}
}

func (p *phases) startInformers(ctx context.Context) {
	mc, err := metadata.NewForConfig(p.env.Config)
	if err != nil {
		p.b.Fatal(err)
	}
	f := metadatainformer.NewFilteredSharedInformerFactory(mc, 0, devenv.WorkersNamespace, nil)
	p.beads = f.ForResource(beadGVR).Informer()
	p.polecats = f.ForResource(polecatGVR).Informer()
	p.pods = f.ForResource(podGVR).Informer()
	p.stop = make(chan struct{})
	f.Start(p.stop)
	for gvr, ok := range f.WaitForCacheSync(p.stop) {
		if !ok {
			p.b.Fatalf("informer of %s did not sync", gvr)
		}
	}
}

func (p *phases) stopInformers() { close(p.stop) }

func (p *phases) snapshot(ctx context.Context) snap {
	api, err := readAPIServer(ctx, p.cs)
	if err != nil {
		p.b.Fatal(err)
	}
	w := api.w
	ev, err := eventWritesByComponent(ctx, p.cs)
	if err != nil {
		p.b.Fatal(err)
	}
	for k, v := range ev {
		w[k] = v
	}
	m, err := readManager(ctx, p.env.Endpoints().OperatorMetrics)
	if err != nil {
		p.b.Fatal(err)
	}
	p.mem.observe(m)
	return snap{w: w, reconciles: m.reconciles, cpu: m.cpu, collections: m.collections, gogc: m.gogc, apiserverCPU: api.cpu}
}

// settle waits until the apiserver has seen no write (but leases) for the
// quiet window, or maxSettle has passed, and returns the last snapshot
// and whether it was quiet.
func (p *phases) settle(ctx context.Context) (snap, bool) {
	began := time.Now()
	last := p.snapshot(ctx)
	changed := time.Now()
	for {
		time.Sleep(time.Second)
		s := p.snapshot(ctx)
		if s.w.total() != last.w.total() {
			last, changed = s, time.Now()
		} else if time.Since(changed) >= p.quiet {
			return last, true
		}
		if time.Since(began) > maxSettle {
			p.b.Logf("bench-scale: the apiserver still sees writes %s after the phase's target", maxSettle)
			return s, false
		}
	}
}

func (p *phases) waitFor(ctx context.Context, what string, done func() bool) {
	deadline := time.Now().Add(phaseTimeout)
	for !done() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.b.Fatalf("bench-scale: %s not there within %s; see %s", what, phaseTimeout, p.env.OperatorLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func count(inf cache.SharedIndexInformer) int { return len(inf.GetStore().ListKeys()) }

// generation of the named bead in the informer's cache; 0 when absent.
func generation(inf cache.SharedIndexInformer, name string) int64 {
	obj, ok, _ := inf.GetStore().GetByKey(devenv.WorkersNamespace + "/" + name)
	if !ok {
		return 0
	}
	if m, ok := obj.(metav1.Object); ok {
		return m.GetGeneration()
	}
	return 0
}

// maxPolecatsMaximum reads the Rig CRD's maximum of
// spec.settings.maxPolecats as the apiserver serves it; 0 when it has none.
func maxPolecatsMaximum(ctx context.Context, b *testing.B, c client.Client) int {
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := c.Get(ctx, client.ObjectKey{Name: rigCRD}, crd); err != nil {
		b.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if vm["name"] != gastownv1.GroupVersion.Version {
			continue
		}
		maximum, found, _ := unstructured.NestedFieldNoCopy(vm, "schema", "openAPIV3Schema", "properties",
			"spec", "properties", "settings", "properties", "maxPolecats", "maximum")
		if !found {
			return 0
		}
		switch m := maximum.(type) {
		case int64:
			return int(m)
		case float64:
			return int(m)
		}
	}
	return 0
}

// buildManager builds cmd/manager of this tree into dir.
func buildManager(dir string) (string, error) {
	root, err := testenv.ProjectRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/manager")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/manager in %s: %w\n%s", root, err, b)
	}
	return out, nil
}

func beadName(i int) string { return fmt.Sprintf("gt-b%05d", i) }

// defaultDescription is a bead's description unless BENCH_TEXT_BYTES is
// set.
const defaultDescription = "A bead of make bench-scale."

// benchText is a description of size bytes, for BENCH_TEXT_BYTES: the
// beads of data/beads-real have 35 to 2,700 bytes of text a bead, about
// 400 on average.
func benchText(size int) string {
	const sentence = "A bead of make bench-scale, with text. "
	// Ends in a letter: YAML drops a plain scalar's trailing space.
	return strings.Repeat(sentence, size/len(sentence)+1)[:size-1] + "x"
}

// beadFiles are n beads under .gastown/, beadsPerFile a file: the first
// tasks of them of type task and open without dependencies, the others
// epics (never dispatched). retitled changes bead 0's title.
func beadFiles(n, tasks int, retitled bool, description string) map[string]string {
	files := map[string]string{}
	for f := 0; f*beadsPerFile < n; f++ {
		var s strings.Builder
		for i := f * beadsPerFile; i < min(n, (f+1)*beadsPerFile); i++ {
			typ, title := "epic", fmt.Sprintf("Scale bead %d", i)
			if i < tasks {
				typ = "task"
			}
			if i == 0 && retitled {
				title += ", retitled"
			}
			fmt.Fprintf(&s, "---\napiVersion: gastown.gastown.io/v1alpha1\nkind: Bead\nmetadata:\n  name: %s\nspec:\n  title: %s\n  description: %s\n  type: %s\n  priority: 2\n  status: open\n",
				beadName(i), title, description, typ)
		}
		files[fmt.Sprintf("%s/scale-%03d.yaml", devenv.BeadsDir, f)] = s.String()
	}
	return files
}

func subCounts(after, before map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if diff := v - before[k]; diff != 0 {
			d[k] = diff
		}
	}
	return d
}

func envInts(name string, def []int) ([]int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: comma-separated positive numbers", name, v)
		}
		out = append(out, n)
	}
	return out, nil
}

// saveAPIServerProfile writes kube-apiserver's CPU profile of the next
// cpuProfileSeconds to path, read with the admin configuration
// (system:masters may read /debug/pprof).
func saveAPIServerProfile(ctx context.Context, cs kubernetes.Interface, path string) error {
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", strconv.Itoa(cpuProfileSeconds)).Timeout(2 * cpuProfileSeconds * time.Second).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("kube-apiserver's CPU profile: %w", err)
	}
	return os.WriteFile(path, raw, 0o644)
}

// saveProfile writes one of the manager's profiles (/debug/pprof/<profile>
// on its metrics address) to path, for go tool pprof.
func saveProfile(env *devenv.Env, profile, path string) error {
	resp, err := http.Get("http://" + env.Endpoints().OperatorMetrics + "/debug/pprof/" + profile)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", profile, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
