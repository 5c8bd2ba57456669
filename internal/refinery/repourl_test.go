package refinery

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestParseRepoURL(t *testing.T) {
	tests := []struct {
		url         string
		owner, repo string
		wantErr     bool
	}{
		{url: "https://github.com/acme/app", owner: "acme", repo: "app"},
		{url: "https://github.com/acme/app.git", owner: "acme", repo: "app"},
		{url: "https://github.com/acme/app/", owner: "acme", repo: "app"},
		{url: "https://x-access-token:secret@github.com/acme/app.git", owner: "acme", repo: "app"},
		{url: "http://127.0.0.1:34567/acme/app.git", owner: "acme", repo: "app"},
		{url: "git@github.com:acme/app.git", owner: "acme", repo: "app"},
		{url: "git@github.com:acme/app", owner: "acme", repo: "app"},
		{url: "github.com:acme/app.git", owner: "acme", repo: "app"},
		{url: "ssh://git@github.com/acme/app.git", owner: "acme", repo: "app"},
		{url: "ssh://git@ghe.example.com:2222/acme/app.git", owner: "acme", repo: "app"},
		{url: "git://example.com/acme/app.git", owner: "acme", repo: "app"},
		{url: "https://github.com/acme", wantErr: true},
		{url: "https://gitlab.com/group/sub/app.git", wantErr: true},
		{url: "ftp://example.com/acme/app.git", wantErr: true},
		{url: "/srv/git/acme/app.git", wantErr: true},
		{url: "git@github.com:/app.git", wantErr: true},
		{url: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			g := NewWithT(t)
			owner, repo, err := ParseRepoURL(tt.url)
			if tt.wantErr {
				g.Expect(err).To(HaveOccurred())
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(owner).To(Equal(tt.owner))
			g.Expect(repo).To(Equal(tt.repo))
		})
	}
}

func TestParseRepoURLHidesCredentials(t *testing.T) {
	for _, u := range []string{
		"https://user:hunter2@example.com/too/many/parts.git",
		"https://user:hunter2@exa mple.com/%zz",
		"ftp://user:hunter2@example.com/acme/app.git",
	} {
		t.Run(u, func(t *testing.T) {
			g := NewWithT(t)
			_, _, err := ParseRepoURL(u)
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
		})
	}
}

func FuzzParseRepoURL(f *testing.F) {
	for _, seed := range []string{
		"https://github.com/acme/app.git",
		"git@github.com:acme/app.git",
		"ssh://git@host:22/acme/app.git",
		"https://u:p@host/a/b",
		"::",
		"a@b:c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		owner, repo, err := ParseRepoURL(in)
		if err != nil {
			return
		}
		for _, part := range []string{owner, repo} {
			if part == "" || strings.Contains(part, "/") {
				t.Fatalf("ParseRepoURL(%q) = %q, %q", in, owner, repo)
			}
		}
	})
}
