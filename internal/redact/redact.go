// Package redact removes credentials from text before it is logged,
// recorded in an event or a status, or posted to a pull request: the user
// information of URLs, the values of secrets the caller knows, and strings
// shaped like well-known tokens. It is the project's one redaction
// function; it has no dependencies beyond the standard library.
package redact

import (
	"regexp"
	"sort"
	"strings"
)

// Marker replaces whatever is redacted.
const Marker = "[REDACTED]"

// MinSecretLen is the shortest secret value Text searches for: shorter
// values would match ordinary words and numbers.
const MinSecretLen = 6

// URL returns raw without the credentials of its user information, for
// messages. An http(s) (or any non-SSH) URL loses its user information
// altogether: a bare user there is usually a token (https://TOKEN@host).
// An SSH URL (ssh://, git+ssh://, ssh+git://) keeps a bare user name
// (ssh://git@host/...) and loses a password. SCP-like addresses
// (git@host:org/repo.git) and anything else without "://" carry no password
// and are returned unchanged. raw need not parse as a URL.
func URL(raw string) string {
	scheme, user, rest, ok := splitUserInfo(raw)
	if !ok {
		return raw
	}
	if isSSH(scheme) && !strings.Contains(user, ":") {
		return raw
	}
	return scheme + "://" + rest
}

// URLHasCredentials reports whether raw carries credentials in its user
// information: a password (user:secret@) under any scheme, or any user
// information (TOKEN@ or user@) under a non-SSH scheme. A bare user name
// on an SSH URL (ssh://git@host/...) and SCP-like addresses
// (git@host:org/repo.git) have none.
func URLHasCredentials(raw string) bool {
	return URL(raw) != raw
}

// splitUserInfo cuts a scheme URL into its scheme, the user information of
// its authority and the rest after the "@". ok is false when raw has no
// scheme or no user information.
func splitUserInfo(raw string) (scheme, user, rest string, ok bool) {
	scheme, after, found := strings.Cut(raw, "://")
	if !found || !schemePattern.MatchString(scheme) {
		return "", "", "", false
	}
	authority := after
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		authority = after[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return "", "", "", false
	}
	return scheme, authority[:at], after[at+1:], true
}

var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

func isSSH(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "ssh", "git+ssh", "ssh+git":
		return true
	}
	return false
}

// tokenPatterns are the shapes of credentials Text removes without being
// told their values.
var tokenPatterns = []*regexp.Regexp{
	// GitHub: personal, OAuth, user-to-server, server-to-server and refresh
	// tokens, and fine-grained personal access tokens.
	regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{20,}\b`),
	regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{20,}`),
	// Anthropic API keys and OAuth tokens (sk-ant-api03-..., sk-ant-oat01-...).
	regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{8,}`),
	// OpenAI keys (sk-..., sk-proj-...).
	regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{20,}`),
	// GitLab personal access tokens.
	regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`),
	// Slack tokens.
	regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`),
	// AWS access key IDs.
	regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`),
}

// authPatterns are HTTP Authorization values: their scheme is kept.
var authPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{16,}`),
	regexp.MustCompile(`(?i)\b(authorization:\s*token\s+)[A-Za-z0-9._~+/=-]{8,}`),
}

// urlUserInfoPattern finds the user information of URLs inside text.
var urlUserInfoPattern = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*)://([^\s/?#@"'<>]+)@`)

// Text returns s with credentials replaced by Marker: every value of
// secrets (those shorter than MinSecretLen are skipped), strings shaped like
// GitHub, GitLab, Slack, AWS, Anthropic and OpenAI tokens, the credentials
// of Authorization headers (Bearer, Basic, token), and the user
// information of URLs in the text as URL removes it.
func Text(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	s = replaceSecrets(s, secrets)
	s = urlUserInfoPattern.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserInfoPattern.FindStringSubmatch(m)
		if isSSH(sub[1]) && !strings.Contains(sub[2], ":") {
			return m
		}
		return sub[1] + "://" + Marker + "@"
	})
	for _, p := range authPatterns {
		s = p.ReplaceAllString(s, "${1}"+Marker)
	}
	for _, p := range tokenPatterns {
		s = p.ReplaceAllString(s, Marker)
	}
	return s
}

// replaceSecrets replaces the secret values, longest first, so that a
// secret containing another is replaced whole. A multi-line secret (an SSH
// private key) is also replaced line by line, for output that quotes part
// of it.
// Contains tells whether s holds one of the secret values (as Text would
// find them: whole, or a line of a multi-line one).
func Contains(s string, secrets ...string) bool { return replaceSecrets(s, secrets) != s }

func replaceSecrets(s string, secrets []string) string {
	var values []string
	for _, v := range secrets {
		v = strings.TrimSpace(v)
		if len(v) < MinSecretLen {
			continue
		}
		values = append(values, v)
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
					values = append(values, line)
				}
			}
		}
	}
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	for _, v := range values {
		s = strings.ReplaceAll(s, v, Marker)
	}
	return s
}

// Error is err's message, redacted with Text; "" for a nil error.
func Error(err error, secrets ...string) string {
	if err == nil {
		return ""
	}
	return Text(err.Error(), secrets...)
}
