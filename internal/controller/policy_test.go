package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// policyBeads is one bead file of an artifact: a good bead, one that picks
// its own image, and one that takes an env var from a secret.
const policyBeads = `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-good
spec:
  title: A bead that asks for nothing
---
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-image
spec:
  title: A bead that picks its image
  agent:
    image: evil.example.com/agent:latest
---
apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-secret
spec:
  title: A bead that reads a secret
  agent:
    env:
    - name: STOLEN
      valueFrom:
        secretKeyRef: {name: git, key: token}
`

// TestPolicyRefusesHostileBeadsAndDispatchesTheGoodOne: beads of one file
// that ask for an image or a secret are Failed with PolicyViolation, the
// message naming the field, and get no Polecat; the good bead of the same
// file is dispatched. When the rig's admin allows the image, that bead is
// dispatched; a secret reference stays refused.
func TestPolicyRefusesHostileBeadsAndDispatchesTheGoodOne(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	dumpOnFailure(t, ns)
	gitRepository(t, ns, "app")
	r := dispatchRig(t, ns, 5, 0, func(r *gastownv1.Rig) {
		r.Spec.GitURL = ""
		r.Spec.SourceRef = &gastownv1.SourceReference{Kind: "GitRepository", Name: "app", Namespace: ns}
	})
	url, digest, rev := publish(t, map[string]string{".gastown/beads.yaml": policyBeads})
	setArtifact(t, ns, "app", url, digest, rev)

	refused := func(g Gomega, name, field string) {
		b := get(g, ns, name, &gastownv1.Bead{})
		g.Expect(b.Status.Phase).To(Equal(gastownv1.BeadPhaseFailed))
		g.Expect(conditions.GetReason(b, meta.ReadyCondition)).To(Equal(gastownv1.PolicyViolationReason))
		g.Expect(conditions.IsStalled(b)).To(BeTrue())
		g.Expect(conditions.GetMessage(b, meta.ReadyCondition)).To(ContainSubstring(field))
	}
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-good"}))
		refused(g, "gt-image", `spec.agent.image: a bead may not choose an image ("evil.example.com/agent:latest"); the rig "`+r.Name+`" allows none`)
		refused(g, "gt-secret", `spec.agent.env[0].valueFrom: env var "STOLEN": a bead may not take a value from a secret`)
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for _, name := range []string{"gt-image", "gt-secret"} {
			err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &gastownv1.Polecat{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no polecat for %s", name)
		}
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())

	// The admin allows the image: that bead goes; the secret never does.
	update(t, "", r.Name, &gastownv1.Rig{}, func(r *gastownv1.Rig) {
		r.Spec.AgentPolicy = &gastownv1.AgentPolicy{Images: []string{"evil.example.com/agent:latest"}}
	})
	g.Eventually(func(g Gomega) {
		g.Expect(polecatNames(g, ns)).To(Equal([]string{"gt-good", "gt-image"}))
		refused(g, "gt-secret", "spec.agent.env[0].valueFrom")
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())

	// A polecat made by hand for the bead (as a review follow-up or
	// kubectl gt sling makes one) does not take the bead's refused settings:
	// it fails before any pod.
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Namespace: ns},
		Spec: gastownv1.PolecatSpec{Rig: r.Name, BeadID: "gt-secret", DesiredState: gastownv1.DesiredWorking,
			Purpose: gastownv1.PurposeRevision, TaskDescription: "address the review"},
	}
	g.Expect(k8s.Create(context.Background(), pc)).To(Succeed())
	polecatRefused(t, pc, "bead gt-secret asks for what the rig's agent policy does not allow (PolicyViolation): spec.agent.env[0].valueFrom")
}

// polecatRefused waits for pc to fail for an invalid spec, with message,
// and checks that it has no pod.
func polecatRefused(t *testing.T, pc *gastownv1.Polecat, message string) {
	t.Helper()
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		got := get(g, pc.Namespace, pc.Name, &gastownv1.Polecat{})
		g.Expect(got.Status.Phase).To(Equal(gastownv1.PolecatPhaseFailed))
		g.Expect(conditions.GetReason(got, meta.StalledCondition)).To(Equal(gastownv1.InvalidSpecReason))
		g.Expect(conditions.GetMessage(got, meta.StalledCondition)).To(ContainSubstring(message))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: pc.Namespace, Name: pc.PodName()}, &corev1.Pod{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no pod for the refused polecat")
}

// TestAPolecatWhoseBeadTurnsHostileBeforeItsPodFails: the Polecat
// reconciler checks the bead's settings against the policy from its cache,
// then reads the bead again from the API server for the task's text just
// before it creates the pod. A bead edited in between to ask for an image
// fails the polecat there, as it would have on the first read, and no pod
// is made.
func TestAPolecatWhoseBeadTurnsHostileBeforeItsPodFails(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	bead := &gastownv1.Bead{ObjectMeta: metav1.ObjectMeta{Name: "gt-late", Namespace: ns},
		Spec: gastownv1.BeadSpec{Title: "A bead edited at the last moment", Description: "Do it.", RigRef: "late"}}
	g.Expect(k8s.Create(context.Background(), bead)).To(Succeed())
	polecatReads.edit(client.ObjectKeyFromObject(bead), func(o client.Object) {
		o.(*gastownv1.Bead).Spec.Agent = &gastownv1.AgentSpec{AgentConfig: gastownv1.AgentConfig{Image: "evil.example.com/agent:latest"}}
	})
	pc := &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: ns},
		Spec: gastownv1.PolecatSpec{Rig: "late", BeadID: bead.Name, DesiredState: gastownv1.DesiredWorking,
			ExecutionMode: gastownv1.ExecutionModeKubernetes,
			Kubernetes:    &gastownv1.PolecatKubernetes{GitRepository: "https://git.example.com/app.git", GitBranch: "main"}},
	}
	g.Expect(k8s.Create(context.Background(), pc)).To(Succeed())
	polecatRefused(t, pc, "bead gt-late asks for what the rig's agent policy does not allow (PolicyViolation): spec.agent.image")
}
