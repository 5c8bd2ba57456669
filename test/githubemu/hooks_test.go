package githubemu

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	. "github.com/onsi/gomega"
)

// TestWebhooksAreDeliveredSigned: each state change is POSTed to the
// repository's webhook, in order, signed with its secret as GitHub signs
// (go-github's ValidatePayload accepts it; another secret does not).
func TestWebhooksAreDeliveredSigned(t *testing.T) {
	g := NewWithT(t)
	const secret = "hook-secret"
	var mu sync.Mutex
	var events []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := github.ValidatePayload(r, []byte(secret))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		event, err := github.ParseWebHook(github.WebHookType(r), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		name := github.WebHookType(r)
		switch e := event.(type) {
		case *github.PullRequestEvent:
			name += "/" + e.GetAction()
			g.Expect(e.GetRepo().GetFullName()).To(Equal(testOwner + "/" + testRepo))
		case *github.PullRequestReviewEvent:
			name += "/" + e.GetReview().GetState()
		case *github.StatusEvent:
			name += "/" + e.GetState()
		}
		mu.Lock()
		events = append(events, name)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer receiver.Close()

	env, client := newEnv(t)
	g.Expect(env.API.AddWebhook(testOwner, testRepo, receiver.URL, secret)).To(Succeed())
	pr := openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	g.Expect(env.API.SetStatus(testOwner, testRepo, pr.GetHead().GetSHA(), "test", "success")).To(Succeed())
	g.Expect(env.API.Approve(testOwner, testRepo, pr.GetNumber(), "alice")).To(Succeed())
	_, _, err := client.PullRequests.Merge(context.Background(), testOwner, testRepo, pr.GetNumber(), "", nil)
	g.Expect(err).NotTo(HaveOccurred())

	want := []string{"push", "pull_request/opened", "status/success", "pull_request_review/approved", "pull_request/closed", "push"}
	g.Eventually(func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), events...)
	}, 10*time.Second, 20*time.Millisecond).Should(HaveExactElements(want))
	for _, d := range env.API.Deliveries() {
		g.Expect(d.Status).To(Equal(http.StatusAccepted), d.Event)
	}
}
