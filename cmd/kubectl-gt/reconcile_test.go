package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// fakeController plays the controller of one object: when the object's
// reconcile annotation changes, it runs handle (which sets the status the
// reconcile would) and records the request handled. It stops with the test.
func fakeController[T conditions.Setter](t *testing.T, obj T, handled func(T) *string, handle func(T)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	key := client.ObjectKeyFromObject(obj)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			if err := env.Client.Get(ctx, key, obj); err != nil {
				continue
			}
			token, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations())
			if !ok || *handled(obj) == token {
				continue
			}
			handle(obj)
			*handled(obj) = token
			_ = env.Client.Status().Update(ctx, obj)
		}
	}()
}

func TestReconcileRig(t *testing.T) {
	namespace(t, "recon")
	rig := newRig(t, "recon", nil)
	fakeController(t, rig, func(r *gastownv1.Rig) *string { return &r.Status.LastHandledReconcileAt }, func(r *gastownv1.Rig) {
		conditions.MarkTrue(r, meta.ReadyCondition, meta.ReconciliationSucceededReason, "0 polecats running, 2 beads ready")
	})

	code, out, errOut := gt("reconcile", "rig", "recon")
	want := `annotating Rig recon
waiting for Rig recon to reconcile
Rig recon is ready: 0 polecats running, 2 beads ready
`
	if code != exitOK || errOut != "" {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	got := &gastownv1.Rig{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "recon"}, got); err != nil {
		t.Fatal(err)
	}
	token := got.Annotations[meta.ReconcileRequestAnnotation]
	if _, err := time.Parse(time.RFC3339Nano, token); err != nil || got.Status.LastHandledReconcileAt != token {
		t.Errorf("annotation %q, lastHandledReconcileAt %q: want the same time", token, got.Status.LastHandledReconcileAt)
	}
}

func TestReconcileRigWithSource(t *testing.T) {
	namespace(t, "recon-src")
	rig := newRig(t, "recon-src", nil)
	repo := &sourcev1.GitRepository{}
	repo.Name, repo.Namespace = "app", "recon-src"
	repo.Spec = sourcev1.GitRepositorySpec{URL: "https://github.com/acme/app.git", Interval: metav1.Duration{Duration: time.Hour}}
	create(t, repo, nil)
	store := &gastownv1.BeadStore{}
	store.Name, store.Namespace, store.Spec.RigRef = "recon-src", "recon-src", "recon-src"
	create(t, store, nil)

	// Each controller answers as soon as its object is annotated: the order
	// they run in is the command's, which must be source, store, rig.
	var (
		mu    sync.Mutex
		order []string
	)
	handled := func(kind string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, kind)
	}
	fakeController(t, repo, func(r *sourcev1.GitRepository) *string { return &r.Status.LastHandledReconcileAt }, func(r *sourcev1.GitRepository) {
		handled("GitRepository")
		r.Status.Artifact = &meta.Artifact{Path: "x.tar.gz", URL: "http://source/x.tar.gz", Revision: revision,
			Digest: "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", LastUpdateTime: metav1.Now()}
		conditions.MarkTrue(r, meta.ReadyCondition, meta.SucceededReason, "stored artifact for revision '%s'", revision)
	})
	fakeController(t, store, func(s *gastownv1.BeadStore) *string { return &s.Status.LastHandledReconcileAt }, func(s *gastownv1.BeadStore) {
		handled("BeadStore")
		s.Status.LastAppliedRevision = revision
		s.Status.IssueCount, s.Status.ConvoyCount = 3, 1
		conditions.MarkTrue(s, meta.ReadyCondition, meta.ReconciliationSucceededReason, "synced 3 beads and 1 convoys")
	})
	fakeController(t, rig, func(r *gastownv1.Rig) *string { return &r.Status.LastHandledReconcileAt }, func(r *gastownv1.Rig) {
		handled("Rig")
		conditions.MarkTrue(r, meta.ReadyCondition, meta.ReconciliationSucceededReason, "1 polecats running, 2 beads ready")
	})

	code, out, errOut := gt("reconcile", "rig", "recon-src", "--with-source")
	want := `annotating GitRepository recon-src/app
waiting for GitRepository recon-src/app to reconcile
fetched revision main@sha1:0123456789abcdef0123456789abcdef01234567
annotating BeadStore recon-src/recon-src
waiting for BeadStore recon-src/recon-src to reconcile
synced revision main@sha1:0123456789abcdef0123456789abcdef01234567: 3 beads and 1 convoy
annotating Rig recon-src
waiting for Rig recon-src to reconcile
Rig recon-src is ready: 1 polecats running, 2 beads ready
`
	if code != exitOK || errOut != "" {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"GitRepository", "BeadStore", "Rig"}, order); diff != "" {
		t.Errorf("reconcile order (-want +got):\n%s", diff)
	}
}

func TestReconcileRigNotReady(t *testing.T) {
	namespace(t, "recon-fail")
	rig := newRig(t, "recon-fail", nil)
	fakeController(t, rig, func(r *gastownv1.Rig) *string { return &r.Status.LastHandledReconcileAt }, func(r *gastownv1.Rig) {
		conditions.MarkFalse(r, meta.ReadyCondition, gastownv1.NamespaceNotFoundReason,
			"workers namespace \"x\" does not exist: create it (kubectl create namespace x)")
	})
	code, out, errOut := gt("reconcile", "rig", "recon-fail")
	wantErr := "Error: Rig recon-fail is not ready: NamespaceNotFound: workers namespace \"x\" does not exist: create it (kubectl create namespace x)\n"
	if code != exitFailed || errOut != wantErr {
		t.Errorf("exit code %d, stderr %q; want %d and %q", code, errOut, exitFailed, wantErr)
	}
	if want := "annotating Rig recon-fail\nwaiting for Rig recon-fail to reconcile\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestReconcileRigTimeout(t *testing.T) {
	namespace(t, "recon-late")
	newRig(t, "recon-late", nil)

	code, _, errOut := gt("reconcile", "rig", "recon-late", "--timeout", "300ms")
	got := &gastownv1.Rig{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "recon-late"}, got); err != nil {
		t.Fatal(err)
	}
	wantErr := "Error: timed out after 300ms waiting for Rig recon-late to handle the reconcile request (reconcile.fluxcd.io/requestedAt=" +
		got.Annotations[meta.ReconcileRequestAnnotation] + "): is gastown-operator ('kubectl get pods -n gastown-system') running?\n"
	if code != exitFailed || errOut != wantErr {
		t.Errorf("exit code %d, stderr:\n%s\nwant %d and:\n%s", code, errOut, exitFailed, wantErr)
	}

	code, _, errOut = gt("reconcile", "rig", "recon-late", "--with-source")
	wantErr = "Error: GitRepository recon-late/app, the source of rig recon-late, not found\n"
	if code != exitFailed || errOut != wantErr {
		t.Errorf("--with-source without a GitRepository: exit code %d, stderr %q; want %q", code, errOut, wantErr)
	}
}
