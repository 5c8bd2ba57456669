package gitops

import (
	"fmt"
	"net"
	"os"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// GitHubKnownHosts are github.com's published SSH host keys (ed25519 and
// ecdsa-sha2-nistp256, from https://api.github.com/meta). They are the
// known_hosts of a git secret without one, so that the seed README's secret,
// which holds only ssh-privatekey, works against github.com unchanged.
// Any other host needs known_hosts in the secret.
const GitHubKnownHosts = `github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=
`

// hostKeyVerifier checks a server's host key against known_hosts.
type hostKeyVerifier struct {
	db *knownhosts.HostKeyDB
	// algorithms are the host key types known for the server, so that the
	// handshake asks for a key we can check rather than the server's first
	// preference.
	algorithms []string
}

// newHostKeyVerifier parses known_hosts content for the server at hostPort.
func newHostKeyVerifier(knownHosts []byte, hostPort string) (*hostKeyVerifier, error) {
	db, err := parseKnownHosts(knownHosts)
	if err != nil {
		return nil, err
	}
	return &hostKeyVerifier{db: db, algorithms: db.HostKeyAlgorithms(hostPort)}, nil
}

// parseKnownHosts reads known_hosts content. The parsers (x/crypto's and
// skeema's, which adds @cert-authority and wildcard handling) read only
// files, so the content goes through a temporary file that is removed at
// once: host keys are public, and nothing keeps the file open.
func parseKnownHosts(content []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "known_hosts-")
	if err != nil {
		return nil, fmt.Errorf("write known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, fmt.Errorf("write known_hosts: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write known_hosts: %w", err)
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, fmt.Errorf("parse %s of the git secret: %w", KnownHostsKey, err)
	}
	return db, nil
}

// callback is an ssh.HostKeyCallback whose errors tell the user what to put
// in the git secret.
func (v *hostKeyVerifier) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := v.db.HostKeyCallback()(hostname, remote, key)
	switch {
	case err == nil:
		return nil
	case knownhosts.IsHostUnknown(err):
		return fmt.Errorf("unknown SSH host %s (host key %s %s): add the host's key to %s in the git secret "+
			"(for example the output of ssh-keyscan %s)",
			hostname, key.Type(), ssh.FingerprintSHA256(key), KnownHostsKey, hostnameOnly(hostname))
	case knownhosts.IsHostKeyChanged(err):
		return fmt.Errorf("the SSH host key of %s (%s %s) does not match %s in the git secret: "+
			"check that you reach the right host, then update %s",
			hostname, key.Type(), ssh.FingerprintSHA256(key), KnownHostsKey, KnownHostsKey)
	default:
		return fmt.Errorf("check the SSH host key of %s: %w", hostname, err)
	}
}

func hostnameOnly(hostPort string) string {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return hostPort
	}
	if port != "22" {
		return "-p " + port + " " + host
	}
	return host
}
