package runner

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/gitops"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/redact"
)

// knownSecretEnv are the variables agents read their keys from.
var knownSecretEnv = []string{
	"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
	"OPENAI_API_KEY", polecat.EnvModelAPIKey,
	"GITHUB_TOKEN", "GH_TOKEN",
}

// secretNameParts mark a variable as holding a credential: a custom
// agent's env from secretKeyRefs is named like this by convention.
var secretNameParts = []string{"API_KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE_KEY"}

// secretGitKeys are the keys of the git secret whose values are secret
// (username and known_hosts are not).
var secretGitKeys = []string{gitops.PasswordKey, gitops.TokenKey, gitops.SSHPrivateKeyKey, gitops.SSHPassphraseKey}

// EnvSecrets are the values of the environment's credential variables:
// the agents' key variables, names is the agent's credential check's, and
// every variable whose name says it holds a key, token, secret or
// password.
func EnvSecrets(environ []string, names ...string) []string {
	explicit := map[string]bool{}
	for _, n := range append(append([]string(nil), knownSecretEnv...), names...) {
		explicit[n] = true
	}
	var out []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" || name == polecat.ConfigEnv || name == polecat.EnvTask {
			continue
		}
		if explicit[name] || secretName(name) {
			out = append(out, value)
		}
	}
	return out
}

func secretName(name string) bool {
	upper := strings.ToUpper(name)
	for _, part := range secretNameParts {
		if strings.Contains(upper, part) {
			return true
		}
	}
	return false
}

// secrets are the values the runner was given that no log line or result
// may show: the agent's keys from its environment and the git secret's
// password, token and private key. They are read once.
func (r *Runner) secrets() []string {
	r.secretsOnce.Do(func() {
		var names []string
		if c := r.Config.Agent.Credentials; c != nil {
			names = c.Env
		}
		r.secretValues = EnvSecrets(os.Environ(), names...)
		if dir := r.Config.Git.SecretDir; dir != "" {
			if data, err := gitops.ReadSecretDir(dir); err == nil {
				for _, k := range secretGitKeys {
					if v := data[k]; len(v) > 0 {
						r.secretValues = append(r.secretValues, string(v))
					}
				}
			}
		}
	})
	return r.secretValues
}

// scrub is s without the runner's secrets, token-shaped strings or URL
// credentials.
func (r *Runner) scrub(s string) string { return redact.Text(s, r.secrets()...) }

// scrubResult removes secrets from the result's free text: the message
// (errors may quote URLs or the agent's output) and the agent's summary.
func (r *Runner) scrubResult(res gastownv1.PolecatResult) gastownv1.PolecatResult {
	res.Message = r.scrub(res.Message)
	res.Summary = r.scrub(res.Summary)
	return res
}

// maxLine is the most a redacting writer holds back waiting for a newline.
const maxLine = 64 << 10

// lineRedactor writes its input to w a line at a time, redacted, so that a
// secret the agent prints never reaches the container log. A partial line
// is held until its newline, maxLine bytes, or Close.
type lineRedactor struct {
	mu    sync.Mutex
	w     io.Writer
	scrub func(string) string
	buf   []byte
}

func (l *lineRedactor) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if err := l.emit(l.buf[:i+1]); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) >= maxLine {
		err := l.emit(l.buf)
		l.buf = nil
		return len(p), err
	}
	return len(p), nil
}

// Close writes what is left of a partial line.
func (l *lineRedactor) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) == 0 {
		return nil
	}
	err := l.emit(l.buf)
	l.buf = nil
	return err
}

func (l *lineRedactor) emit(line []byte) error {
	_, err := io.WriteString(l.w, l.scrub(string(line)))
	return err
}
