package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

// SourceErrorAnnotation marks a Bead or Convoy whose file is broken in the
// latest revision: the object is kept as it was, not pruned, until the file
// is fixed.
const SourceErrorAnnotation = "gastown.gastown.io/source-error"

// syncStats counts what a sync wrote.
type syncStats struct {
	added, updated, pruned, invalid, unchanged int
}

func (s syncStats) changed() bool { return s.added+s.updated+s.pruned+s.invalid > 0 }

func (s syncStats) String() string {
	return fmt.Sprintf("%d added, %d updated, %d pruned, %d kept from broken files, %d unchanged",
		s.added, s.updated, s.pruned, s.invalid, s.unchanged)
}

// sync makes the store's Beads and Convoys match the parsed files. Objects
// from good files are applied when their content changed; objects whose
// file is broken keep their spec and are marked; objects whose file is gone
// are pruned when the store prunes.
//
// The rig dispatches from what it sees while a sync goes on, so an object
// is written after those that decide whether its bead is ready: convoys
// first (a bead seen without its convoy would run past the convoy's
// parallelism), then beads in waves, each after the beads its readiness
// reads (seen without its blocker, a bead would be taken for ready).
// Pruning goes the other way: beads before the beads they wait on, then
// convoys. An object that waits for one that failed waits for the next
// pass.
func (r *BeadStoreReconciler) sync(ctx context.Context, store *gastownv1.BeadStore, rig string, set *beads.Set) (syncStats, error) {
	var stats syncStats
	goodBeads, goodConvoys := set.Good()
	fileError := firstErrorPerFile(set)
	log := &writeLog{notWritten: map[string]bool{}}

	existingConvoys := &gastownv1.ConvoyList{}
	if err := r.List(ctx, existingConvoys, client.InNamespace(store.Namespace), client.MatchingLabels{gastownv1.RigLabel: rig}, readOnly); err != nil {
		return stats, err
	}
	desired := map[string]func() client.Object{}
	tracking := map[string][]string{} // bead ID → keys of the convoys that track it
	for _, c := range goodConvoys {
		desired[c.ID] = func() client.Object {
			return desiredConvoy(store, rig, c.ID, c.Spec, fileMeta{c.Labels, c.Annotations}, c.File, "")
		}
		for _, id := range c.Spec.TrackedBeads {
			tracking[id] = append(tracking[id], objectKey(gastownv1.ConvoyKind, c.ID))
		}
	}
	var existing []client.Object
	for i := range existingConvoys.Items {
		c := &existingConvoys.Items[i]
		if !metav1.IsControlledBy(c, store) {
			continue
		}
		existing = append(existing, c)
		if _, ok := desired[c.Name]; !ok {
			file := c.GetAnnotations()[sourceFileAnnotation]
			if msg, broken := fileError[file]; broken {
				desired[c.Name] = func() client.Object { return desiredConvoy(store, rig, c.Name, c.Spec, fileMetaOf(c), file, msg) }
			}
		}
	}
	r.applyObjects(ctx, store, gastownv1.ConvoyKind, existing, desired, [][]string{sortedKeys(desired)}, nil, log, &stats)
	convoysApplied := log.failed == 0
	existingConvoyObjects, desiredConvoys := existing, desired

	// The live objects are compared and deleted, never changed: read
	// straight from the cache, without a copy of thousands of beads.
	existingBeads := &gastownv1.BeadList{}
	if err := r.List(ctx, existingBeads, client.InNamespace(store.Namespace), client.MatchingLabels{gastownv1.RigLabel: rig}, readOnly); err != nil {
		return stats, err
	}
	// An object is built when it is compared and dropped after: with
	// thousands of beads, holding them all would double the sync's memory.
	desired = map[string]func() client.Object{}
	specs := make([]*gastownv1.BeadSpec, 0, len(goodBeads))
	for _, b := range goodBeads {
		desired[gastownv1.BeadObjectName(b.ID)] = func() client.Object {
			return desiredBead(store, rig, b.ID, b.Spec, fileMeta{b.Labels, b.Annotations}, "")
		}
		spec := b.Spec
		spec.ID = b.ID
		specs = append(specs, &spec)
	}
	existing = nil
	var kept []string
	for i := range existingBeads.Items {
		b := &existingBeads.Items[i]
		if !metav1.IsControlledBy(b, store) {
			continue
		}
		existing = append(existing, b)
		if _, ok := desired[b.Name]; ok {
			continue
		}
		// Kept as it was: its file is broken, or its own line in an
		// issues.jsonl.
		msg, broken := fileError[b.Spec.SourcePath]
		if line, brokenLine := set.BrokenBeads[b.BeadID()]; !broken && brokenLine {
			msg, broken = lineError(set, b.Spec.SourcePath, line), true
		}
		if !broken {
			continue
		}
		kept = append(kept, b.Name)
		// A store with a broken file syncs at every pass: a bead it kept
		// already, for the same error, is left as it is.
		if b.Annotations[SourceErrorAnnotation] == msg {
			desired[b.Name] = func() client.Object { return b }
			continue
		}
		// With its text, which the cached bead does not have.
		full, err := fullBead(ctx, r.APIReader, client.ObjectKeyFromObject(b))
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return stats, err
		}
		desired[b.Name] = func() client.Object { return keptBead(store, rig, full, msg) }
	}
	waves, prerequisites := beadWriteOrder(specs, kept, tracking)
	failedBefore := log.failed
	r.applyObjects(ctx, store, gastownv1.BeadKind, existing, desired, waves, prerequisites, log, &stats)
	store.Status.IssueCount, store.Status.ConvoyCount = int32(len(desired)), int32(len(desiredConvoys))

	// Pruning goes in the reverse order: a bead before the beads it waits
	// on, beads before their convoys. After a failed bead write nothing is
	// pruned this pass; after a failed convoy write or bead prune, no
	// convoy.
	if !store.PruneEnabled() || log.failed > failedBefore {
		return stats, log.err()
	}
	r.pruneObjects(ctx, gastownv1.BeadKind, beadPruneOrder(existing, desired), existing, log, &stats)
	if convoysApplied && log.failed == 0 {
		r.pruneObjects(ctx, gastownv1.ConvoyKind, [][]string{prunedNames(existingConvoyObjects, desiredConvoys)}, existingConvoyObjects, log, &stats)
	}
	return stats, log.err()
}

