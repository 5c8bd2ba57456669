package controller_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	gsmetrics "github.com/boshu2/gastown-operator/internal/metrics"
	"github.com/boshu2/gastown-operator/test/githubemu"
)

const webhookSecret = "webhook-test-secret"

// TestWebhooksDriveTheRefinery: with a webhook and a poll interval of an
// hour, the emulator's deliveries (the check passed, the approval) are what
// take the pull request to its merge, and, with what the Refinery
// remembers between deliveries, in at most 8 requests to GitHub.
func TestWebhooksDriveTheRefinery(t *testing.T) {
	g := NewWithT(t)
	f := newForge(t, func(s *gastownv1.RefinerySpec) {
		s.PollInterval = &metav1.Duration{Duration: time.Hour}
		s.GitHub.WebhookSecretRef = &meta.SecretKeyReference{Name: "github-webhook"}
		s.Labels = nil // the default; labels are one request more
	}, "gt-a")
	secret(t, f.ns, "github-webhook", map[string]string{"secret": webhookSecret})
	hookURL := webhooks.URL + "/hooks/github/" + f.ns + "/" + f.ns
	g.Expect(f.emu.API.AddWebhook("org", "app", hookURL, webhookSecret)).To(Succeed())

	f.bead(t, "gt-a", 2)
	f.emu.API.ResetCalls()
	f.dispatch(t)
	pr := f.pr(t, "gt-a")
	gate := func(want string) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			b := get(g, f.ns, "gt-a", &gastownv1.Bead{})
			g.Expect(b.Status.PullRequest).NotTo(BeNil())
			g.Expect(b.Status.PullRequest.Gate).To(Equal(want))
		}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	}
	// Opened now, it has no review: it is gated when a delivery comes.
	gate("waiting for checks and 1 approval")
	opening := f.emu.API.Calls()
	t.Logf("GitHub API calls to open the pull request, with webhooks: %d %v", totalCalls(opening), opening)

	// The poll is an hour away: only the deliveries below can merge it.
	f.emu.API.ResetCalls()
	f.green(t, pr)
	gate("1 approval missing")
	checked := f.emu.API.Calls()
	t.Logf("GitHub API calls on the check's delivery: %d %v", totalCalls(checked), checked)
	f.emu.API.ResetCalls()
	approved := time.Now()
	f.approve(t, pr)
	f.merged(t, "gt-a")
	t.Logf("from the approving review to the bead Merged, with webhooks: %s", time.Since(approved).Round(time.Millisecond))
	merging := f.emu.API.Calls()
	t.Logf("GitHub API calls on the approval's delivery, to the merge: %d %v", totalCalls(merging), merging)
	// The deliveries of the Refinery's own actions (the merge's closed and
	// push) come after; they ask for nothing.
	g.Eventually(func() []githubemu.Delivery { return f.emu.API.Deliveries() }, 10*time.Second, 50*time.Millisecond).
		Should(ContainElement(HaveField("Event", "push")))
	f.suspendRefinery(t, true)
	total := totalCalls(opening) + totalCalls(checked) + totalCalls(f.emu.API.Calls())
	t.Logf("GitHub API requests for the merged pull request, with webhooks: %d", total)
	g.Expect(total).To(BeNumerically("<=", 8), "requests per merged pull request")
	for _, d := range f.emu.API.Deliveries() {
		g.Expect(d.Status).To(Equal(http.StatusAccepted), "delivery of %s", d.Event)
	}

	// A delivery signed with another secret, or unsigned, is refused and counted.
	reg := prometheus.NewRegistry()
	reg.MustRegister(gsmetrics.Collectors()...)
	before := badSignatures(g, reg, f.rig)
	body := []byte(`{"action":"submitted","repository":{"full_name":"org/app"}}`)
	for _, sig := range []string{sign(body, "not-the-secret"), "", "sha1=" + hex.EncodeToString(body[:20])} {
		req, err := http.NewRequest(http.MethodPost, hookURL, bytes.NewReader(body))
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "pull_request_review")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), "signature %q", sig)
	}
	g.Expect(badSignatures(g, reg, f.rig) - before).To(Equal(3.0))

	// A path that names no Refinery with a webhook is unknown.
	resp, err := http.Post(webhooks.URL+"/hooks/github/"+f.ns+"/no-such-refinery", "application/json", bytes.NewReader(body))
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
}

func sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func badSignatures(g Gomega, reg *prometheus.Registry, rig string) float64 {
	families, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != "gastown_webhook_deliveries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["rig"] == rig && labels["result"] == gsmetrics.WebhookBadSignature {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
