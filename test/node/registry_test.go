//go:build linux

package node

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/boshu2/gastown-operator/test/registry"
)

// TestPullFromRegistry checks that a node with Options.Registries pulls,
// over plain HTTP, an image it was never given: the probe image is pushed
// to a loopback registry only, and the hardened pod runs it with
// imagePullPolicy Always (its init container with IfNotPresent).
func TestPullFromRegistry(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	reg, err := registry.Start(nil)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = reg.Stop() })
	ref := reg.Ref("node/probe", "test")
	g.Expect(reg.PushTarball(buildProbeImage(t), ref)).To(Succeed())

	n, err := Start(ctx, Options{Config: env.Config, Registries: []string{reg.Host}, Logf: t.Logf})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = n.Stop() })
	images, err := n.ctr(ctx, "images", "ls", "--quiet")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(images).NotTo(ContainSubstring(reg.Host), "nothing from the registry was imported")

	ns := env.Namespace(t)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		StringData: map[string]string{"token": "pulled"},
	}
	g.Expect(env.Client.Create(ctx, secret)).To(Succeed())
	pod := hardenedPod(ns, Name)
	for i := range pod.Spec.InitContainers {
		pod.Spec.InitContainers[i].Image = ref
		pod.Spec.InitContainers[i].ImagePullPolicy = corev1.PullIfNotPresent
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Image = ref
		pod.Spec.Containers[i].ImagePullPolicy = corev1.PullAlways
	}
	g.Expect(env.Client.Create(ctx, pod)).To(Succeed())
	waitSucceeded(g, pod)
	g.Expect(pod.Status.ContainerStatuses[0].Image).To(Equal(ref))
	g.Expect(pod.Status.ContainerStatuses[0].ImageID).To(HavePrefix(reg.Host+"/node/probe@sha256:"),
		"the image came from the registry")

	images, err = n.ctr(ctx, "images", "ls", "--quiet")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Fields(images)).To(ContainElement(ref))
}