// prunedNames are the names of the live objects that are not desired,
// sorted.
func prunedNames(live []client.Object, desired map[string]func() client.Object) []string {
	var names []string
	for _, o := range live {
		if _, ok := desired[o.GetName()]; !ok {
			names = append(names, o.GetName())
		}
	}
	slices.Sort(names)
	return names
}

// beadPruneOrder orders the deletion of the live beads that are not
// desired: the reverse of their write order, so that no bead loses a
// blocker before it goes itself.
func beadPruneOrder(live []client.Object, desired map[string]func() client.Object) [][]string {
	names := prunedNames(live, desired)
	byName := map[string]*gastownv1.Bead{}
	for _, o := range live {
		byName[o.GetName()] = o.(*gastownv1.Bead)
	}
	specs := make([]*gastownv1.BeadSpec, len(names))
	nameOf := make(map[string]string, len(names))
	ids := make([]string, len(names))
	for i, n := range names {
		b := byName[n]
		spec := b.Spec
		spec.ID = b.BeadID()
		specs[i], ids[i], nameOf[spec.ID] = &spec, spec.ID, n
	}
	waves := dispatch.Waves(ids, dispatch.Prerequisites(specs))
	slices.Reverse(waves)
	for _, wave := range waves {
		for i, id := range wave {
			wave[i] = nameOf[id]
		}
	}
	return waves
}

// beadWriteOrder orders the writes of the beads of specs, by object name:
// the kept beads of broken files first (they change no spec), then waves
// in which each bead comes after the beads its readiness reads. A bead's
// prerequisites, by objectKey, are those beads and the convoys that track
// it (tracking, by bead ID).
func beadWriteOrder(specs []*gastownv1.BeadSpec, kept []string, tracking map[string][]string) (waves [][]string, prerequisites map[string][]string) {
	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = s.ID
	}
	byID := dispatch.Prerequisites(specs)
	waves = [][]string{kept}
	for _, wave := range dispatch.Waves(ids, byID) {
		names := make([]string, len(wave))
		for i, id := range wave {
			names[i] = gastownv1.BeadObjectName(id)
		}
		waves = append(waves, names)
	}
	prerequisites = map[string][]string{}
	for _, id := range ids {
		keys := slices.Clone(tracking[id])
		for _, p := range byID[id] {
			keys = append(keys, objectKey(gastownv1.BeadKind, gastownv1.BeadObjectName(p)))
		}
		if len(keys) > 0 {
			prerequisites[gastownv1.BeadObjectName(id)] = keys
		}
	}
	return waves, prerequisites
}

