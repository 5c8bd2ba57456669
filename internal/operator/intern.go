package operator

import (
	"crypto/rand"
	"unique"

	"k8s.io/apimachinery/pkg/types"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

// beadOutline drops a cached bead's managedFields and its text: the
// description and acceptance criteria, 35 to 2,700 bytes a bead in the
// beads repositories of data/beads-real, about 400 on average. Only a
// polecat's task and a pull request's body need the text, and they read
// it from the API server. The hash of the whole spec, which says what a
// polecat was dispatched for, is taken first and kept on the cached copy
// (dispatch.SpecHash).
//
// And it makes the strings that thousands of beads repeat share one copy:
// decoded from a watch, each bead has its own copy of its namespace, its
// label and annotation keys, its owner, its rig, type and file, and its
// conditions' types and reasons: up to a seventh of a cached bead. The
// strings are equal to what was decoded: only where their bytes live
// changes.
// outlineMark is the value of dispatch.OutlinedAnnotation on the beads
// beadOutline made: made afresh by each process, no file or person can
// know it.
var outlineMark = rand.Text()

func beadOutline(obj any) (any, error) {
	b, ok := obj.(*gastownv1.Bead)
	if !ok {
		return obj, nil
	}
	b.ManagedFields = nil
	b.Namespace = intern(b.Namespace)
	b.Labels = internMap(b.Labels, true)
	// Annotation values are content hashes and the like, one of a kind.
	b.Annotations = internMap(b.Annotations, false)
	if b.Annotations == nil {
		b.Annotations = map[string]string{}
	}
	// client-go may transform an object twice (an informer's first list,
	// streamed as a watch, goes through a store of its own first): a bead
	// without text that bears this process's mark is this transform's work
	// already, and keeps its hash. Any other bead is hashed: one without
	// text has its whole spec here, whatever hash a person annotated it with.
	if b.Annotations[dispatch.OutlinedAnnotation] != outlineMark || b.Spec.Description != "" || b.Spec.Acceptance != "" {
		b.Annotations[dispatch.CachedSpecHashAnnotation] = b.Spec.Hash()
		b.Annotations[dispatch.OutlinedAnnotation] = outlineMark
	}
	for i := range b.OwnerReferences {
		o := &b.OwnerReferences[i]
		o.APIVersion, o.Kind, o.Name, o.UID = intern(o.APIVersion), intern(o.Kind), intern(o.Name), types.UID(intern(string(o.UID)))
	}
	s := &b.Spec
	s.Description, s.Acceptance = "", ""
	s.RigRef, s.SourcePath = intern(s.RigRef), intern(s.SourcePath)
	s.Type, s.Status = gastownv1.BeadType(intern(string(s.Type))), gastownv1.BeadFileStatus(intern(string(s.Status)))
	b.Status.Phase = gastownv1.BeadPhase(intern(string(b.Status.Phase)))
	for i := range b.Status.Conditions {
		c := &b.Status.Conditions[i]
		c.Type, c.Reason = intern(c.Type), intern(c.Reason)
	}
	return b, nil
}

// intern returns s's canonical copy. unique forgets a copy no handle holds
// at each collection, so a string is shared among the beads decoded
// between two collections: hundreds of copies at 10,000 beads, not one per
// bead.
func intern(s string) string { return unique.Make(s).Value() }

// internMap returns m with interned keys, and values when values is set.
func internMap(m map[string]string, values bool) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if values {
			v = intern(v)
		}
		out[intern(k)] = v
	}
	return out
}
