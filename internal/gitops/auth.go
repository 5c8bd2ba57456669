// Package gitops holds the git work of a polecat, done with go-git: credentials
// from a Kubernetes git secret, a shallow clone, a work branch, a commit of
// everything the agent changed, a push (plain or with a lease) and the diff
// between two commits for prompts. It has no Kubernetes client in it.
package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// Keys of a git secret's data. They are the keys of the seed README's
// secrets (kubectl create secret generic ... --from-file=ssh-privatekey=...)
// and of the kubernetes.io/ssh-auth and kubernetes.io/basic-auth types.
const (
	// SSHPrivateKeyKey holds a PEM or OpenSSH private key, for SSH URLs.
	SSHPrivateKeyKey = "ssh-privatekey"
	// SSHPassphraseKey holds the passphrase of an encrypted private key.
	// PasswordKey is read as the passphrase when this key is absent.
	SSHPassphraseKey = "ssh-privatekey-password"
	// KnownHostsKey holds known_hosts lines for SSH URLs. Without it only
	// github.com is known (see GitHubKnownHosts).
	KnownHostsKey = "known_hosts"
	// UsernameKey, PasswordKey and TokenKey are HTTPS basic-auth credentials.
	UsernameKey = "username"
	PasswordKey = "password"
	TokenKey    = "token"
)

// TokenUsername is sent with a token when the secret has no username. GitHub
// takes any user name with a personal access token and wants this one with
// an app installation token.
const TokenUsername = "x-access-token"

// defaultSSHUser is the SSH user when the URL names none.
const defaultSSHUser = "git"

// AuthFromSecret returns the credentials for repoURL from a git secret's
// data. SSH URLs (ssh://... or user@host:path) need ssh-privatekey and check
// the server's host key strictly against known_hosts. HTTP(S) URLs take
// username with password or token, or a token alone; without any of those
// the result is nil, for an anonymous clone. File URLs need nothing.
func AuthFromSecret(repoURL string, data map[string][]byte) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(repoURL)
	if err != nil {
		return nil, fmt.Errorf("git URL %s: %w", RedactURL(repoURL), err)
	}
	switch ep.Protocol {
	case "ssh":
		return sshAuth(ep, data)
	case "http", "https":
		return httpAuth(repoURL, data)
	case "file":
		return nil, nil
	default:
		return nil, fmt.Errorf("git URL %s: unsupported protocol %q", RedactURL(repoURL), ep.Protocol)
	}
}

func sshAuth(ep *transport.Endpoint, data map[string][]byte) (transport.AuthMethod, error) {
	key := data[SSHPrivateKeyKey]
	if len(bytes.TrimSpace(key)) == 0 {
		return nil, fmt.Errorf("the git secret has no %s for the SSH URL of host %s", SSHPrivateKeyKey, ep.Host)
	}
	user := ep.User
	if user == "" {
		user = defaultSSHUser
	}
	passphrase := secretString(data, SSHPassphraseKey)
	if passphrase == "" {
		passphrase = secretString(data, PasswordKey)
	}
	signer, err := parsePrivateKey(key, passphrase)
	if err != nil {
		return nil, err
	}
	auth := &gitssh.PublicKeys{User: user, Signer: signer}

	knownHosts := data[KnownHostsKey]
	if len(bytes.TrimSpace(knownHosts)) == 0 {
		knownHosts = []byte(GitHubKnownHosts)
	}
	verifier, err := newHostKeyVerifier(knownHosts, sshHostPort(ep))
	if err != nil {
		return nil, err
	}
	auth.HostKeyCallback = verifier.callback
	auth.HostKeyAlgorithms = verifier.algorithms
	return auth, nil
}

func httpAuth(repoURL string, data map[string][]byte) (transport.AuthMethod, error) {
	username := secretString(data, UsernameKey)
	password := secretString(data, PasswordKey)
	token := secretString(data, TokenKey)
	switch {
	case password != "":
		if username == "" {
			return nil, fmt.Errorf("the git secret has %s but no %s", PasswordKey, UsernameKey)
		}
		return &githttp.BasicAuth{Username: username, Password: password}, nil
	case token != "":
		if username == "" {
			username = TokenUsername
		}
		return &githttp.BasicAuth{Username: username, Password: token}, nil
	case username != "":
		return nil, fmt.Errorf("the git secret has %s but neither %s nor %s", UsernameKey, PasswordKey, TokenKey)
	case len(data[SSHPrivateKeyKey]) > 0:
		return nil, fmt.Errorf("the git secret holds an %s but %s is an HTTP(S) URL: use the repository's SSH URL, "+
			"or put %s with %s or %s in the secret", SSHPrivateKeyKey, RedactURL(repoURL), UsernameKey, PasswordKey, TokenKey)
	default:
		return nil, nil
	}
}

// parsePrivateKey parses an SSH private key, encrypted or not. The
// parser's errors describe the format, never the key's bytes.
func parsePrivateKey(key []byte, passphrase string) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(key)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, fmt.Errorf("%s is encrypted: add its passphrase to the git secret as %s",
				SSHPrivateKeyKey, SSHPassphraseKey)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(key, []byte(passphrase))
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", SSHPrivateKeyKey, err)
	}
	return signer, nil
}

// secretString reads a textual secret value. Values written with
// --from-file usually end in a newline, which would break basic auth.
func secretString(data map[string][]byte, key string) string {
	return strings.TrimSpace(string(data[key]))
}

// sshHostPort is the address go-git dials for ep, in the form known_hosts
// lookups expect.
func sshHostPort(ep *transport.Endpoint) string {
	port := ep.Port
	if port <= 0 {
		port = 22
	}
	host := strings.TrimSuffix(strings.TrimPrefix(ep.Host, "["), "]")
	return net.JoinHostPort(host, strconv.Itoa(port))
}