// sourceFileAnnotation records a Convoy's file (a Bead has spec.sourcePath).
const sourceFileAnnotation = "gastown.gastown.io/source-file"

// objectKey names an object of the store in a writeLog: its kind and name.
func objectKey(kind, name string) string { return kind + " " + name }

// writeLog records the objects of a sync that failed to apply or to be
// pruned, and those held back because one they wait for failed.
type writeLog struct {
	mu         sync.Mutex
	notWritten map[string]bool // by objectKey
	firstErr   error
	failed     int
	waiting    []string
}

// fail records that an object failed to apply or to be pruned (verb).
func (l *writeLog) fail(verb, key string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notWritten[key] = true
	if l.failed++; l.firstErr == nil {
		l.firstErr = fmt.Errorf("%s %s: %w", verb, key, err)
	}
}

// hold records an object that waits for one that failed.
func (l *writeLog) hold(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notWritten[key] = true
	l.waiting = append(l.waiting, key)
}

// waits says whether an object with these prerequisites must wait, and
// records it if so.
func (l *writeLog) waits(key string, prerequisites []string) bool {
	l.mu.Lock()
	blocked := slices.ContainsFunc(prerequisites, func(p string) bool { return l.notWritten[p] })
	l.mu.Unlock()
	if blocked {
		l.hold(key)
	}
	return blocked
}

// err names the first failure, how many there were, and what waits for
// them.
func (l *writeLog) err() error {
	if l.failed == 0 {
		return nil
	}
	err := l.firstErr
	if l.failed > 1 {
		err = fmt.Errorf("%d objects failed; %w", l.failed, err)
	}
	them := "it"
	if l.failed > 1 {
		them = "them"
	}
	switch n := len(l.waiting); {
	case n == 1:
		err = fmt.Errorf("%w; 1 object waits for %s: %s", err, them, l.waiting[0])
	case n > 1:
		slices.Sort(l.waiting)
		err = fmt.Errorf("%w; %d objects wait for %s: %s", err, n, them, listOf(l.waiting, 10))
	}
	return err
}

// applyObjects creates or updates desired objects (built by name) whose
// content hash differs from the live one, wave by wave. An object with a
// prerequisite (by objectKey) that was not written is not either. Creates
// and merge patches rather than server-side apply: a create costs the
// apiserver a quarter less than an apply, and an intake is thousands of
// them.
func (r *BeadStoreReconciler) applyObjects(ctx context.Context, store *gastownv1.BeadStore, kind string, existing []client.Object,
	desired map[string]func() client.Object, waves [][]string, prerequisites map[string][]string, log *writeLog, stats *syncStats) {
	live := map[string]client.Object{}
	for _, o := range existing {
		live[o.GetName()] = o
	}
	// Writes go out a few at a time: one at a time, an intake of
	// thousands of beads waits on each round trip. One that fails stops
	// none of the others but those that wait for it.
	var mu sync.Mutex
	for _, wave := range waves {
		var writers errgroup.Group
		writers.SetLimit(max(r.Writers, 1))
		for _, name := range wave {
			build, ok := desired[name]
			if !ok {
				continue
			}
			want := build()
			have, found := live[name]
			if found && have.GetAnnotations()[gastownv1.ContentHashAnnotation] == want.GetAnnotations()[gastownv1.ContentHashAnnotation] {
				mu.Lock()
				stats.unchanged++
				mu.Unlock()
				continue
			}
			key := objectKey(kind, name)
			if log.waits(key, prerequisites[name]) {
				continue
			}
			writers.Go(func() error {
				created, wrote, err := r.write(ctx, store, have, want)
				if err != nil {
					log.fail("applying", key, err)
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case !wrote:
					stats.unchanged++
				case want.GetAnnotations()[SourceErrorAnnotation] != "":
					stats.invalid++
				case created:
					stats.added++
				default:
					stats.updated++
				}
				return nil
			})
		}
		_ = writers.Wait() // the writers return no error: each is logged
	}
}

