package scale

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Write categories of the table, as apiserver_request_total's
// resource/subresource.
const (
	beadStatus    = "beads/status"
	beadObjects   = "beads"
	eventWrites   = "events"
	rigStatus     = "rigs/status"
	polecatStatus = "polecats/status"
	polecatObject = "polecats"
	podWrites     = "pods"
	flux          = "gitrepositories"
	fluxStatus    = "gitrepositories/status"
)

// split names the given categories of w and sums the rest as others.
func split(w writes, cats ...[2]string) string {
	var parts []string
	rest := w.total()
	for _, c := range cats {
		v := w[c[0]]
		rest -= v
		part := fmt.Sprintf("%s %s", num(v), c[1])
		if c[0] == eventWrites && v > 0 {
			part += " (" + eventComponents(w) + ")"
		}
		parts = append(parts, part)
	}
	parts = append(parts, num(rest)+" others")
	return strings.Join(parts, ", ")
}

// eventComponents says whose the event writes in w were.
func eventComponents(w writes) string {
	var parts []string
	for _, k := range w.sorted() {
		if c, ok := strings.CutPrefix(k, eventsPrefix); ok {
			parts = append(parts, fmt.Sprintf("%s %s", num(w[k]), c))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *result) report(b *testing.B) {
	intakeW, resyncW, readyW, dispatchW := r.intakeWrites.total(), r.resyncWrites.total(), r.readyWrites.total(), r.dispatchWrites.total()
	rows := [][2]string{
		{fmt.Sprintf("artifact → all %s Bead objects", num(float64(r.beads))),
			fmt.Sprintf("%s (%s a bead); writes end after %s%s", secs(r.intakeTime), perItem(r.intakeTime, r.beads),
				secs(r.intakeSettle), notQuiet(r.intakeQuiet))},
		{"API writes for that intake",
			fmt.Sprintf("%s (%s a bead: %s)", num(intakeW), ratio(intakeW, r.beads), split(r.intakeWrites,
				[2]string{beadStatus, "bead status patches"}, [2]string{eventWrites, "event writes"},
				[2]string{rigStatus, "Rig status patches"}, [2]string{beadObjects, "bead creates/updates"}))},
		{"Rig reconciles during intake of a suspended rig",
			fmt.Sprintf("%s (all controllers: %s); LISTs the apiserver served: %s of polecats, %s of beads",
				num(r.intakeReconciles["rig"]), counts(r.intakeReconciles),
				num(r.intakeWrites[listPrefix+"polecats"]), num(r.intakeWrites[listPrefix+"beads"]))},
		{"resync after one bead changed",
			fmt.Sprintf("%s writes, %s of them not Flux's%s (%s)", num(resyncW), num(r.resyncWrites.operator()),
				notQuiet(r.resyncQuiet), split(r.resyncWrites,
					[2]string{beadObjects, "bead"}, [2]string{beadStatus, "bead status"}, [2]string{eventWrites, "events"},
					[2]string{rigStatus, "Rig status"}, [2]string{flux, "GitRepository (flux CLI)"},
					[2]string{fluxStatus, "GitRepository status (source-controller)"}))},
		{fmt.Sprintf("a push makes %s beads ready (the rig suspended)", num(float64(r.ready))),
			fmt.Sprintf("%s; %s writes (%s a bead: %s); writes end after %s%s",
				secs(r.readyTime), num(readyW), ratio(readyW, r.ready), split(r.readyWrites,
					[2]string{beadObjects, "bead updates"}, [2]string{beadStatus, "bead status patches"},
					[2]string{eventWrites, "event writes"}, [2]string{flux, "GitRepository (flux CLI)"},
					[2]string{fluxStatus, "GitRepository status (source-controller)"}),
				secs(r.readySettle), notQuiet(r.readyQuiet))},
		{fmt.Sprintf("%s ready beads → %s Polecats and Pods, from the rig's resume%s", num(float64(r.ready)), num(float64(r.maxPolecats)), r.capNote()),
			fmt.Sprintf("%s; %s writes (%s a polecat, %s of them on the polecat and its pod: %s); writes end after %s%s",
				secs(r.dispatchTime), num(dispatchW), ratio(dispatchW, r.maxPolecats),
				ratio(r.dispatchWrites[polecatObject]+r.dispatchWrites[polecatStatus]+r.dispatchWrites[podWrites], r.maxPolecats),
				split(r.dispatchWrites,
					[2]string{polecatStatus, "polecat status patches"}, [2]string{polecatObject, "polecat creates/updates"},
					[2]string{podWrites, "pod writes"}, [2]string{beadStatus, "bead status patches"},
					[2]string{beadObjects, "bead updates"}, [2]string{eventWrites, "event writes"},
					[2]string{rigStatus, "Rig status patches"}),
				secs(r.dispatchSettle), notQuiet(r.dispatchQuiet))},
		{"Rig reconciles during that dispatch", fmt.Sprintf("%s (all controllers: %s)",
			num(r.dispatchReconciles["rig"]), counts(r.dispatchReconciles))},
		{fmt.Sprintf("manager peak RSS, %s beads + %s polecats + %s pods", num(float64(r.finalBeads)), num(float64(r.polecats)), num(float64(r.pods))),
			fmt.Sprintf("%s (VmHWM; VmRSS at the end %s: %s anonymous, %s of files)", mib(r.hwm), mib(r.rss), mib(r.rssAnon), mib(r.rssFile))},
	}
	out := os.Stdout
	fmt.Fprintf(out, "\nbench-scale: %s beads, %s bytes of description a bead\n\n| figure | value |\n|---|---|\n", num(float64(r.beads)), num(float64(r.textBytes)))
	for _, row := range rows {
		fmt.Fprintf(out, "| %s | %s |\n", row[0], row[1])
	}
	fmt.Fprintf(out, "\nwrites by resource (apiserver_request_total, POST/PUT/PATCH/APPLY/DELETE; leases and reviews not counted):\n")
	for _, ph := range []struct {
		name string
		w    writes
	}{{"intake", r.intakeWrites}, {"resync", r.resyncWrites}, {"ready", r.readyWrites}, {"dispatch", r.dispatchWrites}} {
		var parts, lists []string
		for _, k := range ph.w.sorted() {
			switch {
			case strings.HasPrefix(k, listPrefix):
				lists = append(lists, fmt.Sprintf("%s %s", strings.TrimPrefix(k, listPrefix), num(ph.w[k])))
			case strings.HasPrefix(k, eventsPrefix):
				parts = append(parts, fmt.Sprintf("(%s %s)", k, num(ph.w[k])))
			case !ignored[k]:
				parts = append(parts, fmt.Sprintf("%s %s", k, num(ph.w[k])))
			}
		}
		fmt.Fprintf(out, "  %-9s %s\n", ph.name+":", strings.Join(parts, ", "))
		if len(lists) > 0 {
			fmt.Fprintf(out, "  %-9s LISTs the apiserver served (uncached reads; the flux CLI's too): %s\n", "", strings.Join(lists, ", "))
		}
	}
	var peaks []string
	for _, m := range r.mem {
		peaks = append(peaks, fmt.Sprintf("%s %.0f MiB RSS, %.0f MiB heap in use", m.phase, m.rss/(1<<20), m.heap/(1<<20)))
	}
	fmt.Fprintf(out, "  the manager's peak memory by phase (RSS from /proc every %s, heap in use from /metrics every second): %s\n", memSampleInterval, strings.Join(peaks, "; "))
	var cpu []string
	for _, c := range r.cpu {
		cpu = append(cpu, fmt.Sprintf("%s %.1f s, %s collections", c.phase, c.cpu, num(c.collections)))
	}
	fmt.Fprintf(out, "  the manager's CPU time by phase (process_cpu_seconds_total; go_gc_duration_seconds_count; GOGC %s): %s\n", num(r.gogc), strings.Join(cpu, "; "))
	// What a write costs the apiserver says how fast this machine is: the
	// intake's time is mostly that cost times its writes, over the cores.
	// The phase's reads, watches and leases are in it too, which in a phase
	// of few writes (the resync) is most of it.
	var api []string
	for _, c := range r.cpu {
		api = append(api, fmt.Sprintf("%s %.1f s (%s ms a write)", c.phase, c.apiserverCPU, ratio(1000*c.apiserverCPU, int(c.apiserverWrites))))
	}
	fmt.Fprintf(out, "  kube-apiserver's CPU time by phase, all its work over the phase's writes (its process_cpu_seconds_total): %s\n", strings.Join(api, "; "))
	fmt.Fprintln(out)

	b.ReportMetric(r.intakeTime.Seconds(), "intake-s")
	b.ReportMetric(float64(r.intakeTime.Microseconds())/1000/float64(r.beads), "intake-ms/bead")
	b.ReportMetric(intakeW/float64(r.beads), "intake-writes/bead")
	for _, c := range r.cpu {
		if c.phase == "intake" {
			b.ReportMetric(1000*c.apiserverCPU/max(c.apiserverWrites, 1), "intake-apiserver-ms/write")
		}
	}
	b.ReportMetric(r.intakeReconciles["rig"], "intake-rig-reconciles")
	b.ReportMetric(resyncW, "resync-writes")
	b.ReportMetric(r.readyTime.Seconds(), "ready-s")
	b.ReportMetric(r.dispatchTime.Seconds(), "dispatch-s")
	b.ReportMetric(dispatchW/float64(max(r.maxPolecats, 1)), "dispatch-writes/polecat")
	if kb, err := kiB(r.hwm); err == nil {
		b.ReportMetric(kb/1024, "peak-RSS-MiB")
	}
}

// capNote says when the CRD capped maxPolecats below the ready beads.
func (r *result) capNote() string {
	if r.maxPolecats < r.ready {
		return fmt.Sprintf(" (maxPolecats %d: the Rig CRD's maximum)", r.maxPolecats)
	}
	return fmt.Sprintf(" (maxPolecats %d)", r.maxPolecats)
}

// printFlatness compares the cost per bead between sizes.
func printFlatness(results []*result) {
	sort.Slice(results, func(i, j int) bool { return results[i].beads < results[j].beads })
	fmt.Fprintf(os.Stdout, "\nbench-scale: cost per bead by size\n\n| beads | intake | a bead | writes a bead | Rig reconciles |\n|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(os.Stdout, "| %s | %s | %s | %s | %s |\n", num(float64(r.beads)), secs(r.intakeTime),
			perItem(r.intakeTime, r.beads), ratio(r.intakeWrites.total(), r.beads), num(r.intakeReconciles["rig"]))
	}
	first, last := results[0], results[len(results)-1]
	a := float64(first.intakeTime) / float64(first.beads)
	z := float64(last.intakeTime) / float64(last.beads)
	fmt.Fprintf(os.Stdout, "\ntime a bead at %s beads is %.2f× that at %s beads (flat is 1)\n\n",
		num(float64(last.beads)), z/a, num(float64(first.beads)))
}

func notQuiet(quiet bool) string {
	if quiet {
		return ""
	}
	return fmt.Sprintf(" (still writing %s after; counted up to then)", maxSettle)
}

func counts(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s", k, num(m[k])))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func perItem(d time.Duration, n int) string {
	return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000/float64(max(n, 1)))
}

func ratio(v float64, n int) string { return fmt.Sprintf("%.2f", v/float64(max(n, 1))) }

// num prints a count with thousands separators.
func num(v float64) string {
	s := strconv.FormatInt(int64(v), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// kiB parses a /proc/<pid>/status size ("123456 kB").
func kiB(v string) (float64, error) {
	return strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 64)
}

func mib(v string) string {
	kb, err := kiB(v)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%.0f MiB", kb/1024)
}
