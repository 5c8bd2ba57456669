package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

func init() {
	subcommands = append(subcommands, newSlingCommand)
}

// createdByLabel marks the polecats kubectl gt sling creates.
const createdByLabel = "app.kubernetes.io/created-by"

// maxSlingNames bounds the <bead>-sling-<n> names tried.
const maxSlingNames = 100

// maxTaskNameLength keeps a task polecat's name within a bead ID's length,
// so that its pod name and labels fit.
const maxTaskNameLength = 50

type slingOptions struct {
	mode  string
	agent string
	task  string
	name  string
}

func newSlingCommand(root *rootOptions) *cobra.Command {
	opts := &slingOptions{}
	cmd := &cobra.Command{
		Use:   "sling (BEAD RIG | --task TEXT RIG)",
		Short: "Start a polecat now, for a bead or for a bare task",
		Long: `Sling starts a polecat in the rig's workers namespace without waiting for the
rig's dispatcher: for an existing bead (whatever its dependencies, the rig's
limits or a retry backoff say), or with --task for a task that has no bead.

A bead's polecat is named after the bead, so that its pod is polecat-BEAD; when
that name is taken by an earlier run, it is named BEAD-sling-N. It counts as an
attempt of the bead, and its pushed branch goes to the rig's Refinery as a
dispatched polecat's would. Sling refuses a bead that is closed, merged, in
review or rejected, or that has a polecat running.

A task polecat is named --name, or task-XXXXX; its work is pushed to its own
branch and no pull request is opened for it.`,
		Example: `  # Work on bead issue-123 now, as a pod
  kubectl gt sling issue-123 my-project --mode kubernetes

  # Try another agent on it
  kubectl gt sling issue-123 my-project --agent opencode

  # A bare task, without a bead
  kubectl gt sling --task "Update the README's install section" my-project --name readme-install`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.task == "" && len(args) != 2:
				return usageError{fmt.Errorf("sling takes BEAD and RIG, or --task TEXT and RIG; got %d arguments", len(args))}
			case opts.task != "" && len(args) != 1:
				return usageError{fmt.Errorf("with --task, sling takes only RIG; got %d arguments", len(args))}
			case opts.task == "" && cmd.Flags().Changed("task"):
				return usageError{errors.New("--task is empty: say what the polecat should do")}
			case opts.task == "" && opts.name != "":
				return usageError{errors.New("--name is for --task: a bead's polecat is named after the bead")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if opts.task != "" {
				return opts.slingTask(cmd.Context(), root, args[0])
			}
			return opts.slingBead(cmd.Context(), root, args[0], args[1])
		},
	}
	cmd.Flags().StringVar(&opts.mode, "mode", "", "where the polecat runs: kubernetes (a pod) or local (a process of the operator); default: the rig's")
	cmd.Flags().StringVar(&opts.agent, "agent", "", "agent to run: claude-code, opencode, aider or custom; default: the bead's, then the rig's")
	cmd.Flags().StringVar(&opts.task, "task", "", "a task for a polecat without a bead")
	cmd.Flags().StringVar(&opts.name, "name", "", "name of the --task polecat (default task-XXXXX)")
	return cmd
}

func (o *slingOptions) validate() error {
	switch gastownv1.ExecutionMode(o.mode) {
	case "", gastownv1.ExecutionModeKubernetes, gastownv1.ExecutionModeLocal:
	default:
		return usageError{fmt.Errorf("--mode %q: use kubernetes or local", o.mode)}
	}
	switch gastownv1.AgentType(o.agent) {
	case "", gastownv1.AgentClaudeCode, gastownv1.AgentOpenCode, gastownv1.AgentAider, gastownv1.AgentCustom:
	default:
		return usageError{fmt.Errorf("--agent %q: use claude-code, opencode, aider or custom", o.agent)}
	}
	if o.name != "" {
		if errs := validation.IsDNS1123Label(o.name); len(errs) > 0 {
			return usageError{fmt.Errorf("--name %q: %s", o.name, strings.Join(errs, "; "))}
		}
		if len(o.name) > maxTaskNameLength {
			return usageError{fmt.Errorf("--name %q: at most %d characters", o.name, maxTaskNameLength)}
		}
	}
	return nil
}

// rigNamespace reads the rig and returns its workers namespace, where its
// polecats must run; -n may only repeat it.
func rigNamespace(ctx context.Context, root *rootOptions, c client.Client, rigName string) (*gastownv1.Rig, string, error) {
	rig, err := getRig(ctx, c, rigName)
	if err != nil {
		return nil, "", err
	}
	ns := rig.WorkersNamespace()
	if flag := root.kube.namespaceFlag(); flag != "" && flag != ns {
		return nil, "", usageError{fmt.Errorf("--namespace %s: rig %s runs its polecats in its workers namespace %s", flag, rig.Name, ns)}
	}
	return rig, ns, nil
}