// pruneObjects deletes the live objects named in waves, a few at a time,
// wave by wave; after a wave with a failed delete, the later waves wait
// for the next pass.
func (r *BeadStoreReconciler) pruneObjects(ctx context.Context, kind string, waves [][]string, live []client.Object, log *writeLog, stats *syncStats) {
	byName := make(map[string]client.Object, len(live))
	for _, o := range live {
		byName[o.GetName()] = o
	}
	var mu sync.Mutex
	for i, wave := range waves {
		failedBefore := log.failed
		var deleters errgroup.Group
		deleters.SetLimit(max(r.Writers, 1))
		for _, name := range wave {
			deleters.Go(func() error {
				if err := r.Delete(ctx, byName[name]); client.IgnoreNotFound(err) != nil {
					log.fail("pruning", objectKey(kind, name), err)
					return nil
				}
				mu.Lock()
				stats.pruned++
				mu.Unlock()
				return nil
			})
		}
		_ = deleters.Wait() // the deleters return no error: each is logged
		if log.failed > failedBefore {
			for _, later := range waves[i+1:] {
				for _, name := range later {
					log.hold(objectKey(kind, name))
				}
			}
			return
		}
	}
}

// checkNotOwnedElsewhere refuses to take over an object of the same name
// that another store or a person created.
func (r *BeadStoreReconciler) checkNotOwnedElsewhere(ctx context.Context, want client.Object) error {
	other := want.DeepCopyObject().(client.Object)
	err := r.Get(ctx, client.ObjectKeyFromObject(want), other)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return ownedElsewhere(want, other)
}

// ownedElsewhere is the error for want's name taken by other.
func ownedElsewhere(want, other client.Object) error {
	owner := metav1.GetControllerOf(other)
	if owner == nil {
		return fmt.Errorf("%s %s/%s exists and is not managed by a BeadStore: rename the bead or delete the object",
			want.GetObjectKind().GroupVersionKind().Kind, want.GetNamespace(), want.GetName())
	}
	return fmt.Errorf("%s %s/%s already belongs to %s %s", want.GetObjectKind().GroupVersionKind().Kind,
		want.GetNamespace(), want.GetName(), owner.Kind, owner.Name)
}

// write creates want, or patches have, the cached object, to it. A cache
// that lags the last pass's write (a create, a patch) makes the create
// fail with AlreadyExists and the patch with a conflict: the object is then
// patched from the apiserver's copy, and wrote is false when that copy was
// want already.
func (r *BeadStoreReconciler) write(ctx context.Context, store *gastownv1.BeadStore, have, want client.Object) (created, wrote bool, err error) {
	if have == nil {
		if err := r.checkNotOwnedElsewhere(ctx, want); err != nil {
			return false, false, err
		}
		err := r.Create(ctx, want, client.FieldOwner(FieldOwner))
		if !apierrors.IsAlreadyExists(err) {
			return err == nil, err == nil, err
		}
	} else if err := r.patchTo(ctx, have, want); !apierrors.IsConflict(err) {
		return false, err == nil, err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live := want.DeepCopyObject().(client.Object)
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
			return err
		}
		if !metav1.IsControlledBy(live, store) {
			return ownedElsewhere(want, live)
		}
		wrote = live.GetAnnotations()[gastownv1.ContentHashAnnotation] != want.GetAnnotations()[gastownv1.ContentHashAnnotation]
		if !wrote {
			return nil
		}
		return r.patchTo(ctx, live, want)
	})
	return false, wrote, err
}

