package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func TestRigResolvesItsSourceAndCreatesItsChildren(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	r := rig(t, ns, func(r *gastownv1.Rig) {
		r.Spec.GitURL = ""
		r.Spec.BeadsPrefix = "gt"
		r.Spec.SourceRef = &gastownv1.SourceReference{Kind: "GitRepository", Name: "app", Namespace: ns}
	})

	g.Eventually(func(g Gomega) {
		got := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.GetReason(got, gastownv1.SourceReadyCondition)).To(Equal(gastownv1.SourceNotFoundReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("GitRepository " + ns + "/app not found"))
		g.Expect(got.Status.Phase).To(Equal(gastownv1.RigPhaseDegraded))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	gitRepository(t, ns, "app")
	g.Eventually(func(g Gomega) {
		got := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.GetReason(got, gastownv1.SourceReadyCondition)).To(Equal(gastownv1.ArtifactNotReadyReason))
		g.Expect(got.Status.GitURL).To(Equal("https://git.example.com/org/app.git"), "derived from the source")
		g.Expect(got.Status.BaseBranch).To(Equal("trunk"), "the source's branch")
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	url, digest, rev := publish(t, map[string]string{".gastown/a.yaml": beadA})
	setArtifact(t, ns, "app", url, digest, rev)
	g.Eventually(func(g Gomega) {
		got := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.IsReady(got)).To(BeTrue())
		g.Expect(conditions.IsTrue(got, gastownv1.SourceReadyCondition)).To(BeTrue())
		g.Expect(got.Status.Phase).To(Equal(gastownv1.RigPhaseReady))
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	store := get(g, ns, r.Name, &gastownv1.BeadStore{})
	g.Expect(store.Spec.RigRef).To(Equal(r.Name))
	g.Expect(store.Spec.Prefix).To(Equal("gt-"), "from the rig's beadsPrefix")
	g.Expect(store.BeadsPath()).To(Equal(".gastown"))
	g.Expect(metav1.IsControlledBy(store, r)).To(BeTrue())
	g.Expect(store.Labels).To(HaveKeyWithValue(gastownv1.RigLabel, r.Name))
	g.Expect(store.Labels).To(HaveKeyWithValue(gastownv1.ManagedByLabel, gastownv1.ManagedByValue))
	refinery := get(g, ns, r.Name, &gastownv1.Refinery{})
	g.Expect(*refinery.Spec.RequiredApprovals).To(BeEquivalentTo(1), "defaults filled")
	witness := get(g, ns, r.Name, &gastownv1.Witness{})
	g.Expect(witness.Spec.StuckThreshold.Duration).To(Equal(15 * time.Minute))

	// A user's edit is kept; a deleted child comes back.
	update(t, ns, r.Name, &gastownv1.Refinery{}, func(rf *gastownv1.Refinery) { rf.Spec.RequiredApprovals = ptr(int32(0)) })
	g.Expect(env.Client.Delete(context.Background(), witness)).To(Succeed())
	g.Eventually(func(g Gomega) {
		w := get(g, ns, r.Name, &gastownv1.Witness{})
		g.Expect(w.UID).NotTo(Equal(witness.UID))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(*get(g, ns, r.Name, &gastownv1.Refinery{}).Spec.RequiredApprovals).To(BeEquivalentTo(0))
}

func TestRigReportsAMissingWorkersNamespace(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t) + "-workers"
	r := rig(t, ns, nil)
	g.Eventually(func(g Gomega) {
		got := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(gastownv1.NamespaceNotFoundReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("kubectl create namespace " + ns))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())

	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	g.Expect(env.Client.Create(context.Background(), nsObj)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), nsObj) })
	g.Eventually(func(g Gomega) {
		got := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.IsReady(got)).To(BeTrue())
		get(g, ns, r.Name, &gastownv1.Refinery{})
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}

// TestRigRefusesCredentialsInTheSourceURL: a GitRepository whose URL holds a
// token is not copied into the rig's status; the rig is Stalled with
// InvalidSpec and a message naming the field without the token, until the
// URL is fixed.
func TestRigRefusesCredentialsInTheSourceURL(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	const token = "ghp_sourceUrlToken0123456789abcdefXYZ"
	repo := gitRepository(t, ns, "app")
	update(t, ns, repo.Name, &sourcev1.GitRepository{}, func(r *sourcev1.GitRepository) {
		r.Spec.URL = "https://x-access-token:" + token + "@git.example.com/org/app.git"
	})
	r := rig(t, ns, func(r *gastownv1.Rig) {
		r.Spec.GitURL = ""
		r.Spec.SourceRef = &gastownv1.SourceReference{Kind: "GitRepository", Name: "app", Namespace: ns}
	})
	g.Eventually(func(g Gomega) {
		got := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.IsStalled(got)).To(BeTrue())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(gastownv1.InvalidSpecReason))
		msg := conditions.GetMessage(got, meta.StalledCondition)
		g.Expect(msg).To(ContainSubstring("GitRepository " + ns + "/app spec.url holds credentials"))
		g.Expect(msg).To(ContainSubstring("put them in the git secret"))
		g.Expect(got.Status.GitURL).To(BeEmpty())
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	got := get(g, "", r.Name, &gastownv1.Rig{})
	g.Expect(fmt.Sprint(got.Status)).NotTo(ContainSubstring(token))

	update(t, ns, repo.Name, &sourcev1.GitRepository{}, func(r *sourcev1.GitRepository) {
		r.Spec.URL = "https://git.example.com/org/app.git"
	})
	g.Eventually(func(g Gomega) {
		got := get(g, "", r.Name, &gastownv1.Rig{})
		g.Expect(conditions.IsStalled(got)).To(BeFalse())
		g.Expect(got.Status.GitURL).To(Equal("https://git.example.com/org/app.git"))
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
}
