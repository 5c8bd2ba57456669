package controller_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	stdlog "log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/events"
	"github.com/fluxcd/pkg/testserver"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/controller"
	"github.com/boshu2/gastown-operator/internal/operator"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/refinery"
	"github.com/boshu2/gastown-operator/internal/scheme"
	"github.com/boshu2/gastown-operator/internal/testenv"
)

var (
	env       *testenv.Env
	k8s       client.Client
	artifacts *testserver.ArtifactServer
	// storeWrites counts the object writes of the BeadStore reconciler,
	// storeReads its uncached GETs.
	storeWrites *countingClient
	storeReads  *countingReader
	// polecatReads is the Polecat reconciler's reader of the API server.
	polecatReads *editingReader
	// rigCache is the Rig reconciler's client, rigLists its reader of the
	// API server.
	rigCache *laggingCache
	rigLists *listCounter
	// refineryCache is the Refinery reconciler's client.
	refineryCache *laggingCache
	// runnerPath is the gastown-polecat binary local polecats run.
	runnerPath string
	// webhooks serves the Refinery's webhook receiver.
	webhooks *httptest.Server
	// logs holds everything the controllers logged.
	logs = &lockedBuffer{}
)

func TestMain(m *testing.M) { testenv.Main(m, &env, startManager) }

// Test timing: retries are fast so that retry tests finish in seconds.
const (
	testRetryBackoff = time.Second
	testMaxBackoff   = 2 * time.Second
)

func startManager(e *testenv.Env) (func(), error) {
	// Every log line goes to logs (tests look for leaked secrets there);
	// GASTOWN_TEST_LOG=1 also prints them.
	out := io.Writer(logs)
	if os.Getenv("GASTOWN_TEST_LOG") != "" {
		out = io.MultiWriter(os.Stderr, logs)
	}
	log.SetLogger(zap.New(zap.WriteTo(out), zap.UseDevMode(true), zap.Level(zapcore.Level(-3))))
	// gittestserver logs every git request through the standard logger.
	stdlog.SetOutput(out)
	var err error
	if artifacts, err = testserver.NewTempArtifactServer(); err != nil {
		return nil, err
	}
	artifacts.Start()
	if runnerPath, err = buildRunner(); err != nil {
		return nil, err
	}

	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme: scheme.Scheme,
		// The operator's cache: beads without their text, among others.
		Cache:                  operator.CacheTransforms(cache.Options{}),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlconfig.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controller.SetupIndexes(ctx, mgr); err != nil {
		cancel()
		return nil, err
	}
	recorder, err := events.NewRecorder(mgr, ctrl.Log, "", "gastown-operator")
	if err != nil {
		cancel()
		return nil, err
	}
	k8s = mgr.GetClient()
	storeWrites = &countingClient{Client: k8s, writes: map[string][]string{}}
	storeReads = &countingReader{Reader: mgr.GetAPIReader(), gets: map[string][]string{}}
	polecatReads = &editingReader{Reader: mgr.GetAPIReader(), edits: map[client.ObjectKey]func(client.Object){}}
	rigCache = &laggingCache{Client: k8s, hidden: map[client.ObjectKey]bool{}}
	rigLists = &listCounter{Reader: mgr.GetAPIReader(), lists: map[string]int{}}
	refineryCache = &laggingCache{Client: k8s, hidden: map[client.ObjectKey]bool{}}
	created := controller.NewCreatedPolecats()
	// Each reconciler's client logs the statuses it writes.
	as := func(reconciler string, c client.Client) client.Client { return statusLoggingClient{c, reconciler} }
	opts := ctrlcontroller.Options{MaxConcurrentReconciles: 2}
	for _, setup := range []func() error{
		func() error {
			return (&controller.RigReconciler{Client: as("Rig", rigCache), APIReader: rigLists, Created: created, EventRecorder: recorder,
				RetryBackoff: testRetryBackoff, MaxRetryBackoff: testMaxBackoff}).SetupWithManager(mgr, opts)
		},
		func() error {
			return (&controller.BeadStoreReconciler{Client: as("BeadStore", storeWrites), APIReader: storeReads, EventRecorder: recorder, ArtifactRetries: 1, Writers: 2}).SetupWithManager(mgr, opts)
		},
		func() error {
			return (&controller.BeadReconciler{Client: as("Bead", k8s), EventRecorder: recorder,
				RetryBackoff: testRetryBackoff, MaxRetryBackoff: testMaxBackoff}).SetupWithManager(mgr, opts)
		},
		func() error {
			return (&controller.ConvoyReconciler{Client: as("Convoy", k8s), EventRecorder: recorder}).SetupWithManager(mgr, opts)
		},
		func() error {
			return (&controller.PolecatReconciler{Client: as("Polecat", k8s), APIReader: polecatReads, EventRecorder: recorder,
				Defaults:    polecat.Defaults{RunnerImage: "ghcr.io/boshu2/gastown-operator:test"},
				LocalRunner: runnerPath, LocalWorkDir: filepath.Join(filepath.Dir(runnerPath), "work"),
			}).SetupWithManager(mgr, opts)
		},
		func() error {
			wake := make(chan event.GenericEvent, 64)
			r := &controller.RefineryReconciler{Client: as("Refinery", refineryCache), APIReader: mgr.GetAPIReader(), Created: created, EventRecorder: recorder,
				GitHubRetry: refinery.RetryOptions{Max: 3, WaitMin: 10 * time.Millisecond, WaitMax: 50 * time.Millisecond},
				Wake:        wake,
			}
			webhooks = httptest.NewServer(&controller.RefineryWebhookReceiver{Client: k8s, Wake: wake, Observe: r.Observe})
			return r.SetupWithManager(mgr, opts)
		},
		func() error { return setupWitness(mgr, e.Config, as("Witness", k8s), recorder, opts) },
	} {
		if err := setup(); err != nil {
			cancel()
			return nil, err
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "manager stopped: %v\n", err)
		}
	}()
	return func() {
		cancel()
		<-done
		webhooks.Close()
		artifacts.Stop()
		os.RemoveAll(artifacts.Root())
		os.RemoveAll(filepath.Dir(runnerPath))
	}, nil
}

