// Package refinery holds the Refinery's providers: how pull requests are
// opened, gated and merged, without Kubernetes in sight. The Refinery
// controller builds on Provider and GitMerger.
//
// GitHub implements Provider with the GitHub REST API (google/go-github),
// with conditional requests for polling, quick retries of server errors and
// typed errors for rate limits, so that the controller requeues instead of
// sleeping. GitMerger merges branches straight into a target with go-git, for
// forges without the GitHub API.
package refinery
