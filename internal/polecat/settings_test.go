package polecat

import (
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// TestResolvePrecedence: each field comes from the polecat's spec, then the
// bead, then the rig, then the defaults.
func TestResolvePrecedence(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(pc *gastownv1.Polecat, bead *gastownv1.Bead, rig *gastownv1.Rig)
		noRig bool
		get   func(Settings) any
		want  any
	}{
		// Agent type.
		{name: "agent from the rig", get: agentOf, want: gastownv1.AgentClaudeCode,
			edit: func(_ *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) {
				rig.Spec.Agent = gastownv1.AgentClaudeCode
			}},
		{name: "agent from the bead", get: agentOf, want: gastownv1.AgentAider,
			edit: func(_ *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) {
				bead.Spec.Agent.Type = gastownv1.AgentAider
			}},
		{name: "agent from the polecat", get: agentOf, want: gastownv1.AgentOpenCode,
			edit: func(pc *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) {
				bead.Spec.Agent.Type = gastownv1.AgentAider
				pc.Spec.Agent = gastownv1.AgentOpenCode
			}},
		{name: "agent defaults to claude-code without a rig", noRig: true, get: agentOf, want: gastownv1.AgentClaudeCode},

		// Agent configuration, field by field.
		{name: "model from the bead over the rig", get: modelOf, want: "claude-opus-4-1"},
		{name: "model from the rig", get: modelOf, want: "claude-sonnet-4-5",
			edit: func(_ *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) { bead.Spec.Agent = nil }},
		{name: "model from the polecat", get: modelOf, want: "claude-haiku-4-5",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.AgentConfig = &gastownv1.AgentConfig{Model: "claude-haiku-4-5"}
			}},
		{name: "max turns from the rig under the bead's model", get: func(s Settings) any { return *s.AgentConfig.MaxTurns }, want: int32(50)},
		{name: "a bead switching the agent drops the rig's config", get: modelOf, want: "",
			edit: func(_ *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) {
				bead.Spec.Agent = &gastownv1.AgentSpec{Type: gastownv1.AgentAider}
			}},
		{name: "env merges by name, the polecat's first",
			get:  func(s Settings) any { return s.AgentConfig.Env },
			want: []corev1.EnvVar{{Name: "A", Value: "polecat"}, {Name: "B", Value: "bead"}, {Name: "C", Value: "rig"}},
			edit: func(pc *gastownv1.Polecat, bead *gastownv1.Bead, rig *gastownv1.Rig) {
				pc.Spec.AgentConfig = &gastownv1.AgentConfig{Env: []corev1.EnvVar{{Name: "A", Value: "polecat"}}}
				bead.Spec.Agent.Env = []corev1.EnvVar{{Name: "A", Value: "bead"}, {Name: "B", Value: "bead"}}
				rig.Spec.AgentConfig.Env = []corev1.EnvVar{{Name: "B", Value: "rig"}, {Name: "C", Value: "rig"}}
			}},

		// Image.
		{name: "image from the rig's kubernetes", get: imageOf, want: "registry.example.com/claude:rig"},
		{name: "image from the rig's agentConfig", get: imageOf, want: "registry.example.com/claude:rig-config",
			edit: func(_ *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) {
				rig.Spec.Kubernetes.Image = ""
				rig.Spec.AgentConfig.Image = "registry.example.com/claude:rig-config"
			}},
		{name: "image from the bead", get: imageOf, want: "registry.example.com/claude:bead",
			edit: func(_ *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) {
				bead.Spec.Agent.Image = "registry.example.com/claude:bead"
			}},
		{name: "image from the polecat's agentConfig", get: imageOf, want: "registry.example.com/claude:pc-config",
			edit: func(pc *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) {
				bead.Spec.Agent.Image = "registry.example.com/claude:bead"
				pc.Spec.AgentConfig = &gastownv1.AgentConfig{Image: "registry.example.com/claude:pc-config"}
			}},
		{name: "image from the polecat's kubernetes", get: imageOf, want: "registry.example.com/claude:pc",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.AgentConfig = &gastownv1.AgentConfig{Image: "registry.example.com/claude:pc-config"}
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{Image: "registry.example.com/claude:pc"}
			}},
		{name: "image default for a switched agent", get: imageOf, want: DefaultAgentImage(gastownv1.AgentAider),
			edit: func(_ *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) {
				bead.Spec.Agent = &gastownv1.AgentSpec{Type: gastownv1.AgentAider}
			}},

		// The bead's ID, as bd writes it, where a person sees it.
		{name: "a bd child ID names the branch", get: workOf, want: "gt/gt-abc.1",
			edit: func(_ *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) { bead.Spec.ID = "gt-abc.1" }},
		{name: "a bd ID is the bead ID of the prompt, commit and close", get: beadIDOf, want: "scout_mcp-6ea scout_mcp-6ea",
			edit: func(_ *gastownv1.Polecat, bead *gastownv1.Bead, _ *gastownv1.Rig) { bead.Spec.ID = "scout_mcp-6ea" }},

		// Git.
		{name: "git URL from the rig's spec", get: gitURLOf, want: "https://github.com/org/demo.git"},
		{name: "git URL from the rig's status", get: gitURLOf, want: "https://github.com/org/derived.git",
			edit: func(_ *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) {
				rig.Status.GitURL = "https://github.com/org/derived.git"
			}},
		{name: "git URL from the polecat", get: gitURLOf, want: "git@github.com:org/mine.git",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) {
				rig.Status.GitURL = "https://github.com/org/derived.git"
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{GitRepository: "git@github.com:org/mine.git"}
			}},
		{name: "base branch from the rig's spec", get: baseOf, want: "develop"},
		{name: "base branch from the rig's status", get: baseOf, want: "trunk",
			edit: func(_ *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) { rig.Status.BaseBranch = "trunk" }},
		{name: "base branch from the polecat", get: baseOf, want: "release",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) {
				rig.Status.BaseBranch = "trunk"
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{GitBranch: "release"}
			}},
		{name: "base branch defaults to main", get: baseOf, want: "main",
			edit: func(_ *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) { rig.Spec.Git.BaseBranch = "" }},
		{name: "work branch from the rig's template", get: workOf, want: "gt/gt-health"},
		{name: "work branch from the default template", get: workOf, want: "polecat/gt-health",
			edit: func(_ *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) { rig.Spec.Git.BranchTemplate = "" }},
		{name: "work branch from the polecat", get: workOf, want: "fix/health-again",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{WorkBranch: "fix/health-again"}
			}},
		{name: "work branch of a bare task names the polecat", get: workOf, want: "gt/task-7",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Name, pc.Spec.BeadID, pc.Spec.TaskDescription = "task-7", "", "Tidy up."
			}},
		{name: "git secret from the rig", get: func(s Settings) any { return s.GitSecret }, want: "git-creds"},
		{name: "git secret from the polecat", get: func(s Settings) any { return s.GitSecret }, want: "mine",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{GitSecretRef: &meta.LocalObjectReference{Name: "mine"}}
			}},
		{name: "API key from the rig, default key", get: func(s Settings) any { return *s.APIKeySecret },
			want: meta.SecretKeyReference{Name: "anthropic", Key: "api-key"}},
		{name: "API key from the polecat", get: func(s Settings) any { return *s.APIKeySecret },
			want: meta.SecretKeyReference{Name: "claude-credentials", Key: "token"},
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{APIKeySecretRef: &meta.SecretKeyReference{Name: "claude-credentials", Key: "token"}}
			}},
		{name: "claude credentials from the rig", get: func(s Settings) any { return s.ClaudeCredentialsSecret }, want: "oauth",
			edit: func(_ *gastownv1.Polecat, _ *gastownv1.Bead, rig *gastownv1.Rig) {
				rig.Spec.Kubernetes.ClaudeCredsSecretRef = &meta.LocalObjectReference{Name: "oauth"}
			}},
		{name: "author from the rig", get: func(s Settings) any { return s.AuthorName + " <" + s.AuthorEmail + ">" },
			want: "Rig Bot <bot@example.com>"},
		{name: "author defaults", noRig: true, get: func(s Settings) any { return s.AuthorName + " <" + s.AuthorEmail + ">" },
			want: "Gas Town Polecat <polecat@gastown.local>"},

		// Pod.
		{name: "deadline from the rig", get: func(s Settings) any { return s.ActiveDeadlineSeconds }, want: int64(7200)},
		{name: "deadline from the polecat", get: func(s Settings) any { return s.ActiveDeadlineSeconds }, want: int64(600),
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{ActiveDeadlineSeconds: ptrTo(int64(600))}
			}},
		{name: "deadline default", noRig: true, get: func(s Settings) any { return s.ActiveDeadlineSeconds }, want: int64(3600)},
		{name: "ttl from the rig", get: func(s Settings) any { return *s.TTLSecondsAfterFinished }, want: int32(600)},
		{name: "ttl from the polecat", get: func(s Settings) any { return *s.TTLSecondsAfterFinished }, want: int32(0),
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.TTLSecondsAfterFinished = ptrTo(int32(0))
			}},
		{name: "ttl unset without a rig", noRig: true, get: func(s Settings) any { return s.TTLSecondsAfterFinished == nil }, want: true},

		// Task.
		{name: "task from the bead", get: func(s Settings) any { return s.Task.Description }, want: "Return 200 and {\"status\":\"ok\"}. Add a test."},
		{name: "task description from the polecat, title from the bead",
			get:  func(s Settings) any { return s.Task.Title + " / " + s.Task.Description },
			want: "Add a /health endpoint / Do it this way.",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.TaskDescription = "Do it this way.\n"
			}},
		{name: "revision takes the review comments", get: func(s Settings) any { return s.Task.ReviewComments + " / " + s.Task.Description },
			want: "- main.go:3: handle the error / Return 200 and {\"status\":\"ok\"}. Add a test.",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Bead, _ *gastownv1.Rig) {
				pc.Spec.Purpose = gastownv1.PurposeRevision
				pc.Spec.TaskDescription = "- main.go:3: handle the error"
			}},
		{name: "bead file from the bead", get: func(s Settings) any { return s.BeadFile }, want: ".gastown/health.yaml"},
		{name: "purpose defaults to Work", get: func(s Settings) any { return s.Purpose }, want: gastownv1.PurposeWork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, bead, rig := beadPolecat(), healthBead(), demoRig()
			if tt.edit != nil {
				tt.edit(pc, bead, rig)
			}
			if tt.noRig {
				rig = nil
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{GitRepository: "git@github.com:org/x.git"}
			}
			s, err := Resolve(pc, bead, rig, Defaults{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.get(s)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveDefaults(t *testing.T) {
	pc := seedPolecat()
	d := Defaults{
		RunnerImage:     runnerImage,
		RunnerPath:      "/bin/runner",
		AgentImages:     map[gastownv1.AgentType]string{gastownv1.AgentClaudeCode: "registry.example.com/claude:flag"},
		ImagePullPolicy: corev1.PullAlways,
		RunAsUser:       1000,
		RunAsGroup:      1001,
		FSGroup:         1002,
		Resources:       resources("3", "3Gi"),
		AuthorName:      "Flag Bot",
		AuthorEmail:     "flag@example.com",
	}
	s, err := Resolve(pc, nil, nil, d)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{s.RunnerImage, s.RunnerPath, s.AgentConfig.Image, s.ImagePullPolicy, *s.RunAsUser, *s.RunAsGroup, *s.FSGroup,
		s.Resources, s.AuthorName, s.AuthorEmail}
	want := []any{runnerImage, "/bin/runner", "registry.example.com/claude:flag", corev1.PullAlways, int64(1000), int64(1001), int64(1002),
		*resources("3", "3Gi"), "Flag Bot", "flag@example.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(pc *gastownv1.Polecat, rig *gastownv1.Rig)
		noBead  bool
		noRig   bool
		wantErr string
	}{
		{
			name:    "no git URL and no rig",
			noRig:   true,
			wantErr: "spec.kubernetes.gitRepository is empty and rig demo does not exist",
		},
		{
			name:    "no git URL on the rig",
			edit:    func(_ *gastownv1.Polecat, rig *gastownv1.Rig) { rig.Spec.GitURL = "" },
			wantErr: "spec.kubernetes.gitRepository is empty and rig demo has no gitURL",
		},
		{
			name: "a token in the polecat's git URL",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Rig) {
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{GitRepository: "https://ghp_polecatToken0123456789@github.com/org/demo.git"}
			},
			wantErr: "spec.kubernetes.gitRepository holds credentials in the user information of its URL (https://github.com/org/demo.git with",
		},
		{
			name: "a password in the rig's status git URL",
			edit: func(_ *gastownv1.Polecat, rig *gastownv1.Rig) {
				rig.Status.GitURL = "https://alice:ghp_rigToken0123456789@github.com/org/demo.git"
			},
			wantErr: "rig demo status.gitURL holds credentials",
		},
		{
			name: "a password in the rig's spec git URL",
			edit: func(_ *gastownv1.Polecat, rig *gastownv1.Rig) {
				rig.Status.GitURL = ""
				rig.Spec.GitURL = "ssh://git:ghp_rigToken0123456789@github.com/org/demo.git"
			},
			wantErr: "rig demo spec.gitURL holds credentials",
		},
		{
			name:    "branch template does not parse",
			edit:    func(_ *gastownv1.Polecat, rig *gastownv1.Rig) { rig.Spec.Git.BranchTemplate = "gt/{{.BeadID" },
			wantErr: `rig demo spec.git.branchTemplate "gt/{{.BeadID"`,
		},
		{
			name:    "branch template names an unknown field",
			edit:    func(_ *gastownv1.Polecat, rig *gastownv1.Rig) { rig.Spec.Git.BranchTemplate = "gt/{{.Bead}}" },
			wantErr: `rig demo spec.git.branchTemplate "gt/{{.Bead}}"`,
		},
		{
			name:    "branch template gives an invalid name",
			edit:    func(_ *gastownv1.Polecat, rig *gastownv1.Rig) { rig.Spec.Git.BranchTemplate = "gt/{{.BeadID}}.." },
			wantErr: `gives "gt/gt-health..", which is not a valid branch name`,
		},
		{
			name: "invalid work branch",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Rig) {
				pc.Spec.Kubernetes = &gastownv1.PolecatKubernetes{WorkBranch: "has space"}
			},
			wantErr: `spec.kubernetes.workBranch gives "has space", which is not a valid branch name`,
		},
		{
			name:    "no task",
			noBead:  true,
			wantErr: "spec.taskDescription is empty and bead gt-health was not found",
		},
		{
			name: "revision without comments",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Rig) {
				pc.Spec.Purpose = gastownv1.PurposeRevision
			},
			wantErr: "purpose Revision needs the review comments in spec.taskDescription",
		},
		{
			name: "custom agent without a command",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Rig) {
				pc.Spec.Agent = gastownv1.AgentCustom
				pc.Spec.AgentConfig = &gastownv1.AgentConfig{Image: "busybox"}
			},
			wantErr: "agent custom needs a command",
		},
		{
			name: "custom agent without an image",
			edit: func(pc *gastownv1.Polecat, _ *gastownv1.Rig) {
				pc.Spec.Agent = gastownv1.AgentCustom
				pc.Spec.AgentConfig = &gastownv1.AgentConfig{Command: []string{"run-agent"}}
			},
			wantErr: "agent custom needs an image",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, bead, rig := beadPolecat(), healthBead(), demoRig()
			if tt.edit != nil {
				tt.edit(pc, rig)
			}
			if tt.noBead {
				bead = nil
			}
			if tt.noRig {
				rig = nil
			}
			_, err := Resolve(pc, bead, rig, Defaults{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "Token0123456789") {
				t.Errorf("the error shows the credentials: %v", err)
			}
		})
	}
}

// TestResolveIgnoresCallerObjects: Resolve copies what it keeps, so that
// the caller's cached objects are never changed through Settings.
func TestResolveIgnoresCallerObjects(t *testing.T) {
	pc, bead, rig := beadPolecat(), healthBead(), demoRig()
	rig.Spec.AgentConfig.Env = []corev1.EnvVar{{Name: "A", Value: "rig"}}
	s, err := Resolve(pc, bead, rig, Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	s.AgentConfig.Env[0].Value = "changed"
	*s.AgentConfig.MaxTurns = 1
	if rig.Spec.AgentConfig.Env[0].Value != "rig" || *rig.Spec.AgentConfig.MaxTurns != 50 {
		t.Error("changing Settings changed the rig")
	}
}

func agentOf(s Settings) any  { return s.Agent }
func modelOf(s Settings) any  { return s.AgentConfig.Model }
func imageOf(s Settings) any  { return s.AgentConfig.Image }
func gitURLOf(s Settings) any { return s.GitURL }
func baseOf(s Settings) any   { return s.BaseBranch }
func workOf(s Settings) any   { return s.WorkBranch }
func beadIDOf(s Settings) any { return s.BeadID + " " + s.Task.BeadID }
