package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
	"github.com/boshu2/gastown-operator/internal/dispatch"
)

func init() {
	subcommands = append(subcommands, newReadyCommand)
}

type readyOptions struct {
	files     beadFileOptions
	workTypes []string
	output    outputOptions
}

func newReadyCommand(root *rootOptions) *cobra.Command {
	opts := &readyOptions{}
	cmd := &cobra.Command{
		Use:   "ready DIR",
		Short: "List the beads that would be dispatched now, like bd ready",
		Long: `Ready reads the bead files in DIR as the operator does and prints the beads
it would dispatch now, in dispatch order (priority, then ID): open beads of a
work type (task, bug, feature, chore unless --work-types says otherwise)
that nothing blocks, by bd's rules (see docs/BEADS.md). Polecats already
running are not known here: the cluster's view is 'kubectl gt bead list'.

Problems in the files go to standard error; the exit code is 1 when one is
an error, as with validate.`,
		Example: `  # What a BeadStore on this repository's bd issues would start
  kubectl gt ready .beads --format beads-jsonl

  # The same as JSON
  kubectl gt ready .beads --format beads-jsonl -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			return opts.run(root.out, root.errOut, args[0])
		},
	}
	opts.files.addFlags(cmd)
	cmd.Flags().StringSliceVar(&opts.workTypes, "work-types", nil,
		"bead types that are dispatched, as the BeadStore's spec.workTypes (default task,bug,feature,chore)")
	opts.output.addFlag(cmd)
	return cmd
}

// readyBead is one line of `kubectl gt ready -o json`.
type readyBead struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Type     string `json:"type"`
	Priority int32  `json:"priority"`
	Status   string `json:"status"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

func (o *readyOptions) run(out, errOut io.Writer, dir string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	var types []gastownv1.BeadType
	for _, t := range o.workTypes {
		types = append(types, gastownv1.BeadType(strings.TrimSpace(t)))
	}
	set, src, err := o.files.load(dir)
	if err != nil {
		return err
	}
	for _, e := range set.Errors {
		fmt.Fprintf(errOut, "%s:%d: %s\n", src.display(e.File), e.Line, e.Message)
	}
	for _, e := range set.Warnings {
		fmt.Fprintf(errOut, "%s:%d: warning: %s\n", src.display(e.File), e.Line, e.Message)
	}
	good, _ := set.Good()
	specs := make([]*gastownv1.BeadSpec, len(good))
	where := map[*gastownv1.BeadSpec]beads.Bead{}
	for i := range good {
		specs[i] = &good[i].Spec
		specs[i].ID = good[i].ID
		where[specs[i]] = *good[i]
	}
	var list []readyBead
	for _, s := range dispatch.Ready(specs, types) {
		b := where[s]
		list = append(list, readyBead{ID: s.ID, Title: s.Title, Type: string(s.Type), Priority: s.PriorityValue(),
			Status: string(s.Status), File: src.display(b.File), Line: b.Line})
	}
	if err := printReady(out, o.output, list); err != nil {
		return err
	}
	if len(set.Errors) > 0 {
		return exitError{code: exitFailed}
	}
	return nil
}

func printReady(out io.Writer, o outputOptions, list []readyBead) error {
	if list == nil {
		list = []readyBead{}
	}
	switch o.format {
	case "json":
		b, err := json.MarshalIndent(list, "", "    ")
		if err != nil {
			return err
		}
		_, err = out.Write(append(b, '\n'))
		return err
	case "yaml":
		b, err := yaml.Marshal(list)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(out, "no beads are ready")
		return err
	}
	t := newTable(out, "ID", "PRIORITY", "TYPE", "TITLE")
	for _, b := range list {
		t.row(b.ID, fmt.Sprint(b.Priority), b.Type, b.Title)
	}
	return t.flush()
}
