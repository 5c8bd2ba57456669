package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/scheme"
)

// none is what a table cell or a status line shows for an empty value.
const none = "-"

// outputOptions is the -o/--output flag of list and status commands.
type outputOptions struct{ format string }

func (o *outputOptions) addFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "", "output format: yaml or json (default: a table or a status summary)")
}

func (o *outputOptions) validate() error {
	switch o.format {
	case "", "yaml", "json":
		return nil
	}
	return usageError{fmt.Errorf("--output %q: use yaml or json", o.format)}
}

// structured says whether the objects are printed as YAML or JSON.
func (o *outputOptions) structured() bool { return o.format != "" }

// print writes obj, a typed object or list, as YAML or JSON, with its kind
// and apiVersion and without managed fields, as kubectl get -o does.
func (o *outputOptions) print(w io.Writer, obj runtime.Object) error {
	obj = obj.DeepCopyObject()
	if err := prepareForPrint(obj); err != nil {
		return err
	}
	if apimeta.IsListType(obj) {
		if err := apimeta.EachListItem(obj, prepareForPrint); err != nil {
			return err
		}
	}
	var (
		b   []byte
		err error
	)
	if o.format == "json" {
		b, err = json.MarshalIndent(obj, "", "    ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(obj)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func prepareForPrint(obj runtime.Object) error {
	gvk, err := apiutil.GVKForObject(obj, scheme.Scheme)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	if m, err := apimeta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return nil
}

// table writes aligned columns, as kubectl get does.
type table struct {
	tw     *tabwriter.Writer
	indent string
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

// indentedTable is a table inside a status block.
func indentedTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)}
	t.indent = "  "
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = none
		}
	}
	fmt.Fprintln(t.tw, t.indent+strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// block writes a status summary: "Key:" and value, aligned.
type block struct {
	tw *tabwriter.Writer
}

func newBlock(w io.Writer) *block {
	return &block{tw: tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)}
}

// field writes a line; an empty value shows as none.
func (b *block) field(key, value string) {
	if value == "" {
		value = none
	}
	fmt.Fprintf(b.tw, "%s:\t%s\n", key, value)
}

// optional writes a line only when value is set.
func (b *block) optional(key, value string) {
	if value != "" {
		b.field(key, value)
	}
}

func (b *block) flush() error { return b.tw.Flush() }

// age is how long ago t was, as kubectl prints it.
func age(t metav1.Time) string {
	if t.IsZero() {
		return none
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// ago is a time for status blocks: "2025-01-02T15:04:05Z (5m ago)"; ""
// for no time.
func ago(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339) + " (" + age(*t) + " ago)"
}

// readyOf is the status and message of an object's Ready condition:
// Unknown and "" when it has none yet.
func readyOf(obj conditions.Getter) (status, message string) {
	c := conditions.Get(obj, meta.ReadyCondition)
	if c == nil {
		return string(metav1.ConditionUnknown), ""
	}
	return string(c.Status), c.Message
}

// stateMessage is what a status block says next to a phase: the Stalled
// condition's message when the object is stalled, else the Ready one's.
func stateMessage(obj conditions.Getter) string {
	if conditions.IsStalled(obj) {
		return "stalled: " + conditions.GetMessage(obj, meta.StalledCondition)
	}
	return conditions.GetMessage(obj, meta.ReadyCondition)
}

// phaseLine is the Phase line of a status block: the phase, or unset when
// the operator has set none yet, then stateMessage.
func phaseLine(phase, unset string, obj conditions.Getter) string {
	if phase == "" {
		phase = unset
	}
	if msg := stateMessage(obj); msg != "" {
		phase += ": " + msg
	}
	return phase
}

// printConditions writes an object's conditions as an indented table.
func printConditions(w io.Writer, conds []metav1.Condition) error {
	if len(conds) == 0 {
		fmt.Fprintln(w, "Conditions:  none yet: the operator has not reconciled this object")
		return nil
	}
	fmt.Fprintln(w, "Conditions:")
	t := indentedTable(w, "TYPE", "STATUS", "REASON", "MESSAGE")
	for _, c := range conds {
		t.row(c.Type, string(c.Status), c.Reason, c.Message)
	}
	return t.flush()
}

// prLink is how a bead's pull request shows in a table: its URL, else its
// number, else its branch (the git provider opens none).
func prLink(pr *gastownv1.PullRequestStatus) string {
	switch {
	case pr == nil:
		return ""
	case pr.URL != "":
		return pr.URL
	case pr.Number > 0:
		return fmt.Sprintf("#%d", pr.Number)
	default:
		return pr.HeadBranch
	}
}

// shortSHA shortens a commit SHA for display.
func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// plural is "1 bead" or "2 beads", "1 conflict fix" or "2 conflict fixes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "x") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// nothingFound tells the user that a list is empty, on stderr as kubectl
// does, so that stdout stays a table.
func nothingFound(w io.Writer, what, namespace string, all bool) {
	if all {
		fmt.Fprintf(w, "No %s found.\n", what)
		return
	}
	fmt.Fprintf(w, "No %s found in namespace %s.\n", what, namespace)
}
