package redact

import (
	"errors"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct {
		in, want string
		creds    bool
	}{
		{"https://alice:pw-123@git.example.com/repo.git", "https://git.example.com/repo.git", true},
		{"https://ghp_abc@github.com/org/repo.git", "https://github.com/org/repo.git", true},
		{"http://x-access-token:tok@127.0.0.1:8080/org/repo.git", "http://127.0.0.1:8080/org/repo.git", true},
		{"ssh://git:secret@github.com/org/repo.git", "ssh://github.com/org/repo.git", true},
		{"git://user@host/repo.git", "git://host/repo.git", true},
		{"https://user:p@ss@host/repo.git", "https://host/repo.git", true},
		{"https://alice:pw@host", "https://host", true},
		{"https://github.com/org/repo.git", "https://github.com/org/repo.git", false},
		{"https://github.com/org/repo@v1.git", "https://github.com/org/repo@v1.git", false},
		{"https://host:8443/org/repo.git", "https://host:8443/org/repo.git", false},
		{"ssh://git@127.0.0.1:2222/org/repo.git", "ssh://git@127.0.0.1:2222/org/repo.git", false},
		{"git+ssh://git@host/org/repo.git", "git+ssh://git@host/org/repo.git", false},
		{"SSH://git@host/org/repo.git", "SSH://git@host/org/repo.git", false},
		{"git@github.com:myorg/myrepo.git", "git@github.com:myorg/myrepo.git", false},
		{"not a url", "not a url", false},
		{"", "", false},
		{"https://%zz:tok@host/repo", "https://host/repo", true},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := URLHasCredentials(tt.in); got != tt.creds {
			t.Errorf("URLHasCredentials(%q) = %v, want %v", tt.in, got, tt.creds)
		}
	}
}

func TestText(t *testing.T) {
	const key = "my-own-api-key-value-42"
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"a known secret", "the key is " + key + ".", []string{key}, "the key is [REDACTED]."},
		{"every occurrence", key + " and " + key, []string{key}, "[REDACTED] and [REDACTED]"},
		{"short secrets are not searched", "pw is 12345 and abc", []string{"12345", "abc", ""}, "pw is 12345 and abc"},
		{"longest first", "value: abcdef-123456", []string{"abcdef", "abcdef-123456"}, "value: [REDACTED]"},
		{"a secret with a trailing newline", "token=s3cr3t-value", []string{"s3cr3t-value\n"}, "token=[REDACTED]"},
		{"a private key's lines", "line: MIIEpAIBAAKCAQEA1234567890abcdef", []string{"-----BEGIN KEY-----\nMIIEpAIBAAKCAQEA1234567890abcdef\n-----END KEY-----\n"}, "line: [REDACTED]"},
		{"GitHub classic token", "use ghp_0123456789abcdefghijABCDEFGHIJ0123 now", nil, "use [REDACTED] now"},
		{"GitHub server token", "ghs_0123456789abcdefghijABCDEFGHIJ0123", nil, "[REDACTED]"},
		{"GitHub OAuth token", "gho_0123456789abcdefghijABCDEFGHIJ0123", nil, "[REDACTED]"},
		{"GitHub fine-grained token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", nil, "[REDACTED]"},
		{"Anthropic key", "ANTHROPIC_API_KEY=sk-ant-api03-AbCdEf_123-xyz", nil, "ANTHROPIC_API_KEY=[REDACTED]"},
		{"Anthropic OAuth token", `"accessToken":"sk-ant-oat01-abcdefghijkl"`, nil, `"accessToken":"[REDACTED]"`},
		{"OpenAI key", "key sk-proj-abcdefghijklmnopqrstuvwx1234", nil, "key [REDACTED]"},
		{"Bearer header", "Authorization: Bearer abcdefghijklmnop.qrstuvwx", nil, "Authorization: Bearer [REDACTED]"},
		{"Basic header", "authorization: basic YWxpY2U6cGFzc3dvcmQxMjM=", nil, "authorization: basic [REDACTED]"},
		{"GitHub token header", "Authorization: token abcdef0123456789", nil, "Authorization: token [REDACTED]"},
		{"URL with a password", "cloning https://alice:pw@git.example.com/r.git failed", nil, "cloning https://[REDACTED]@git.example.com/r.git failed"},
		{"URL with a token user", "see https://tok123@github.com/o/r", nil, "see https://[REDACTED]@github.com/o/r"},
		{"SSH URL with a bare user is kept", "ssh://git@host/o/r.git", nil, "ssh://git@host/o/r.git"},
		{"scp-like address is kept", "git@github.com:o/r.git", nil, "git@github.com:o/r.git"},
		{"prose is kept", "The bearer of the token task-skip was asked: basic auth failed.", nil, "The bearer of the token task-skip was asked: basic auth failed."},
		{"an email is kept", "mail alice@example.com", nil, "mail alice@example.com"},
		{"empty", "", []string{key}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestError(t *testing.T) {
	if got := Error(nil); got != "" {
		t.Errorf("Error(nil) = %q", got)
	}
	got := Error(errors.New("push to https://u:hunter2-pw@host/r failed"), "hunter2-pw")
	if strings.Contains(got, "hunter2") || !strings.Contains(got, Marker) {
		t.Errorf("Error = %q", got)
	}
}

func FuzzText(f *testing.F) {
	f.Add("https://alice:pw-123456@host/r ghp_0123456789abcdefghijABCDEFGHIJ", "pw-123456")
	f.Fuzz(func(t *testing.T, s, secret string) {
		out := Text(s, secret)
		if len(strings.TrimSpace(secret)) >= MinSecretLen && !strings.Contains(Marker, strings.TrimSpace(secret)) &&
			strings.Contains(out, strings.TrimSpace(secret)) {
			t.Errorf("Text(%q, %q) = %q still holds the secret", s, secret, out)
		}
	})
}
