package githubemu

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
	. "github.com/onsi/gomega"
)

func TestReviews(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env, client := newEnv(t)
	openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	head, err := env.API.BranchSHA(testOwner, testRepo, branchA)
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(env.API.Approve(testOwner, testRepo, 1, "alice")).To(Succeed())
	g.Expect(env.API.RequestChanges(testOwner, testRepo, 1, "bob", "Please add a test.", []LineComment{
		{Path: "a.txt", Line: 1, Body: "Why a?"},
		{Path: "a.txt", Line: 1, Body: "And a test."},
	})).To(Succeed())

	// Through the API the token's user comments; approving its own pull
	// request is refused, as on GitHub.
	_, _, err = client.PullRequests.CreateReview(ctx, testOwner, testRepo, 1, &github.PullRequestReviewRequest{
		Event: github.String("APPROVE"),
	})
	g.Expect(statusOf(err)).To(Equal(http.StatusUnprocessableEntity))
	created, _, err := client.PullRequests.CreateReview(ctx, testOwner, testRepo, 1, &github.PullRequestReviewRequest{
		Event: github.String("COMMENT"),
		Body:  github.String("Bot note."),
		Comments: []*github.DraftReviewComment{
			{Path: github.String("a.txt"), Line: github.Int(1), Body: github.String("Generated.")},
		},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(created.GetState()).To(Equal(ReviewCommented))

	reviews, _, err := client.PullRequests.ListReviews(ctx, testOwner, testRepo, 1, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(reviews).To(HaveLen(3))
	type row struct{ user, state, body, commit string }
	var rows []row
	for _, r := range reviews {
		rows = append(rows, row{r.GetUser().GetLogin(), r.GetState(), r.GetBody(), r.GetCommitID()})
		g.Expect(r.SubmittedAt).NotTo(BeNil())
	}
	g.Expect(rows).To(Equal([]row{
		{"alice", ReviewApproved, "", head},
		{"bob", ReviewChangesRequested, "Please add a test.", head},
		{DefaultLogin, ReviewCommented, "Bot note.", head},
	}))

	bobs, _, err := client.PullRequests.ListReviewComments(ctx, testOwner, testRepo, 1, reviews[1].GetID(), nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(bobs).To(HaveLen(2))
	g.Expect(bobs[0].GetPath()).To(Equal("a.txt"))
	g.Expect(bobs[0].GetLine()).To(Equal(1))
	g.Expect(bobs[0].GetBody()).To(Equal("Why a?"))
	g.Expect(bobs[0].GetPullRequestReviewID()).To(Equal(reviews[1].GetID()))

	all, _, err := client.PullRequests.ListComments(ctx, testOwner, testRepo, 1, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(all).To(HaveLen(3))

	_, _, err = client.PullRequests.ListReviewComments(ctx, testOwner, testRepo, 1, 999999, nil)
	g.Expect(statusOf(err)).To(Equal(http.StatusNotFound))

	snap, err := env.API.PullRequest(testOwner, testRepo, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(snap.Reviews).To(HaveLen(3))
	g.Expect(snap.Reviews[1].Comments).To(HaveLen(2))
}

func TestReviewHelpersValidate(t *testing.T) {
	env, client := newEnv(t)
	openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})

	tests := []struct {
		name   string
		review func() error
	}{
		{"author approves", func() error { return env.API.Approve(testOwner, testRepo, 1, DefaultLogin) }},
		{"changes without a word", func() error { return env.API.RequestChanges(testOwner, testRepo, 1, "bob", "", nil) }},
		{"unknown pull request", func() error { return env.API.Approve(testOwner, testRepo, 7, "alice") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			NewWithT(t).Expect(tt.review()).To(HaveOccurred())
		})
	}
}

func TestStatusesAndCheckRuns(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env, client := newEnv(t)
	openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})
	sha, err := env.API.BranchSHA(testOwner, testRepo, branchA)
	g.Expect(err).NotTo(HaveOccurred())

	combined := func(ref string) *github.CombinedStatus {
		s, _, err := client.Repositories.GetCombinedStatus(ctx, testOwner, testRepo, ref, nil)
		g.Expect(err).NotTo(HaveOccurred())
		return s
	}

	g.Expect(combined(sha).GetState()).To(Equal("pending"), "no status reported yet")
	g.Expect(combined(sha).GetTotalCount()).To(Equal(0))

	_, resp, err := client.Repositories.CreateStatus(ctx, testOwner, testRepo, sha, &github.RepoStatus{
		State: github.String("pending"), Context: github.String("ci/build"),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusCreated))
	g.Expect(env.API.SetStatus(testOwner, testRepo, sha, "ci/lint", "success")).To(Succeed())
	g.Expect(combined(sha).GetState()).To(Equal("pending"))

	g.Expect(env.API.SetStatus(testOwner, testRepo, sha, "ci/build", "success")).To(Succeed())
	s := combined(branchA)
	g.Expect(s.GetState()).To(Equal("success"), "a branch name resolves to its head")
	g.Expect(s.GetSHA()).To(Equal(sha))
	g.Expect(s.GetTotalCount()).To(Equal(2))

	g.Expect(env.API.SetStatus(testOwner, testRepo, sha, "ci/lint", "error")).To(Succeed())
	g.Expect(combined(sha).GetState()).To(Equal("failure"))

	g.Expect(env.API.SetStatus(testOwner, testRepo, sha, "ci/lint", "bogus")).To(HaveOccurred())
	g.Expect(env.API.SetStatus(testOwner, testRepo, "0123456789012345678901234567890123456789", "ci", "success")).To(HaveOccurred())

	run, resp, err := client.Checks.CreateCheckRun(ctx, testOwner, testRepo, github.CreateCheckRunOptions{
		Name: "test", HeadSHA: sha, Status: github.String("in_progress"),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusCreated))
	g.Expect(run.GetStatus()).To(Equal("in_progress"))
	g.Expect(env.API.AddCheckRun(testOwner, testRepo, sha, "test", "completed", "success")).To(Succeed())
	g.Expect(env.API.AddCheckRun(testOwner, testRepo, sha, "vet", "completed", "failure")).To(Succeed())
	g.Expect(env.API.AddCheckRun(testOwner, testRepo, sha, "vet", "completed", "")).To(HaveOccurred())

	latest, _, err := client.Checks.ListCheckRunsForRef(ctx, testOwner, testRepo, sha, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(latest.GetTotal()).To(Equal(2))
	got := map[string]string{}
	for _, r := range latest.CheckRuns {
		got[r.GetName()] = r.GetStatus() + "/" + r.GetConclusion()
		g.Expect(r.GetHeadSHA()).To(Equal(sha))
	}
	g.Expect(got).To(Equal(map[string]string{"test": "completed/success", "vet": "completed/failure"}))

	every, _, err := client.Checks.ListCheckRunsForRef(ctx, testOwner, testRepo, branchA, &github.ListCheckRunsOptions{Filter: github.String("all")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(every.GetTotal()).To(Equal(3))

	_, _, err = client.Checks.ListCheckRunsForRef(ctx, testOwner, testRepo, "no-such-branch", nil)
	g.Expect(statusOf(err)).To(Equal(http.StatusNotFound))
}

func TestLabelsAndComments(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env, client := newEnv(t)
	openPR(t, env, client, branchA, map[string]string{"a.txt": "a\n"})

	labels, _, err := client.Issues.AddLabelsToIssue(ctx, testOwner, testRepo, 1, []string{"gastown", "bead/gt-a"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(labels).To(HaveLen(2))
	labels, _, err = client.Issues.AddLabelsToIssue(ctx, testOwner, testRepo, 1, []string{"gastown"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(labels).To(HaveLen(2), "adding a label twice keeps one")

	pr, _, err := client.PullRequests.Get(ctx, testOwner, testRepo, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pr.Labels).To(HaveLen(2))
	g.Expect(pr.Labels[1].GetName()).To(Equal("bead/gt-a"))

	c, resp, err := client.Issues.CreateComment(ctx, testOwner, testRepo, 1, &github.IssueComment{Body: github.String("Polecat restarted.")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusCreated))
	g.Expect(c.GetUser().GetLogin()).To(Equal(DefaultLogin))

	comments, _, err := client.Issues.ListComments(ctx, testOwner, testRepo, 1, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(comments).To(HaveLen(1))
	g.Expect(comments[0].GetBody()).To(Equal("Polecat restarted."))

	_, _, err = client.Issues.CreateComment(ctx, testOwner, testRepo, 42, &github.IssueComment{Body: github.String("x")})
	g.Expect(statusOf(err)).To(Equal(http.StatusNotFound))

	snap, err := env.API.PullRequest(testOwner, testRepo, 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(snap.Labels).To(Equal([]string{"gastown", "bead/gt-a"}))
	g.Expect(snap.Comments).To(Equal([]string{"Polecat restarted."}))
}