// buildRunner builds cmd/polecat for local-mode polecats.
func buildRunner() (string, error) {
	root, err := testenv.ProjectRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gastown-runner-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "gastown-polecat")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/polecat")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the runner: %v\n%s", err, out)
	}
	return path, nil
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func ptr[T any](v T) *T { return &v }

// statusWriters is which reconcilers wrote the status of each kind.
var statusWriters = struct {
	sync.Mutex
	byKind map[string]map[string]bool
	// patches counts status writes by kind and namespace ("Bead/ns").
	patches map[string]int
}{byKind: map[string]map[string]bool{}, patches: map[string]int{}}

// statusLoggingClient is a reconciler's client; it records the kinds whose
// status it writes in statusWriters.
type statusLoggingClient struct {
	client.Client
	reconciler string
}

func (c statusLoggingClient) Status() client.SubResourceWriter {
	return statusLoggingWriter{c.Client.Status(), c.reconciler}
}

type statusLoggingWriter struct {
	client.SubResourceWriter
	reconciler string
}

func (w statusLoggingWriter) log(obj client.Object) {
	kind := strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1alpha1.")
	statusWriters.Lock()
	defer statusWriters.Unlock()
	if statusWriters.byKind[kind] == nil {
		statusWriters.byKind[kind] = map[string]bool{}
	}
	statusWriters.byKind[kind][w.reconciler] = true
	statusWriters.patches[kind+"/"+obj.GetNamespace()]++
}

// statusWrites returns how many status writes of kind in ns were sent.
func statusWrites(kind, ns string) int {
	statusWriters.Lock()
	defer statusWriters.Unlock()
	return statusWriters.patches[kind+"/"+ns]
}

func (w statusLoggingWriter) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	w.log(obj)
	return w.SubResourceWriter.Patch(ctx, obj, p, opts...)
}

func (w statusLoggingWriter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	w.log(obj)
	return w.SubResourceWriter.Update(ctx, obj, opts...)
}

