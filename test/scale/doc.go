// Package scale holds `make bench-scale`: the operator's figures at scale
// against a real kube-apiserver (issue 12's table). The manager runs as its
// own process (test/devenv's ManagerProcess), the beads reach it as in
// production, through a Flux GitRepository artifact that source-controller
// fetches from a git server, and every count comes from the servers' own
// /metrics: API writes from kube-apiserver's apiserver_request_total (and
// whose events they were from the events' own counts), reconciles from the
// manager's controller_runtime_reconcile_total, peak memory from the
// manager's /proc/<pid>/status, and each phase's peak from its /metrics,
// sampled, with the manager's CPU time and garbage collections in each
// phase (its process_cpu_seconds_total and go_gc_duration_seconds_count),
// and kube-apiserver's CPU time in each phase with what a write cost it:
// machines differ, and the intake's time is mostly its writes times that
// cost, so that figure is the one to compare runs on two machines by.
//
// It is a benchmark that prints figures, not a test with thresholds:
//
//	make bench-scale                     # 1,000 then 10,000 beads
//	make bench-scale BENCH_BEADS=10000   # one size
//
// The scenarios, in order: an artifact of the beads (epics, which never
// dispatch) taken in by a suspended rig; one bead retitled; a push that
// makes BENCH_READY of them tasks, so Ready, the rig still suspended; the
// rig resumed with maxPolecats raised, until every ready bead has its
// Polecat and Pod. Each phase's writes are counted until the apiserver is
// quiet.
//
// BENCH_MANAGER runs that manager binary instead of this tree's
// cmd/manager (built once per run), e.g. another commit's, for a before
// and after. BENCH_READY (default 1000) is how many beads become ready;
// BENCH_QUIET (default 10s) how long the apiserver must see no write
// before a phase's writes are counted as done. BENCH_HEAP_PROFILE=prefix
// saves the manager's heap profile at the end as prefix-<beads>.pprof (and
// when the intake's beads are all there as prefix-<beads>-intake.pprof,
// after the resync and the ready push as prefix-<beads>-resync.pprof and
// -ready.pprof, and the runtime's memory statistics as prefix-<beads>.txt),
// and BENCH_CPU_PROFILE=prefix its CPU profile of the intake's first 30 s
// (and kube-apiserver's, as prefix-<beads>-apiserver.pprof),
// for go tool pprof. BENCH_TEXT_BYTES gives every bead a description of
// that many bytes (27 by default; the beads of data/beads-real have about
// 400 on average).
package scale
