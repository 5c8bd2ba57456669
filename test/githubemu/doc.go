// Package githubemu is an emulator of the part of GitHub's REST API that the
// Refinery uses, for tests and demos where GitHub cannot be reached.
//
// The emulator keeps pull requests, reviews, statuses and check runs in
// memory, but branches and merges are real: they operate on the bare
// repositories under Options.RepoRoot, laid out as <owner>/<repo>.git, which is
// the layout github.com/fluxcd/pkg/gittestserver serves. A merge through the
// API is a real git merge, squash or rebase, and cloning the repository
// afterwards shows its result.
//
// Like GitHub it requires a token, sends rate-limit headers, answers
// conditional GETs with 304 Not Modified, and it can inject faults: server
// errors, primary and secondary rate limits, and repositories that require a
// merge queue. Calls counts requests per route so that tests can assert how
// many requests a client made without measuring time.
//
// Mergeability follows GitHub's rule: a pull request whose head lacks the
// base's latest commits is mergeable_state "behind", and refused at merge,
// only where branch protection requires up-to-date branches
// (RequireUpToDate); elsewhere it is "clean". The compare API says where a
// head stands against a base.
//
// StartWithRepo starts a git server and an emulator over it in one call.
package githubemu
