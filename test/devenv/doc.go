// Package devenv starts a whole gastown development environment on one
// machine, for end-to-end tests and for the demo: every part is real, and
// everything listens on loopback with free ports.
//
//   - etcd and kube-apiserver with this project's CRDs and Flux's source CRDs
//     (internal/testenv);
//   - Flux's source-controller, the binary hack/testbin.sh builds, run out of
//     cluster as a child process, serving its artifacts on loopback, and the
//     flux CLI to reconcile it as a user does (Env.ReconcileSource);
//   - a git server (fluxcd/pkg/gittestserver) with a sample repository: a
//     tiny Go program and bead files under .gastown/;
//   - the GitHub API emulator (test/githubemu) over that repository;
//   - the operator, in-process, running polecats in executionMode local with
//     the gastown-polecat runner and, by default, a scripted agent
//     (test/devenv/scriptedagent) instead of an AI; with Options.Agent the
//     real claude or opencode CLI (the pinned version, hack/agent-clis.sh)
//     against the Anthropic API emulator (test/anthropicemu); with
//     Options.ManagerProcess, cmd/manager as a child process instead, for
//     figures of the manager alone (test/scale, `make bench-scale`) and to
//     kill it as a crash would (Env.KillOperator; Env.StopOperator and
//     Env.StartOperator stop and start either kind);
//   - with Options.Pods, a real node (test/node: containerd, kubelet,
//     kube-scheduler, kube-controller-manager) with the project's images
//     (test/images) imported, where polecats run as pods: executionMode
//     kubernetes, with host networking (the rig's podTemplate) so that pods
//     reach the servers above on loopback;
//   - the objects that wire them: a GitRepository for the sample repository,
//     the github-token Secret, a Refinery pointing at the emulator, and a Rig.
//
// A test starts one and stops it when done:
//
//	env, err := devenv.Start(ctx, devenv.Options{Logf: t.Logf})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(env.Stop)
//
// The binaries come from hack/testbin.sh (run `make testbin` once); Start
// fails, and never skips, when they are missing. The runner and the scripted
// agent are built with `go build` into the user's cache on every Start, which
// go's build cache makes quick after the first time.
//
// Logs go to files in the env's directory, whose paths Start prints:
// source-controller.log, operator.log (the operator's and client-go's
// logs, through controller-runtime's global logger, unless the program set
// its own first), and git-server.log (the standard logger, which the git
// server writes every request to, while the env runs).
//
// One Env runs per process at a time: the operator's logs go through
// controller-runtime's global logger. Envs may follow one another.
package devenv