// statusWritersOf returns the reconcilers that wrote the status of each kind so far.
func statusWritersOf() map[string][]string {
	statusWriters.Lock()
	defer statusWriters.Unlock()
	out := map[string][]string{}
	for kind, names := range statusWriters.byKind {
		for n := range names {
			out[kind] = append(out[kind], n)
		}
		sort.Strings(out[kind])
	}
	return out
}

// countingReader records GETs per namespace.
type countingReader struct {
	client.Reader
	mu   sync.Mutex
	gets map[string][]string
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	c.gets[key.Namespace] = append(c.gets[key.Namespace], key.Name)
	c.mu.Unlock()
	return c.Reader.Get(ctx, key, obj, opts...)
}

// take returns and forgets the names read in namespace ns.
func (c *countingReader) take(ns string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.gets[ns]
	delete(c.gets, ns)
	return out
}

// laggingCache is the Rig reconciler's cache, which a test can make miss
// polecats, as a cache that has not seen them yet.
type laggingCache struct {
	client.Client
	mu     sync.Mutex
	hidden map[client.ObjectKey]bool
}

func (c *laggingCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if pl, ok := list.(*gastownv1.PolecatList); ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		pl.Items = slices.DeleteFunc(pl.Items, func(pc gastownv1.Polecat) bool { return c.hidden[client.ObjectKeyFromObject(&pc)] })
	}
	return nil
}

func (c *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*gastownv1.Polecat); ok {
		c.mu.Lock()
		hidden := c.hidden[key]
		c.mu.Unlock()
		if hidden {
			return apierrors.NewNotFound(gastownv1.GroupVersion.WithResource("polecats").GroupResource(), key.Name)
		}
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// hide makes the cache miss the polecat key, or show it again.
func (c *laggingCache) hide(key client.ObjectKey, hidden bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hidden[key] = hidden
}

// listCounter counts the LISTs of polecats read through it, by namespace.
type listCounter struct {
	client.Reader
	mu    sync.Mutex
	lists map[string]int
}

func (c *listCounter) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*gastownv1.PolecatList); ok {
		o := (&client.ListOptions{}).ApplyOptions(opts)
		c.mu.Lock()
		c.lists[o.Namespace]++
		c.mu.Unlock()
	}
	return c.Reader.List(ctx, list, opts...)
}

func (c *listCounter) of(ns string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[ns]
}

// editingReader changes the objects it reads as edit says: as if they were
// edited between a reconciler's read of its cache and this read.
type editingReader struct {
	client.Reader
	mu    sync.Mutex
	edits map[client.ObjectKey]func(client.Object)
}

func (e *editingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := e.Reader.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	e.mu.Lock()
	edit := e.edits[key]
	e.mu.Unlock()
	if edit != nil {
		edit(obj)
	}
	return nil
}

func (e *editingReader) edit(key client.ObjectKey, edit func(client.Object)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.edits[key] = edit
}

// countingClient records object writes (not status writes) per namespace,
// and fails the creates a test asks it to.
type countingClient struct {
	client.Client
	mu       sync.Mutex
	writes   map[string][]string
	failures map[string]error // by operation and key
}

// failCreates makes every create of key fail with err until the returned
// function is called.
func (c *countingClient) failCreates(key client.ObjectKey, err error) (restore func()) {
	return c.fail("create", key, err)
}

// failDeletes makes every delete of key fail with err until the returned
// function is called.
func (c *countingClient) failDeletes(key client.ObjectKey, err error) (restore func()) {
	return c.fail("delete", key, err)
}

func (c *countingClient) fail(op string, key client.ObjectKey, err error) (restore func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failures == nil {
		c.failures = map[string]error{}
	}
	c.failures[op+" "+key.String()] = err
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.failures, op+" "+key.String())
	}
}

// injected is the error a test set for op on obj, if any.
func (c *countingClient) injected(op string, obj client.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failures[op+" "+client.ObjectKeyFromObject(obj).String()]
}

