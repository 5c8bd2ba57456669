package controller

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// laggingMergeRequests is a client whose reads of merge requests return
// what they were when frozen, as a cache that has not seen the last write.
type laggingMergeRequests struct {
	client.Client
	frozen *gastownv1.MergeRequest
}

func (c *laggingMergeRequests) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if mr, ok := obj.(*gastownv1.MergeRequest); ok && c.frozen != nil && key == client.ObjectKeyFromObject(c.frozen) {
		c.frozen.DeepCopyInto(mr)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// A Refinery pass that would read a merge request from before the
// Refinery's own last write of it waits for the cache: after a merge, such
// a pass found the pull request open and recorded the merge, deleting the
// branch, a second time.
func TestARefineryPassHoldsAMergeRequestFromBeforeItsWrite(t *testing.T) {
	ctx := context.Background()
	mr := &gastownv1.MergeRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "gt-a", Namespace: "workers", UID: "uid-gt-a"},
		Spec:       gastownv1.MergeRequestSpec{BeadRef: "gt-a", RigRef: "app", Polecat: "gt-a", HeadBranch: "polecat/gt-a"},
	}
	c := &laggingMergeRequests{Client: fake.NewClientBuilder().WithScheme(scheme.Scheme).
		WithStatusSubresource(&gastownv1.MergeRequest{}).WithObjects(mr).Build()}
	r := &RefineryReconciler{Client: c}
	ref := &gastownv1.Refinery{Spec: gastownv1.RefinerySpec{RigRef: "app"}}
	bead := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-a", Namespace: "workers"},
		Status: gastownv1.BeadStatus{Dispatch: &gastownv1.DispatchStatus{Polecat: "gt-a"}, Branch: "polecat/gt-a"}}

	read, _, err := r.mergeRequest(ctx, ref, bead)
	if err != nil || read == nil {
		t.Fatalf("the merge request: %v, %v", read, err)
	}
	c.frozen = read.DeepCopy()
	if err := r.setPR(ctx, read, func(s *gastownv1.MergeRequestStatus) { s.State = gastownv1.PullRequestMerged }); err != nil {
		t.Fatal(err)
	}
	if again, _, err := r.mergeRequest(ctx, ref, bead); err != nil || again != nil {
		t.Fatalf("a pass read the merge request from before the merge was recorded: %+v, %v", again, err)
	}

	// The cache catches up: the next pass reads the merge.
	c.frozen = nil
	again, _, err := r.mergeRequest(ctx, ref, bead)
	if err != nil || again == nil || again.Status.State != gastownv1.PullRequestMerged {
		t.Fatalf("after the cache caught up: %+v, %v", again, err)
	}
}
