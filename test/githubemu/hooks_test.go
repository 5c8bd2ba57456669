package githubemu

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-github/v60/github"
	. "github.com/onsi/gomega"
)

// hookReceiver is a webhook receiver that verifies each delivery with
// secret, as go-github does (another secret fails), and names what it got:
// the event, then its action, review state, status state or pushed ref.
func hookReceiver(t *testing.T, secret string) (url string, received func() []string) {
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
			if e.GetRepo().GetFullName() != testOwner+"/"+testRepo {
				name += " of " + e.GetRepo().GetFullName()
			}
		case *github.PullRequestReviewEvent:
			name += "/" + e.GetReview().GetState()
		case *github.StatusEvent:
			name += "/" + e.GetState()
		case *github.PushEvent:
			name += "/" + e.GetRef()
		}
		mu.Lock()
		events = append(events, name)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(receiver.Close)
	return receiver.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), events...)
	}
}

// TestWebhooksAreDeliveredSigned: each state change is POSTed to the
// repository's webhook, in order, signed with its secret as GitHub signs.
func TestWebhooksAreDeliveredSigned(t *testing.T) {
	g := NewWithT(t)
	const secret = "hook-secret"
	url, received := hookReceiver(t, secret)
	env, client := newEnv(t)
	g.Expect(env.API.AddWebhook(testOwner, testRepo, url, secret)).To(Succeed())
	pr := openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	g.Expect(env.API.SetStatus(testOwner, testRepo, pr.GetHead().GetSHA(), "test", "success")).To(Succeed())
	g.Expect(env.API.Approve(testOwner, testRepo, pr.GetNumber(), "alice")).To(Succeed())
	_, _, err := client.PullRequests.Merge(context.Background(), testOwner, testRepo, pr.GetNumber(), "", nil)
	g.Expect(err).NotTo(HaveOccurred())

	want := []string{"push/refs/heads/" + branchA, "pull_request/opened", "status/success", "pull_request_review/approved",
		"pull_request/closed", "push/refs/heads/" + DefaultBranch}
	g.Eventually(received, 10*time.Second, 20*time.Millisecond).Should(HaveExactElements(want))
	for _, d := range env.API.Deliveries() {
		g.Expect(d.Status).To(Equal(http.StatusAccepted), d.Event)
	}
}

// TestAGitPushIsDelivered: a push over git is a push event, and, to an open
// pull request's head, its synchronize, as GitHub delivers them; labels
// and review requests are delivered too.
func TestAGitPushIsDelivered(t *testing.T) {
	g := NewWithT(t)
	url, received := hookReceiver(t, "s")
	env, client := newEnv(t)
	pr := openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	g.Expect(env.API.AddWebhook(testOwner, testRepo, url, "s")).To(Succeed())
	_, _, err := client.Issues.AddLabelsToIssue(context.Background(), testOwner, testRepo, pr.GetNumber(), []string{"polecat"})
	g.Expect(err).NotTo(HaveOccurred())
	_, _, err = client.PullRequests.RequestReviewers(context.Background(), testOwner, testRepo, pr.GetNumber(), github.ReviewersRequest{Reviewers: []string{"alice"}})
	g.Expect(err).NotTo(HaveOccurred())

	repo, head := clone(t, env, branchA)
	wt, err := repo.Worktree()
	g.Expect(err).NotTo(HaveOccurred())
	f, err := wt.Filesystem.Create("b.txt")
	g.Expect(err).NotTo(HaveOccurred())
	_, _ = f.Write([]byte("b\n"))
	g.Expect(f.Close()).To(Succeed())
	_, err = wt.Add("b.txt")
	g.Expect(err).NotTo(HaveOccurred())
	sha, err := wt.Commit("b", &gogit.CommitOptions{Author: &object.Signature{Name: "p", Email: "p@example.com", When: head.Author.When}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(repo.Push(&gogit.PushOptions{})).To(Succeed())

	want := []string{"pull_request/labeled", "pull_request/review_requested", "push/refs/heads/" + branchA, "pull_request/synchronize"}
	g.Eventually(received, 10*time.Second, 20*time.Millisecond).Should(HaveExactElements(want))
	now, err := env.API.PullRequest(testOwner, testRepo, pr.GetNumber())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(now.HeadSHA).To(Equal(sha.String()))
}