// patchTo patches the object have to want: its spec, and the labels and
// annotations the store sets. Those of a person (a reconcile request) stay,
// and the source error goes once the file is fixed. A JSON merge patch
// removes what the file no longer has; it carries have's resourceVersion,
// so that a patch from an out-of-date copy, which would miss a field the
// last write added, is refused.
func (r *BeadStoreReconciler) patchTo(ctx context.Context, have, want client.Object) error {
	from, err := runtime.DefaultUnstructuredConverter.ToUnstructured(have)
	if err != nil {
		return err
	}
	wantU, err := runtime.DefaultUnstructuredConverter.ToUnstructured(want)
	if err != nil {
		return err
	}
	delete(from, "status")
	live := &unstructured.Unstructured{Object: from}
	// The cache's objects have no kind.
	live.SetGroupVersionKind(want.GetObjectKind().GroupVersionKind())
	to := live.DeepCopy()
	to.Object["spec"] = wantU["spec"]
	// The keys the file had go, then the ones it has come back: a key the
	// file dropped is gone, and a person's keys stay.
	had := recordedKeys(have)
	labels := to.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for _, k := range had.Labels {
		delete(labels, k)
	}
	maps.Copy(labels, want.GetLabels())
	to.SetLabels(labels)
	annotations := to.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	for _, k := range append(had.Annotations, SourceErrorAnnotation, fileMetadataAnnotation) {
		delete(annotations, k)
	}
	maps.Copy(annotations, want.GetAnnotations())
	to.SetAnnotations(annotations)
	patch, err := client.MergeFromWithOptions(live, client.MergeFromWithOptimisticLock{}).Data(to)
	if err != nil {
		return err
	}
	if bead, ok := want.(*gastownv1.Bead); ok {
		if patch, err = withBeadText(patch, bead.Spec); err != nil {
			return err
		}
	}
	return r.Patch(ctx, to, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner))
}

// withBeadText sets the bead's text in a merge patch made from a cached
// bead, which has none (operator.CacheTransforms): the patch then says the
// text the file has, or that it has none, whatever the cache said.
func withBeadText(patch []byte, spec gastownv1.BeadSpec) ([]byte, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	specPatch := map[string]json.RawMessage{}
	if raw, ok := p["spec"]; ok {
		if err := json.Unmarshal(raw, &specPatch); err != nil {
			return nil, err
		}
	}
	for field, text := range map[string]string{"description": spec.Description, "acceptance": spec.Acceptance} {
		specPatch[field] = json.RawMessage("null")
		if text != "" {
			b, err := json.Marshal(text)
			if err != nil {
				return nil, err
			}
			specPatch[field] = b
		}
	}
	raw, err := json.Marshal(specPatch)
	if err != nil {
		return nil, err
	}
	p["spec"] = raw
	return json.Marshal(p)
}

// desiredBead is the Bead object of bead id: named by
// gastownv1.BeadObjectName, the ID in spec.id and in the bead label.
func desiredBead(store *gastownv1.BeadStore, rig, id string, spec gastownv1.BeadSpec, meta fileMeta, sourceError string) *gastownv1.Bead {
	spec.RigRef = rig
	spec.ID = id
	b := &gastownv1.Bead{
		TypeMeta:   metav1.TypeMeta{APIVersion: gastownv1.GroupVersion.String(), Kind: gastownv1.BeadKind},
		ObjectMeta: childMeta(store, rig, gastownv1.BeadObjectName(id), meta),
		Spec:       spec,
	}
	b.Labels[gastownv1.BeadLabel] = id
	stamp(b, spec, sourceError)
	return b
}

// keptBead is an existing bead whose source is broken: its spec stays.
func keptBead(store *gastownv1.BeadStore, rig string, b *gastownv1.Bead, sourceError string) *gastownv1.Bead {
	out := desiredBead(store, rig, b.BeadID(), b.Spec, fileMetaOf(b), sourceError)
	out.Name = b.Name
	return out
}

// lineError is the first error on a line of file, for a bead whose line
// is broken.
func lineError(set *beads.Set, file string, line int) string {
	for _, e := range set.Errors {
		if e.File == file && e.Line == line {
			return truncate(e.Error(), 512)
		}
	}
	return fmt.Sprintf("%s:%d: invalid", file, line)
}

func desiredConvoy(store *gastownv1.BeadStore, rig, id string, spec gastownv1.ConvoySpec, meta fileMeta, file, sourceError string) *gastownv1.Convoy {
	spec.RigRef = rig
	c := &gastownv1.Convoy{
		TypeMeta:   metav1.TypeMeta{APIVersion: gastownv1.GroupVersion.String(), Kind: gastownv1.ConvoyKind},
		ObjectMeta: childMeta(store, rig, id, meta),
		Spec:       spec,
	}
	c.Labels[gastownv1.ConvoyLabel] = id
	c.Annotations[sourceFileAnnotation] = file
	stamp(c, spec, sourceError)
	return c
}