func (o *slingOptions) slingBead(ctx context.Context, root *rootOptions, beadName, rigName string) error {
	c, err := root.kube.client()
	if err != nil {
		return err
	}
	rig, ns, err := rigNamespace(ctx, root, c, rigName)
	if err != nil {
		return err
	}
	bead := &gastownv1.Bead{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: gastownv1.BeadObjectName(beadName)}, bead); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("bead %q not found in namespace %s, the workers namespace of rig %s: list the rig's beads with 'kubectl gt bead list --rig %s'",
				beadName, ns, rig.Name, rig.Name)
		}
		return apiError(err)
	}
	if err := slingable(bead, rig); err != nil {
		return err
	}
	polecats := &gastownv1.PolecatList{}
	if err := c.List(ctx, polecats, client.InNamespace(ns)); err != nil {
		return apiError(err)
	}
	for i := range polecats.Items {
		if pc := &polecats.Items[i]; pc.Spec.BeadID == bead.Name && dispatch.IsLive(pc) {
			return liveError(bead, pc)
		}
	}

	pc := o.newPolecat(rig, ns)
	pc.Labels[gastownv1.BeadLabel] = bead.BeadID()
	// The annotations of a dispatched polecat: the run counts as an attempt
	// of the bead's current spec (the Bead controller reads its dispatch
	// record from them), so that its branch goes to the Refinery and the
	// dispatcher names its next run after it.
	pc.Annotations = map[string]string{
		dispatch.SpecHashAnnotation: bead.Spec.Hash(),
		dispatch.RetryAnnotation:    bead.Annotations[gastownv1.RetryAnnotation],
	}
	pc.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(bead, gastownv1.GroupVersion.WithKind(gastownv1.BeadKind))}
	pc.Spec.BeadID = bead.Name

	for n := 0; n <= maxSlingNames; n++ {
		pc.Name = bead.Name
		if n > 0 {
			pc.Name = fmt.Sprintf("%s-sling-%d", bead.Name, n)
		}
		pc.Labels[gastownv1.PolecatLabel] = pc.Name
		err := c.Create(ctx, pc)
		if err == nil {
			if err := o.printCreated(root.out, rig, pc, "bead "+bead.Name); err != nil {
				return err
			}
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating polecat %s/%s for bead %s: %w", ns, pc.Name, bead.Name, apiError(err))
		}
		// The name is taken. By the dispatcher, just now? Then the bead
		// has its polecat.
		existing := &gastownv1.Polecat{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: pc.Name}, existing); err == nil &&
			existing.Spec.BeadID == bead.Name && dispatch.IsLive(existing) {
			return liveError(bead, existing)
		}
	}
	return fmt.Errorf("bead %s has polecats %s to %s-sling-%d already: delete finished ones ('kubectl gt polecat list --rig %s') and try again",
		bead.Name, bead.Name, bead.Name, maxSlingNames, rig.Name)
}

// slingable refuses beads whose work is done or under way elsewhere.
func slingable(bead *gastownv1.Bead, rig *gastownv1.Rig) error {
	if bead.Spec.RigRef != "" && bead.Spec.RigRef != rig.Name {
		return fmt.Errorf("bead %s belongs to rig %s, not %s: sling it with 'kubectl gt sling %s %s'",
			bead.Name, bead.Spec.RigRef, rig.Name, bead.Name, bead.Spec.RigRef)
	}
	ref := bead.Namespace + "/" + bead.Name
	switch {
	case bead.Spec.Status == gastownv1.BeadClosed || bead.Status.Phase == gastownv1.BeadPhaseClosed:
		return fmt.Errorf("bead %s is closed in git: there is nothing to do; to work on it again, set its status to open in %s and commit",
			ref, orDefault(bead.Spec.SourcePath, "its bead file"))
	case bead.Status.Phase == gastownv1.BeadPhaseMerged:
		return fmt.Errorf("bead %s is done: its pull request %s merged, and the source will show it closed", ref, prLink(bead.Status.PullRequest))
	case bead.Status.PullRequest != nil && bead.Status.PullRequest.State == gastownv1.PullRequestOpen:
		return fmt.Errorf("bead %s is in review: pull request %s is open; review it there, or close it to work on the bead again",
			ref, prLink(bead.Status.PullRequest))
	case bead.Status.Phase == gastownv1.BeadPhaseRejected,
		bead.Status.Phase == gastownv1.BeadPhaseFailed && bead.Status.PullRequest != nil && bead.Status.PullRequest.Failure != "":
		// The phase holds until the bead changes: a new run would end the same way.
		return fmt.Errorf("bead %s is %s (%s) until it changes: edit it in git, or ask the rig to dispatch it again with "+
			"'kubectl annotate bead %s -n %s %s=\"$(date +%%s)\" --overwrite'",
			ref, bead.Status.Phase, stateMessage(bead), bead.Name, bead.Namespace, gastownv1.RetryAnnotation)
	}
	// The operator would fail the polecat before its pod: say so now.
	if errs := beads.PolicyOf(rig).Check(&bead.Spec); len(errs) > 0 {
		return fmt.Errorf("bead %s asks for what the agent policy of rig %s does not allow: %s; edit the bead in git, or ask the rig's admin to allow it in spec.agentPolicy",
			ref, rig.Name, beads.Messages(errs))
	}
	return nil
}

