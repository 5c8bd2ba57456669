package polecat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

func fakeSecrets(secrets map[string]map[string][]byte) SecretReader {
	return func(name string) (map[string][]byte, error) {
		data, ok := secrets[name]
		if !ok {
			return nil, errors.New("not found")
		}
		return data, nil
	}
}

// TestPrepareLocalSeedOAuth: the seed's polecat with the OAuth variant of
// claude-credentials, run locally.
func TestPrepareLocalSeedOAuth(t *testing.T) {
	s, err := Resolve(seedPolecat(), nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secrets := fakeSecrets(map[string]map[string][]byte{
		"git-credentials":    {"ssh-privatekey": []byte("KEY")},
		"claude-credentials": {".credentials.json": []byte(`{"claudeAiOauth":{}}`)},
	})
	p, err := PrepareLocal(s, "/usr/local/bin/gastown-polecat", dir, secrets)
	if err != nil {
		t.Fatal(err)
	}

	wantArgs := []string{"/usr/local/bin/gastown-polecat", "local", "--workdir", dir, "--termination-log", filepath.Join(dir, "result.json")}
	if diff := cmp.Diff(wantArgs, p.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	env := envMap(p.Env)
	if env["HOME"] != filepath.Join(dir, "home") || env["TMPDIR"] != filepath.Join(dir, "tmp") {
		t.Errorf("HOME %q TMPDIR %q", env["HOME"], env["TMPDIR"])
	}
	if _, ok := env["ANTHROPIC_API_KEY"]; ok {
		t.Error("ANTHROPIC_API_KEY is set though the secret has no api-key")
	}
	cfg, err := DecodeRunnerConfig(env[ConfigEnv])
	if err != nil {
		t.Fatal(err)
	}
	gitDir := filepath.Join(dir, "secrets", "git")
	if cfg.Git.SecretDir != gitDir {
		t.Errorf("git secret dir = %s", cfg.Git.SecretDir)
	}
	assertFile(t, filepath.Join(gitDir, "ssh-privatekey"), "KEY")
	creds := filepath.Join(dir, "secrets", "claude-credentials", ".credentials.json")
	assertFile(t, creds, `{"claudeAiOauth":{}}`)
	if diff := cmp.Diff([]FileCopy{{From: creds, To: ".claude/.credentials.json"}}, cfg.Agent.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if cfg.Agent.Credentials.File != creds {
		t.Errorf("credential check file = %s", cfg.Agent.Credentials.File)
	}
}

func TestPrepareLocalEnv(t *testing.T) {
	t.Setenv("GASTOWN_TEST_OPERATOR_SECRET", "operator-only")
	pc := seedPolecat()
	pc.Spec.Kubernetes.GitSecretRef = nil
	pc.Spec.AgentConfig = &gastownv1.AgentConfig{Env: []corev1.EnvVar{
		{Name: "PLAIN", Value: "v"},
		{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "tokens"}, Key: "t"}}},
	}}
	s, err := Resolve(pc, nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		secrets map[string]map[string][]byte
		want    map[string]string
		wantErr string
	}{
		{
			name: "keys resolved",
			secrets: map[string]map[string][]byte{
				"tokens":             {"t": []byte("t0k")},
				"claude-credentials": {"api-key": []byte("sk-1")},
			},
			want: map[string]string{"PLAIN": "v", "TOKEN": "t0k", "ANTHROPIC_API_KEY": "sk-1"},
		},
		{
			name:    "required key missing",
			secrets: map[string]map[string][]byte{"tokens": {}},
			wantErr: "env TOKEN: secret tokens has no key t",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PrepareLocal(s, "runner", t.TempDir(), fakeSecrets(tt.secrets))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			env := envMap(p.Env)
			for k, v := range tt.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			if _, ok := env["GASTOWN_TEST_OPERATOR_SECRET"]; ok {
				t.Error("the operator's environment leaks into the local run")
			}
		})
	}
}

func TestPrepareLocalRefusesConfigMaps(t *testing.T) {
	pc := seedPolecat()
	pc.Spec.AgentConfig = &gastownv1.AgentConfig{ConfigMapRef: &meta.LocalObjectReference{Name: "settings"}}
	s, err := Resolve(pc, nil, nil, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = PrepareLocal(s, "runner", t.TempDir(), fakeSecrets(map[string]map[string][]byte{"git-credentials": {}}))
	if err == nil || !strings.Contains(err.Error(), "cannot be used in executionMode local") {
		t.Errorf("error = %v", err)
	}
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			panic("duplicate env " + k)
		}
		m[k] = v
	}
	return m
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s = %q, want %q", path, b, want)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s mode = %v, want 0600", path, info.Mode().Perm())
	}
}