// childMeta is the metadata of a store's object: the file's labels and
// annotations, with the store's own labels over them, and a record of the
// file's keys.
func childMeta(store *gastownv1.BeadStore, rig, name string, meta fileMeta) metav1.ObjectMeta {
	labels := maps.Clone(meta.labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[gastownv1.RigLabel] = rig
	labels[gastownv1.ManagedByLabel] = gastownv1.ManagedByValue
	annotations := maps.Clone(meta.annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	for _, key := range storeAnnotations {
		delete(annotations, key)
	}
	if record := meta.record(); record != "" {
		annotations[fileMetadataAnnotation] = record
	}
	return metav1.ObjectMeta{
		Name:        name,
		Namespace:   store.Namespace,
		Labels:      labels,
		Annotations: annotations,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(store,
			gastownv1.GroupVersion.WithKind(gastownv1.BeadStoreKind))},
	}
}

// fileMetadataAnnotation lists the label and annotation keys an object
// has from its file, so that a key the file drops is removed from the
// object while a person's stay.
const fileMetadataAnnotation = "gastown.gastown.io/file-metadata"

// storeAnnotations are the store's own annotations, and the cache's: a file
// cannot set them.
var storeAnnotations = []string{gastownv1.ContentHashAnnotation, SourceErrorAnnotation, sourceFileAnnotation, fileMetadataAnnotation,
	dispatch.CachedSpecHashAnnotation, dispatch.OutlinedAnnotation}

// fileMeta is the metadata.labels and metadata.annotations of a bead or
// convoy in its file.
type fileMeta struct{ labels, annotations map[string]string }

type fileKeys struct {
	Labels      []string `json:"labels,omitempty"`
	Annotations []string `json:"annotations,omitempty"`
}

// record is the value of fileMetadataAnnotation: the keys, sorted; empty
// for a file that sets none.
func (m fileMeta) record() string {
	keys := fileKeys{Labels: slices.Sorted(maps.Keys(m.labels)), Annotations: slices.Sorted(maps.Keys(m.annotations))}
	keys.Annotations = slices.DeleteFunc(keys.Annotations, func(k string) bool { return slices.Contains(storeAnnotations, k) })
	if len(keys.Labels)+len(keys.Annotations) == 0 {
		return ""
	}
	b, _ := json.Marshal(keys)
	return string(b)
}

// recordedKeys are the keys obj has from its file.
func recordedKeys(obj client.Object) fileKeys {
	var keys fileKeys
	if v := obj.GetAnnotations()[fileMetadataAnnotation]; v != "" {
		_ = json.Unmarshal([]byte(v), &keys) // a mangled record removes nothing
	}
	return keys
}

// fileMetaOf is what obj, a live object, has from its file.
func fileMetaOf(obj client.Object) fileMeta {
	keys := recordedKeys(obj)
	pick := func(from map[string]string, keys []string) map[string]string {
		out := map[string]string{}
		for _, k := range keys {
			if v, ok := from[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	return fileMeta{pick(obj.GetLabels(), keys.Labels), pick(obj.GetAnnotations(), keys.Annotations)}
}

// stamp records the source error (if any) and the hash of everything the
// store applies, so that an unchanged object is not written again.
func stamp(obj client.Object, spec any, sourceError string) {
	ann := obj.GetAnnotations()
	if sourceError != "" {
		ann[SourceErrorAnnotation] = sourceError
	}
	b, _ := json.Marshal(struct {
		Labels      map[string]string `json:"l"`
		Annotations map[string]string `json:"a"`
		Spec        any               `json:"s"`
	}{obj.GetLabels(), ann, spec})
	sum := sha256.Sum256(b)
	ann[gastownv1.ContentHashAnnotation] = hex.EncodeToString(sum[:12])
	obj.SetAnnotations(ann)
}

func firstErrorPerFile(set *beads.Set) map[string]string {
	out := map[string]string{}
	for _, e := range set.Errors {
		if _, ok := out[e.File]; !ok {
			out[e.File] = truncate(e.Error(), 512)
		}
	}
	for f := range set.BrokenFiles {
		if _, ok := out[f]; !ok {
			out[f] = f + ": invalid"
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimSpace(s[:n]) + "…"
}