func liveError(bead *gastownv1.Bead, pc *gastownv1.Polecat) error {
	phase := string(pc.Status.Phase)
	if phase == "" {
		phase = "starting"
	}
	return fmt.Errorf("bead %s/%s already has a live polecat, %s (%s): follow it with 'kubectl gt polecat logs %s -n %s -f', or stop it first (spec.desiredState: Terminated)",
		bead.Namespace, bead.Name, pc.Name, phase, pc.Name, pc.Namespace)
}

func (o *slingOptions) slingTask(ctx context.Context, root *rootOptions, rigName string) error {
	c, err := root.kube.client()
	if err != nil {
		return err
	}
	rig, ns, err := rigNamespace(ctx, root, c, rigName)
	if err != nil {
		return err
	}
	name := o.name
	if name == "" {
		name = "task-" + rand.String(5)
	}
	err = c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &gastownv1.Bead{})
	switch {
	case err == nil:
		return fmt.Errorf("a bead named %s exists in namespace %s: choose another --name, or sling the bead with 'kubectl gt sling %s %s'",
			name, ns, name, rig.Name)
	case !apierrors.IsNotFound(err):
		return apiError(err)
	}
	pc := o.newPolecat(rig, ns)
	pc.Name = name
	pc.Labels[gastownv1.PolecatLabel] = name
	pc.Spec.BeadID = name
	pc.Spec.TaskDescription = o.task
	if err := c.Create(ctx, pc); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("polecat %s already exists in namespace %s: choose another --name", name, ns)
		}
		return fmt.Errorf("creating polecat %s/%s: %w", ns, name, apiError(err))
	}
	return o.printCreated(root.out, rig, pc, "a task")
}

// newPolecat is a polecat of the rig with the flags' mode and agent.
func (o *slingOptions) newPolecat(rig *gastownv1.Rig, ns string) *gastownv1.Polecat {
	mode := gastownv1.ExecutionMode(o.mode)
	if mode == "" {
		mode = rig.Spec.Settings.ExecutionMode
	}
	return &gastownv1.Polecat{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns,
			Labels: map[string]string{
				gastownv1.RigLabel: rig.Name,
				createdByLabel:     "kubectl-gt",
			},
		},
		Spec: gastownv1.PolecatSpec{
			Rig:           rig.Name,
			DesiredState:  gastownv1.DesiredWorking,
			ExecutionMode: mode,
			Agent:         gastownv1.AgentType(o.agent),
			Purpose:       gastownv1.PurposeWork,
		},
	}
}

func (o *slingOptions) printCreated(w io.Writer, rig *gastownv1.Rig, pc *gastownv1.Polecat, what string) error {
	how := string(executionMode(pc))
	if pc.Spec.Agent != "" {
		how += ", agent " + string(pc.Spec.Agent)
	}
	fmt.Fprintf(w, "polecat %s/%s created for %s (rig %s, %s)\n", pc.Namespace, pc.Name, what, rig.Name, how)
	if rig.Spec.Suspend {
		fmt.Fprintf(w, "note: rig %s is suspended; it dispatches nothing new, but this polecat runs\n", rig.Name)
	}
	fmt.Fprintln(w, "watch it with:")
	fmt.Fprintf(w, "  kubectl gt polecat logs %s -n %s -f\n", pc.Name, pc.Namespace)
	if executionMode(pc) == gastownv1.ExecutionModeKubernetes {
		fmt.Fprintf(w, "  kubectl logs -f %s -n %s\n", pc.PodName(), pc.Namespace)
	}
	fmt.Fprintf(w, "  kubectl get polecat %s -n %s -w\n", pc.Name, pc.Namespace)
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
