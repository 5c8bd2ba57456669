package main

import (
	"context"
	"regexp"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

func getPolecat(t *testing.T, ns, name string) *gastownv1.Polecat {
	t.Helper()
	pc := &gastownv1.Polecat{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pc); err != nil {
		t.Fatalf("polecat %s/%s: %v", ns, name, err)
	}
	return pc
}

func TestSlingBead(t *testing.T) {
	seedRig(t, "sling")
	bead := &gastownv1.Bead{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: "sling", Name: "gt-docs"}, bead); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := gt("sling", "gt-docs", "sling")
	want := `polecat sling/gt-docs created for bead gt-docs (rig sling, kubernetes)
watch it with:
  kubectl gt polecat logs gt-docs -n sling -f
  kubectl logs -f polecat-gt-docs -n sling
  kubectl get polecat gt-docs -n sling -w
`
	if code != exitOK || errOut != "" {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	pc := getPolecat(t, "sling", "gt-docs")
	wantSpec := gastownv1.PolecatSpec{
		Rig:           "sling",
		BeadID:        "gt-docs",
		DesiredState:  gastownv1.DesiredWorking,
		ExecutionMode: gastownv1.ExecutionModeKubernetes,
		Purpose:       gastownv1.PurposeWork,
	}
	if diff := cmp.Diff(wantSpec, pc.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if pc.Annotations[dispatch.SpecHashAnnotation] != bead.Spec.Hash() {
		t.Errorf("annotation %s = %q, want the bead's spec hash %q", dispatch.SpecHashAnnotation, pc.Annotations[dispatch.SpecHashAnnotation], bead.Spec.Hash())
	}
	if pc.Labels[gastownv1.RigLabel] != "sling" || pc.Labels[gastownv1.BeadLabel] != "gt-docs" || pc.Labels[gastownv1.PolecatLabel] != "gt-docs" {
		t.Errorf("labels = %v", pc.Labels)
	}
	if owner := metav1ControllerOf(pc); owner != "Bead/gt-docs" {
		t.Errorf("controller = %q, want the bead", owner)
	}

	checkDispatch(t, "sling", "gt-docs", 1, 1)

	// The polecat runs: a second sling is refused.
	code, out, errOut = gt("sling", "gt-docs", "sling")
	wantErr := "Error: bead sling/gt-docs already has a live polecat, gt-docs (starting): follow it with " +
		"'kubectl gt polecat logs gt-docs -n sling -f', or stop it first (spec.desiredState: Terminated)\n"
	if code != exitFailed || out != "" || errOut != wantErr {
		t.Errorf("sling of a bead with a live polecat: exit code %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, wantErr)
	}

	// It failed: sling again, in local mode with another agent, under the next free name.
	pc.Status.Phase = gastownv1.PolecatPhaseFailed
	if err := env.Client.Status().Update(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = gt("sling", "gt-docs", "sling", "--mode", "local", "--agent", "aider")
	want = `polecat sling/gt-docs-sling-1 created for bead gt-docs (rig sling, local, agent aider)
watch it with:
  kubectl gt polecat logs gt-docs-sling-1 -n sling -f
  kubectl get polecat gt-docs-sling-1 -n sling -w
`
	if code != exitOK || errOut != "" {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	checkDispatch(t, "sling", "gt-docs", 2, 2)
	again := getPolecat(t, "sling", "gt-docs-sling-1")
	if again.Spec.ExecutionMode != gastownv1.ExecutionModeLocal || again.Spec.Agent != gastownv1.AgentAider || again.Spec.BeadID != "gt-docs" {
		t.Errorf("spec = %+v", again.Spec)
	}
}

// checkDispatch checks the dispatch record the Bead controller reads from
// the bead's polecats: sling's polecats count as dispatched runs.
func checkDispatch(t *testing.T, ns, name string, attempts, runs int32) {
	t.Helper()
	bead := &gastownv1.Bead{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, bead); err != nil {
		t.Fatal(err)
	}
	polecats := &gastownv1.PolecatList{}
	if err := env.Client.List(context.Background(), polecats, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var own []gastownv1.Polecat
	for _, pc := range polecats.Items {
		if pc.Spec.BeadID == name {
			own = append(own, pc)
		}
	}
	d := dispatch.Record(bead, own)
	if d == nil || d.SpecHash != bead.Spec.Hash() || d.Attempts != attempts || d.Runs != runs || d.LastDispatchTime == nil {
		t.Errorf("dispatch record of bead %s = %+v, want attempt %d, run %d of its spec hash %s", name, d, attempts, runs, bead.Spec.Hash())
	}
}

func metav1ControllerOf(o client.Object) string {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return ref.Kind + "/" + ref.Name
		}
	}
	return ""
}

func TestSlingRefusals(t *testing.T) {
	seedRig(t, "refuse")
	other := &gastownv1.Bead{}
	other.Name, other.Namespace, other.Spec.Title, other.Spec.RigRef = "gt-other", "refuse", "Other", "elsewhere"
	create(t, other, nil)
	rejected := &gastownv1.Bead{}
	rejected.Name, rejected.Namespace, rejected.Spec.Title, rejected.Spec.RigRef = "gt-nope", "refuse", "Rejected", "refuse"
	create(t, rejected, func() {
		rejected.Status.Phase = gastownv1.BeadPhaseRejected
		rejected.Status.PullRequest = &gastownv1.PullRequestStatus{Number: 9, State: gastownv1.PullRequestClosed}
		conditions.MarkFalse(rejected, meta.ReadyCondition, gastownv1.PullRequestClosedReason, "pull request #9 was closed unmerged")
	})

	hostile := &gastownv1.Bead{}
	hostile.Name, hostile.Namespace, hostile.Spec.Title, hostile.Spec.RigRef = "gt-evil", "refuse", "Evil", "refuse"
	hostile.Spec.Agent = &gastownv1.AgentSpec{AgentConfig: gastownv1.AgentConfig{Image: "evil:latest"}}
	create(t, hostile, nil)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"a bead the rig's agent policy refuses", []string{"sling", "gt-evil", "refuse"}, exitFailed,
			"Error: bead refuse/gt-evil asks for what the agent policy of rig refuse does not allow: spec.agent.image: a bead may not choose an image (\"evil:latest\"); " +
				"the rig \"refuse\" allows none (an admin lists images in the rig's spec.agentPolicy.images); edit the bead in git, or ask the rig's admin to allow it in spec.agentPolicy\n"},
		{"closed bead", []string{"sling", "gt-init", "refuse"}, exitFailed,
			"Error: bead refuse/gt-init is closed in git: there is nothing to do; to work on it again, set its status to open in .gastown/gt-init.yaml and commit\n"},
		{"live polecat", []string{"sling", "gt-api", "refuse"}, exitFailed,
			"Error: bead refuse/gt-api already has a live polecat, gt-api (Working): follow it with 'kubectl gt polecat logs gt-api -n refuse -f', or stop it first (spec.desiredState: Terminated)\n"},
		{"in review", []string{"sling", "gt-db", "refuse"}, exitFailed,
			"Error: bead refuse/gt-db is in review: pull request https://github.com/acme/app/pull/7 is open; review it there, or close it to work on the bead again\n"},
		{"rejected", []string{"sling", "gt-nope", "refuse"}, exitFailed,
			"Error: bead refuse/gt-nope is Rejected (pull request #9 was closed unmerged) until it changes: edit it in git, or ask the rig to dispatch it again with " +
				"'kubectl annotate bead gt-nope -n refuse gastown.gastown.io/retry=\"$(date +%s)\" --overwrite'\n"},
		{"another rig's bead", []string{"sling", "gt-other", "refuse"}, exitFailed,
			"Error: bead gt-other belongs to rig elsewhere, not refuse: sling it with 'kubectl gt sling gt-other elsewhere'\n"},
		{"no bead", []string{"sling", "gt-x", "refuse"}, exitFailed,
			"Error: bead \"gt-x\" not found in namespace refuse, the workers namespace of rig refuse: list the rig's beads with 'kubectl gt bead list --rig refuse'\n"},
		{"no rig", []string{"sling", "gt-docs", "nope"}, exitFailed,
			"Error: rig \"nope\" not found: list the rigs with 'kubectl gt rig list'\n"},
		{"another namespace", []string{"sling", "gt-docs", "refuse", "-n", "default"}, exitUsage,
			"Error: --namespace default: rig refuse runs its polecats in its workers namespace refuse\nRun 'kubectl gt sling --help' for usage.\n"},
		{"bad mode", []string{"sling", "gt-docs", "refuse", "--mode", "docker"}, exitUsage,
			"Error: --mode \"docker\": use kubernetes or local\nRun 'kubectl gt sling --help' for usage.\n"},
		{"bad agent", []string{"sling", "gt-docs", "refuse", "--agent", "gpt"}, exitUsage,
			"Error: --agent \"gpt\": use claude-code, opencode, aider or custom\nRun 'kubectl gt sling --help' for usage.\n"},
		{"no rig argument", []string{"sling", "gt-docs"}, exitUsage,
			"Error: sling takes BEAD and RIG, or --task TEXT and RIG; got 1 arguments\nRun 'kubectl gt sling --help' for usage.\n"},
		{"task and bead", []string{"sling", "gt-docs", "refuse", "--task", "x"}, exitUsage,
			"Error: with --task, sling takes only RIG; got 2 arguments\nRun 'kubectl gt sling --help' for usage.\n"},
		{"name without task", []string{"sling", "gt-docs", "refuse", "--name", "x"}, exitUsage,
			"Error: --name is for --task: a bead's polecat is named after the bead\nRun 'kubectl gt sling --help' for usage.\n"},
		{"task named after a bead", []string{"sling", "--task", "x", "refuse", "--name", "gt-docs"}, exitFailed,
			"Error: a bead named gt-docs exists in namespace refuse: choose another --name, or sling the bead with 'kubectl gt sling gt-docs refuse'\n"},
		{"bad task name", []string{"sling", "--task", "x", "refuse", "--name", "Fix_It"}, exitUsage,
			"Error: --name \"Fix_It\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')\nRun 'kubectl gt sling --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gt(tt.args...)
			if code != tt.wantCode || out != "" {
				t.Errorf("exit code %d, stdout %q; want %d and nothing", code, out, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantErr, errOut); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
	list := &gastownv1.PolecatList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace("refuse")); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Errorf("%d polecats in the namespace, want the 2 of the fixture: a refused sling created one", len(list.Items))
	}
}

func TestSlingTask(t *testing.T) {
	namespace(t, "tasks")
	newRig(t, "tasks", nil)

	code, out, errOut := gt("sling", "--task", "Update the README", "tasks", "--name", "readme")
	want := `polecat tasks/readme created for a task (rig tasks, kubernetes)
watch it with:
  kubectl gt polecat logs readme -n tasks -f
  kubectl logs -f polecat-readme -n tasks
  kubectl get polecat readme -n tasks -w
`
	if code != exitOK || errOut != "" {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	pc := getPolecat(t, "tasks", "readme")
	wantSpec := gastownv1.PolecatSpec{
		Rig:             "tasks",
		BeadID:          "readme",
		DesiredState:    gastownv1.DesiredWorking,
		ExecutionMode:   gastownv1.ExecutionModeKubernetes,
		Purpose:         gastownv1.PurposeWork,
		TaskDescription: "Update the README",
	}
	if diff := cmp.Diff(wantSpec, pc.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if len(pc.Annotations) != 0 || len(pc.OwnerReferences) != 0 {
		t.Errorf("a task polecat has annotations %v and owners %v, want none", pc.Annotations, pc.OwnerReferences)
	}

	code, _, errOut = gt("sling", "--task", "Again", "tasks", "--name", "readme")
	if wantErr := "Error: polecat readme already exists in namespace tasks: choose another --name\n"; code != exitFailed || errOut != wantErr {
		t.Errorf("exit code %d, stderr %q; want %q", code, errOut, wantErr)
	}

	// Without --name, the polecat gets one.
	code, out, errOut = gt("sling", "--task", "Fix the typos", "tasks", "--mode", "local")
	m := regexp.MustCompile(`^polecat tasks/(task-[a-z0-9]{5}) created for a task \(rig tasks, local\)\n`).FindStringSubmatch(out)
	if code != exitOK || m == nil {
		t.Fatalf("exit code %d, stderr %q, output:\n%s", code, errOut, out)
	}
	if pc := getPolecat(t, "tasks", m[1]); pc.Spec.BeadID != m[1] || pc.Spec.TaskDescription != "Fix the typos" {
		t.Errorf("spec = %+v", pc.Spec)
	}
}
