package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/test/devenv"
	"github.com/boshu2/gastown-operator/test/node"
)

// printer writes one line per event, with the time since the demo began.
// The environment's progress arrives from other goroutines: lines never
// interleave.
type printer struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
}

func newPrinter(out io.Writer) *printer { return &printer{out: out, start: time.Now()} }

func (p *printer) stamp() string {
	d := time.Since(p.start).Round(100 * time.Millisecond)
	return fmt.Sprintf("%7.1fs", d.Seconds())
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format, args...)
}

// step is something the demo does.
func (p *printer) step(format string, args ...any) {
	p.printf("%s  $ %s\n", p.stamp(), fmt.Sprintf(format, args...))
}

// event is something the system did.
func (p *printer) event(format string, args ...any) {
	p.printf("%s  %s\n", p.stamp(), fmt.Sprintf(format, args...))
}

// shownProgress are the environment's log lines worth a line of the demo:
// the work a first run (or a changed tree) does, which takes a while.
var shownProgress = []string{"images: built ", "node: imported ", "node: " + node.Name + " started in "}

// progress is the environment's Logf: it shows the lines of shownProgress,
// without the directories they name, and drops the rest, which the log
// files have.
func (p *printer) progress(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	for _, prefix := range shownProgress {
		if strings.HasPrefix(line, prefix) {
			if i := strings.Index(line, " ("+string(filepath.Separator)); i > 0 {
				line = line[:i]
			}
			p.event("%s", line)
			return
		}
	}
}

func (p *printer) endpoints(env *devenv.Env) {
	p.printf("\n%s\n  kubeconfig                 %s\n  operator log               %s\n  source-controller log      %s\n\n",
		env.Endpoints(), env.Kubeconfig, env.OperatorLog, env.SourceControllerLog)
}

func (p *printer) summary(rows []row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "\nDone in %s.\n\n", time.Since(p.start).Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BEAD\tPHASE\tPOLECAT\tPULL REQUEST\tMERGE COMMIT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.bead, r.phase, r.polecat, r.pr, r.merge)
	}
	tw.Flush()
}

// usage lists what each polecat's agent reported: nothing for the scripted
// agent, which reports none.
func (p *printer) usage(rows []usageRow) {
	if len(rows) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out)
	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POLECAT\tAGENT\tCOST (USD)\tINPUT TOKENS\tOUTPUT TOKENS\tTURNS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", r.polecat, r.agent, r.cost, r.in, r.out, r.turns)
	}
	tw.Flush()
	fmt.Fprintln(p.out, "(the agent's own figures, from Polecat status.result; against the emulator no money is spent)")
}

// pods lists the polecat pods that ran, with each container's exit code
// and run time.
func (p *printer) pods(runs []podRun) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out)
	if len(runs) == 0 {
		fmt.Fprintln(p.out, "No polecat pod was seen.")
		return
	}
	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tNODE\tPHASE\tTIME\tCONTAINERS (EXIT CODE, TIME)")
	for _, r := range runs {
		var cs []string
		for _, c := range r.containers {
			cs = append(cs, c.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.name, r.node, r.phase, seconds(r.duration()), strings.Join(cs, ", "))
	}
	tw.Flush()
}

// explore prints the commands that look at what ran. They work while the
// environment runs, that is with --keep.
func (p *printer) explore(env *devenv.Env, w *watcher, keep bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ns := devenv.WorkersNamespace
	if keep {
		fmt.Fprintf(p.out, "\nEverything still runs. Look at it with:\n  export KUBECONFIG=%s\n", env.Kubeconfig)
		if path := kubectlPath(env); path != "" {
			fmt.Fprintf(p.out, "  export PATH=%s:$PATH\n", path)
		}
	} else {
		fmt.Fprintln(p.out, "\nWith --keep everything stays up, to look at it with:")
	}
	fmt.Fprintf(p.out, "  kubectl get gastown -A\n  kubectl get beads,polecats -n %s\n", ns)
	bead, container := w.sample()
	if bead == "" {
		return
	}
	if w.pods {
		fmt.Fprintf(p.out, "  kubectl get pods -n %s -o wide\n", ns)
		fmt.Fprintf(p.out, "  kubectl logs -n %s polecat-%s -c %s\n", ns, bead, container)
		fmt.Fprintf(p.out, "  kubectl logs -n %s polecat-%s -c git-init\n", ns, bead)
	}
	fmt.Fprintf(p.out, "  kubectl gt polecat logs %s -n %s\n", bead, ns)
}

// kubectlPath is what PATH needs for kubectl and the kubectl gt plugin.
func kubectlPath(env *devenv.Env) string {
	var dirs []string
	if assets, err := testenv.AssetsDir(); err == nil {
		dirs = append(dirs, assets)
	}
	if env.KubectlGTPath != "" {
		dirs = append(dirs, filepath.Dir(env.KubectlGTPath))
	}
	return strings.Join(dirs, ":")
}

// seconds shows a duration the API gives in whole seconds; a negative one
// is not known.
func seconds(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Second:
		return "<1s"
	}
	return d.Round(time.Second).String()
}
