package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/spf13/cobra"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/beads"
)

func init() {
	subcommands = append(subcommands, newValidateCommand)
}

type validateOptions struct {
	files beadFileOptions
	// rig names the rig whose agent policy the beads are checked against;
	// "" checks them against the default policy, offline.
	rig  string
	kube *kubeOptions
}

// beadFileOptions are the flags of the commands that read bead files.
type beadFileOptions struct {
	format string
	prefix string
}

func (o *beadFileOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "format", string(gastownv1.FormatManifests),
		"format of the bead files: manifests (Bead and Convoy YAML under DIR) or beads-jsonl (DIR/issues.jsonl)")
	cmd.Flags().StringVar(&o.prefix, "prefix", "",
		"prefix every bead ID must start with, such as gt- (the BeadStore's spec.prefix)")
}

// load checks the flags and DIR and reads the bead files as the operator
// does. Any error it returns is a usage error.
func (o *beadFileOptions) load(dir string) (*beads.Set, source, error) {
	format := gastownv1.BeadFormat(o.format)
	if format != gastownv1.FormatManifests && format != gastownv1.FormatBeadsJSONL {
		return nil, source{}, usageError{fmt.Errorf("--format %q: use %s or %s", o.format, gastownv1.FormatManifests, gastownv1.FormatBeadsJSONL)}
	}
	if o.prefix != "" && !prefixRE.MatchString(o.prefix) {
		return nil, source{}, usageError{fmt.Errorf("--prefix %q: use lower case letters and a final '-', such as gt-", o.prefix)}
	}
	if err := checkInput(dir, format); err != nil {
		return nil, source{}, usageError{err}
	}
	src := sourceOf(dir)
	// No size limit of its own on issues.jsonl: the operator's is the
	// artifact's.
	set, err := beads.Load(src.fsys, src.dir, beads.Options{Format: format, Prefix: o.prefix})
	if err != nil {
		return nil, source{}, usageError{err}
	}
	return set, src, nil
}

// prefixRE is the pattern of BeadStore.spec.prefix.
var prefixRE = regexp.MustCompile(`^[a-z]+-$`)

func newValidateCommand(root *rootOptions) *cobra.Command {
	opts := &validateOptions{kube: root.kube}
	cmd := &cobra.Command{
		Use:   "validate DIR",
		Short: "Check bead files as the operator will read them",
		Long: `Validate reads the bead files in DIR (the folder a BeadStore's spec.path points
at, such as .gastown) with the parser the operator uses, and prints every
error as FILE:LINE: message, then every warning as FILE:LINE: warning:
message, then a summary. Warnings (in an issues.jsonl: a duplicated ID, a
dependency on an issue not in the file) stop no bead.

Each bead's spec.agent and spec.resources are checked against a rig's agent
policy, as the operator checks them before dispatch: without --rig against
the default policy (the claude-code agent, nothing else: no image, command,
env var, secret, ConfigMap, model endpoint or resources), offline; with
--rig NAME against that rig's agent settings and spec.agentPolicy, read
from the cluster.

Exit codes: 0 when there are no errors (warnings alone are fine), 1 when a
file has errors, 2 when the command cannot run (wrong flags or arguments,
DIR missing or unreadable).`,
		Example: `  # Check the bead files of the repository you are in
  kubectl gt validate .gastown

  # Check a beads (bd) export whose IDs must start with gt-
  kubectl gt validate .beads --format beads-jsonl --prefix gt-

  # Check the bead files against the agent policy of the rig demo
  kubectl gt validate .gastown --rig demo`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return opts.run(cmd.Context(), root.out, args[0])
		},
	}
	opts.files.addFlags(cmd)
	cmd.Flags().StringVar(&opts.rig, "rig", "",
		"check spec.agent and spec.resources against the agent policy of this rig, read from the cluster (default: the default policy, offline)")
	return cmd
}

func (o *validateOptions) run(ctx context.Context, out io.Writer, dir string) error {
	set, src, err := o.files.load(dir)
	if err != nil {
		return err
	}
	policy, err := o.policy(ctx)
	if err != nil {
		return err
	}
	set.CheckPolicy(policy)
	for _, e := range set.Errors {
		fmt.Fprintf(out, "%s:%d: %s\n", src.display(e.File), e.Line, e.Message)
	}
	for _, e := range set.Warnings {
		fmt.Fprintf(out, "%s:%d: warning: %s\n", src.display(e.File), e.Line, e.Message)
	}
	fmt.Fprintln(out, summary(set))
	if len(set.Errors) > 0 {
		return exitError{code: exitFailed}
	}
	return nil
}

// policy is the agent policy the beads are checked against: the --rig's,
// else the default one.
func (o *validateOptions) policy(ctx context.Context) (beads.Policy, error) {
	if o.rig == "" {
		return beads.DefaultPolicy(), nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := o.kube.client()
	if err != nil {
		return beads.Policy{}, err
	}
	rig, err := getRig(ctx, c, o.rig)
	if err != nil {
		return beads.Policy{}, err
	}
	return beads.PolicyOf(rig), nil
}

// source is the file system Load reads DIR from, and how its paths are shown.
type source struct {
	fsys fs.FS
	dir  string
	// display turns a path Load reports into the path a user types.
	display func(string) string
}

// sourceOf roots the file system at the working directory when DIR is below
// it, so that every path Load reports, messages included, is a path the user
// can type. Other directories are their own root, and paths in messages are
// relative to them.
func sourceOf(dir string) source {
	clean := filepath.Clean(dir)
	if filepath.IsLocal(clean) || clean == "." {
		return source{fsys: os.DirFS("."), dir: filepath.ToSlash(clean), display: filepath.FromSlash}
	}
	return source{
		fsys:    os.DirFS(clean),
		dir:     ".",
		display: func(p string) string { return filepath.Join(clean, filepath.FromSlash(p)) },
	}
}

// checkInput says what is missing in the user's words, before Load would
// in the operator's.
func checkInput(dir string, format gastownv1.BeadFormat) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such directory", dir)
	case err != nil:
		return err
	case !info.IsDir():
		return fmt.Errorf("%s: not a directory", dir)
	}
	if format == gastownv1.FormatBeadsJSONL {
		file := filepath.Join(dir, beads.JSONLFile)
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("%s: no such file: a beads-jsonl folder holds %s", file, beads.JSONLFile)
		}
	}
	return nil
}

// summary is the last line of the output, such as
// "validated 3 beads and 1 convoy in 2 files: 2 errors in 1 file".
func summary(set *beads.Set) string {
	read := fmt.Sprintf("validated %s and %s in %s", count(len(set.Beads), "bead"), count(len(set.Convoys), "convoy"), count(len(set.Files), "file"))
	warnings := ""
	if n := len(set.Warnings); n > 0 {
		warnings = ", " + count(n, "warning")
	}
	if len(set.Errors) == 0 {
		return read + ": no errors" + warnings
	}
	filesWithErrors := map[string]bool{}
	for _, e := range set.Errors {
		filesWithErrors[e.File] = true
	}
	return fmt.Sprintf("%s: %s in %s%s", read, count(len(set.Errors), "error"), count(len(filesWithErrors), "file"), warnings)
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
