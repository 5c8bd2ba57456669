// Package images builds the project's images on the test machine, without
// docker or a registry, as docker-archive tarballs that `ctr -n k8s.io images
// import` loads into a test node's containerd. Each is named exactly as the
// operator's defaults name it (version.Image), so that polecat pods find it
// with imagePullPolicy IfNotPresent.
//
// The images have the layout of their Dockerfiles under images/, built from
// what is on this machine instead of base images: the runner and the manager
// from the project's sources (static, CGO_ENABLED=0); the agent images from
// the native agent CLIs that hack/agent-clis.sh installs from npm, with the
// shared libraries they link, bash, git, ripgrep and a static busybox for
// the agent's shell, all copied from the host (images/local-deps.sh
// installs the host packages). aider has no local image: it is a PyPI
// package, which cannot be installed here.
//
// Building an agent image means writing a few hundred megabytes, so the
// tarballs are cached, keyed by a digest of everything that goes into them:
// a later Build with the same inputs returns the cached tarball.
package images