func (c *countingClient) record(op string, obj client.Object) {
	kind := strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1alpha1.")
	if u, ok := obj.(interface{ GetKind() string }); ok && u.GetKind() != "" {
		kind = u.GetKind()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes[obj.GetNamespace()] = append(c.writes[obj.GetNamespace()], op+" "+kind+"/"+obj.GetName())
}

func (c *countingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.record("create", obj)
	if err := c.injected("create", obj); err != nil {
		return err
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c *countingClient) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
	c.record("patch", obj)
	return c.Client.Patch(ctx, obj, p, opts...)
}

func (c *countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.record("update", obj)
	return c.Client.Update(ctx, obj, opts...)
}

func (c *countingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.record("delete", obj)
	if err := c.injected("delete", obj); err != nil {
		return err
	}
	return c.Client.Delete(ctx, obj, opts...)
}

// take returns and forgets the writes recorded in namespace ns, sorted.
func (c *countingClient) take(ns string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes[ns]
	delete(c.writes, ns)
	sort.Strings(w)
	return w
}

// publish serves files as a source artifact and returns its URL, digest and revision.
func publish(t *testing.T, files map[string]string) (url, digest, revision string) {
	t.Helper()
	var list []testserver.File
	for _, name := range sortedNames(files) {
		list = append(list, testserver.File{Name: name, Body: files[name]})
	}
	name, err := artifacts.ArtifactFromFiles(list)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(artifacts.Root(), name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	url, err = artifacts.URLForFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return url, "sha256:" + hex.EncodeToString(sum[:]), "main@sha1:" + hex.EncodeToString(sum[:20])
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// gitRepository creates a GitRepository in ns and points its status at an artifact.
func gitRepository(t *testing.T, ns, name string) *sourcev1.GitRepository {
	t.Helper()
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:       "https://git.example.com/org/" + name + ".git",
			Interval:  metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "trunk"},
		},
	}
	if err := k8s.Create(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	return repo
}

// setArtifact does what source-controller does after a fetch.
func setArtifact(t *testing.T, ns, name, url, digest, revision string) {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func() error {
		latest := &sourcev1.GitRepository{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, latest); err != nil {
			return err
		}
		latest.Status.Artifact = &meta.Artifact{
			Path: "gitrepository/x/" + revision + ".tar.gz", URL: url, Revision: revision, Digest: digest,
			LastUpdateTime: metav1.Now(),
		}
		return env.Client.Status().Update(context.Background(), latest)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

// rig creates a cluster-scoped rig whose workers namespace is ns.
func rig(t *testing.T, ns string, mutate func(*gastownv1.Rig)) *gastownv1.Rig {
	t.Helper()
	r := &gastownv1.Rig{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: gastownv1.RigSpec{
			GitURL:           "https://git.example.com/org/app.git",
			WorkersNamespace: ns,
		},
	}
	if mutate != nil {
		mutate(r)
	}
	if err := k8s.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), r) })
	return r
}

func get[T client.Object](g Gomega, ns, name string, obj T) T {
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)).To(Succeed())
	return obj
}

// update reads obj, applies mutate and writes it, retrying on conflicts
// with the controllers' own writes.
func update[T client.Object](t *testing.T, ns, name string, obj T, mutate func(T)) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			return err
		}
		mutate(obj)
		return env.Client.Update(context.Background(), obj)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

// dumpOnFailure logs the polecats and beads of ns when the test failed.
func dumpOnFailure(t *testing.T, ns string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx := context.Background()
		polecats := &gastownv1.PolecatList{}
		_ = env.Client.List(ctx, polecats, client.InNamespace(ns))
		for _, pc := range polecats.Items {
			t.Logf("polecat %s: phase=%s result=%+v conditions=%+v", pc.Name, pc.Status.Phase, pc.Status.Result, pc.Status.Conditions)
		}
		beads := &gastownv1.BeadList{}
		_ = env.Client.List(ctx, beads, client.InNamespace(ns))
		for _, b := range beads.Items {
			t.Logf("bead %s: phase=%s pr=%+v", b.Name, b.Status.Phase, b.Status.PullRequest)
		}
	})
}
