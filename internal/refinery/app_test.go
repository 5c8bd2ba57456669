package refinery

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/boshu2/gastown-operator/internal/redact"
)

// appKey is a fresh RSA key and its PEM, as a GitHub App's private key
// file holds it.
func appKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// TestGitHubAppAuthentication: a provider with a GitHub App's credentials
// trades a signed JWT for an installation token and works with it; a token
// about to expire is replaced before the next request; another key is
// refused, and no error names a token.
func TestGitHubAppAuthentication(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := startEnv(t)
	key, pemKey := appKey(t)
	// 30 s tokens: ghinstallation refreshes a minute before expiry, so
	// every request needs a new one.
	env.API.RegisterApp(4242, 77, &key.PublicKey, 30*time.Second)
	gh := newProvider(t, env, func(o *GitHubOptions) {
		o.Token, o.App = "", &GitHubApp{AppID: 4242, InstallationID: 77, PrivateKey: pemKey}
	})
	pr := openPR(t, env, gh, map[string]string{"a.txt": "a\n"})
	got, err := gh.GetPullRequest(ctx, pr.Number)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.HeadBranch).To(Equal(branchA))
	g.Expect(env.API.InstallationTokens()).To(BeNumerically(">=", 2), "a token near its expiry is refreshed")

	_, otherKey := appKey(t)
	stranger := newProvider(t, env, func(o *GitHubOptions) {
		o.Token, o.App = "", &GitHubApp{AppID: 4242, InstallationID: 77, PrivateKey: otherKey}
	})
	_, err = stranger.GetPullRequest(ctx, pr.Number)
	g.Expect(err).To(HaveOccurred(), "a JWT signed with another key")
	g.Expect(strings.Contains(err.Error(), "ghs_")).To(BeFalse())
	g.Expect(redact.Contains(err.Error(), string(otherKey))).To(BeFalse())

	_, err = NewGitHub(GitHubOptions{Owner: owner, Repo: repo, App: &GitHubApp{AppID: 1, InstallationID: 1, PrivateKey: []byte("not a key")}})
	g.Expect(err).To(MatchError(ContainSubstring("private key")))
}
