package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/boshu2/gastown-operator/test/devenv"
)

// printer writes one line per event, with the time since the demo began.
type printer struct {
	out   io.Writer
	start time.Time
}

func newPrinter(out io.Writer) *printer { return &printer{out: out, start: time.Now()} }

func (p *printer) stamp() string {
	d := time.Since(p.start).Round(100 * time.Millisecond)
	return fmt.Sprintf("%7.1fs", d.Seconds())
}

// step is something the demo does.
func (p *printer) step(format string, args ...any) {
	fmt.Fprintf(p.out, "%s  $ %s\n", p.stamp(), fmt.Sprintf(format, args...))
}

// event is something the system did.
func (p *printer) event(format string, args ...any) {
	fmt.Fprintf(p.out, "%s  %s\n", p.stamp(), fmt.Sprintf(format, args...))
}

func (p *printer) endpoints(env *devenv.Env) {
	fmt.Fprintf(p.out, "\n%s\n  kubeconfig         %s\n  operator log       %s\n  source-controller  %s\n\n",
		env.Endpoints(), env.Kubeconfig, env.OperatorLog, env.SourceControllerLog)
}

func (p *printer) summary(rows []row) {
	fmt.Fprintf(p.out, "\nDone in %s.\n\n", time.Since(p.start).Round(100*time.Millisecond))
	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BEAD\tPHASE\tPOLECAT\tPULL REQUEST\tMERGE COMMIT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.bead, r.phase, r.polecat, r.pr, r.merge)
	}
	tw.Flush()
}
