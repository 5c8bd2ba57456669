package gitops

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// TestGitHubKnownHosts checks the built-in keys against the fingerprints
// GitHub publishes in its documentation.
func TestGitHubKnownHosts(t *testing.T) {
	want := map[string]string{
		ssh.KeyAlgoED25519:  "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU",
		ssh.KeyAlgoECDSA256: "SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM",
	}
	got := map[string]string{}
	rest := []byte(GitHubKnownHosts)
	for len(bytes.TrimSpace(rest)) > 0 {
		_, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			t.Fatal(err)
		}
		if len(hosts) != 1 || hosts[0] != "github.com" {
			t.Errorf("hosts = %v, want [github.com]", hosts)
		}
		got[key.Type()] = ssh.FingerprintSHA256(key)
		rest = next
	}
	if len(got) != len(want) {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	for typ, fp := range want {
		if got[typ] != fp {
			t.Errorf("%s fingerprint = %s, want %s", typ, got[typ], fp)
		}
	}
}

func TestAuthFromSecret(t *testing.T) {
	plainKey := newPrivateKey(t, "")
	encryptedKey := newPrivateKey(t, "open sesame")

	tests := []struct {
		name    string
		url     string
		data    map[string][]byte
		check   func(t *testing.T, auth transport.AuthMethod)
		wantErr string
	}{
		{
			name: "seed secret: scp-like github URL with only ssh-privatekey",
			url:  "git@github.com:myorg/myrepo.git",
			data: map[string][]byte{"ssh-privatekey": plainKey},
			check: func(t *testing.T, auth transport.AuthMethod) {
				pk := auth.(*gitssh.PublicKeys)
				if pk.User != "git" {
					t.Errorf("user = %q, want git", pk.User)
				}
				// The built-in known_hosts steers the handshake to the
				// key types we can check for github.com.
				want := []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256}
				if strings.Join(pk.HostKeyAlgorithms, ",") != strings.Join(want, ",") {
					t.Errorf("host key algorithms = %v, want %v", pk.HostKeyAlgorithms, want)
				}
			},
		},
		{
			name: "ssh URL with its own user and port",
			url:  "ssh://deploy@git.example.com:2222/org/repo.git",
			data: map[string][]byte{
				"ssh-privatekey": plainKey,
				"known_hosts":    []byte("[git.example.com]:2222 " + githubEd25519 + "\n"),
			},
			check: func(t *testing.T, auth transport.AuthMethod) {
				pk := auth.(*gitssh.PublicKeys)
				if pk.User != "deploy" {
					t.Errorf("user = %q, want deploy", pk.User)
				}
				if len(pk.HostKeyAlgorithms) != 1 || pk.HostKeyAlgorithms[0] != ssh.KeyAlgoED25519 {
					t.Errorf("host key algorithms = %v, want [ssh-ed25519]", pk.HostKeyAlgorithms)
				}
			},
		},
		{
			name: "encrypted key with ssh-privatekey-password",
			url:  "git@github.com:myorg/myrepo.git",
			data: map[string][]byte{"ssh-privatekey": encryptedKey, "ssh-privatekey-password": []byte("open sesame\n")},
			check: func(t *testing.T, auth transport.AuthMethod) {
				if _, ok := auth.(*gitssh.PublicKeys); !ok {
					t.Errorf("auth = %T, want *ssh.PublicKeys", auth)
				}
			},
		},
		{
			name: "encrypted key with password",
			url:  "git@github.com:myorg/myrepo.git",
			data: map[string][]byte{"ssh-privatekey": encryptedKey, "password": []byte("open sesame")},
			check: func(t *testing.T, auth transport.AuthMethod) {
				if _, ok := auth.(*gitssh.PublicKeys); !ok {
					t.Errorf("auth = %T, want *ssh.PublicKeys", auth)
				}
			},
		},
		{
			name:    "encrypted key without passphrase",
			url:     "git@github.com:myorg/myrepo.git",
			data:    map[string][]byte{"ssh-privatekey": encryptedKey},
			wantErr: "ssh-privatekey is encrypted: add its passphrase to the git secret as ssh-privatekey-password",
		},
		{
			name:    "encrypted key with the wrong passphrase",
			url:     "git@github.com:myorg/myrepo.git",
			data:    map[string][]byte{"ssh-privatekey": encryptedKey, "ssh-privatekey-password": []byte("wrong-passphrase")},
			wantErr: "parse ssh-privatekey",
		},
		{
			name:    "ssh URL without a key",
			url:     "git@github.com:myorg/myrepo.git",
			data:    map[string][]byte{"token": []byte("tok-123")},
			wantErr: "the git secret has no ssh-privatekey for the SSH URL of host github.com",
		},
		{
			name:    "not a key",
			url:     "git@github.com:myorg/myrepo.git",
			data:    map[string][]byte{"ssh-privatekey": []byte("not-a-key-xyz")},
			wantErr: "parse ssh-privatekey",
		},
		{
			name:  "https username and password",
			url:   "https://git.example.com/org/repo.git",
			data:  map[string][]byte{"username": []byte("alice"), "password": []byte("pw-123\n")},
			check: wantBasicAuth("alice", "pw-123"),
		},
		{
			name:  "https username and token",
			url:   "https://git.example.com/org/repo.git",
			data:  map[string][]byte{"username": []byte("alice"), "token": []byte("tok-123")},
			check: wantBasicAuth("alice", "tok-123"),
		},
		{
			name:  "https token alone",
			url:   "https://github.com/org/repo.git",
			data:  map[string][]byte{"token": []byte("tok-123\n")},
			check: wantBasicAuth(TokenUsername, "tok-123"),
		},
		{
			name:    "https password without username",
			url:     "https://git.example.com/org/repo.git",
			data:    map[string][]byte{"password": []byte("pw-123")},
			wantErr: "the git secret has password but no username",
		},
		{
			name:    "https username alone",
			url:     "https://git.example.com/org/repo.git",
			data:    map[string][]byte{"username": []byte("alice")},
			wantErr: "the git secret has username but neither password nor token",
		},
		{
			name:    "https URL with an SSH secret",
			url:     "https://github.com/org/repo.git",
			data:    map[string][]byte{"ssh-privatekey": plainKey},
			wantErr: "use the repository's SSH URL",
		},
		{
			name:  "https without credentials is anonymous",
			url:   "https://github.com/org/repo.git",
			data:  nil,
			check: wantNoAuth,
		},
		{
			name:  "file URL",
			url:   "file:///srv/git/repo.git",
			data:  map[string][]byte{"token": []byte("tok-123")},
			check: wantNoAuth,
		},
		{
			name:    "unsupported protocol",
			url:     "ftp://example.com/repo.git",
			wantErr: `unsupported protocol "ftp"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := AuthFromSecret(tt.url, tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				assertNoSecret(t, err.Error(), tt.data)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, auth)
		})
	}
}

func TestHostKeyVerifier(t *testing.T) {
	githubKey := parseAuthorizedKey(t, githubEd25519)
	otherKey := newPublicKey(t)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}

	tests := []struct {
		name       string
		knownHosts string
		host       string
		key        ssh.PublicKey
		wantErr    []string
	}{
		{
			name:       "built-in github.com key",
			knownHosts: GitHubKnownHosts,
			host:       "github.com:22",
			key:        githubKey,
		},
		{
			name:       "github.com presenting another key",
			knownHosts: GitHubKnownHosts,
			host:       "github.com:22",
			key:        otherKey,
			wantErr:    []string{"does not match known_hosts in the git secret"},
		},
		{
			name:       "host missing from known_hosts",
			knownHosts: GitHubKnownHosts,
			host:       "gitlab.example.com:22",
			key:        otherKey,
			wantErr: []string{
				"unknown SSH host gitlab.example.com:22",
				ssh.FingerprintSHA256(otherKey),
				"add the host's key to known_hosts in the git secret",
				"ssh-keyscan gitlab.example.com",
			},
		},
		{
			name:       "non-standard port",
			knownHosts: knownhosts.Line([]string{"git.example.com:2222"}, otherKey) + "\n",
			host:       "git.example.com:2222",
			key:        otherKey,
		},
		{
			name:       "non-standard port missing",
			knownHosts: GitHubKnownHosts,
			host:       "git.example.com:2222",
			key:        otherKey,
			wantErr:    []string{"ssh-keyscan -p 2222 git.example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := newHostKeyVerifier([]byte(tt.knownHosts), tt.host)
			if err != nil {
				t.Fatal(err)
			}
			err = v.callback(tt.host, addr, tt.key)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("callback: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("callback accepted the key")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestBadKnownHosts(t *testing.T) {
	_, err := AuthFromSecret("git@github.com:org/repo.git", map[string][]byte{
		"ssh-privatekey": newPrivateKey(t, ""),
		"known_hosts":    []byte("github.com ssh-ed25519 !!!\n"),
	})
	if err == nil || !strings.Contains(err.Error(), "parse known_hosts of the git secret") {
		t.Fatalf("error = %v, want a known_hosts parse error", err)
	}
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"https://alice:pw-123@git.example.com/repo.git": "https://git.example.com/repo.git",
		"https://ghp_token@github.com/org/repo.git":     "https://github.com/org/repo.git",
		"ssh://git:pw-123@127.0.0.1:2222/org/repo.git":  "ssh://127.0.0.1:2222/org/repo.git",
		"https://git.example.com/repo.git":              "https://git.example.com/repo.git",
		"git@github.com:myorg/myrepo.git":               "git@github.com:myorg/myrepo.git",
		"ssh://git@127.0.0.1:2222/org/repo.git":         "ssh://git@127.0.0.1:2222/org/repo.git",
	}
	for in, want := range tests {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorHidesURLPassword(t *testing.T) {
	err := &Error{
		Op:  "clone",
		URL: "https://alice:pw-123@git.example.com/repo.git",
		Err: errorString(`unexpected requesting "https://alice:pw-123@git.example.com/repo.git/info/refs" status code: 500`),
	}
	if strings.Contains(err.Error(), "pw-123") {
		t.Fatalf("error shows the password: %s", err)
	}
	if !strings.HasPrefix(err.Error(), "git clone https://git.example.com/repo.git: ") {
		t.Errorf("error = %s", err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// githubEd25519 is github.com's ed25519 host key in authorized_keys form.
const githubEd25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

func wantBasicAuth(user, password string) func(*testing.T, transport.AuthMethod) {
	return func(t *testing.T, auth transport.AuthMethod) {
		t.Helper()
		basic, ok := auth.(*githttp.BasicAuth)
		if !ok {
			t.Fatalf("auth = %T, want *http.BasicAuth", auth)
		}
		if basic.Username != user || basic.Password != password {
			t.Errorf("basic auth = %q/%q, want %q/%q", basic.Username, basic.Password, user, password)
		}
	}
}

func wantNoAuth(t *testing.T, auth transport.AuthMethod) {
	t.Helper()
	if auth != nil {
		t.Errorf("auth = %T, want none", auth)
	}
}

func assertNoSecret(t *testing.T, msg string, data map[string][]byte) {
	t.Helper()
	for key, value := range data {
		v := strings.TrimSpace(string(value))
		if key != "username" && len(v) > 3 && strings.Contains(msg, v) {
			t.Errorf("error %q shows the value of %s", msg, key)
		}
	}
}

func newPrivateKey(t *testing.T, passphrase string) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

func newPublicKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func parseAuthorizedKey(t *testing.T, line string) ssh.PublicKey {
	t.Helper()
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return key
}
