// Package node runs a real Kubernetes node for tests: containerd and the
// kubelet, and optionally kube-scheduler and kube-controller-manager, beside
// the test kube-apiserver from internal/testenv, so that polecats can run as
// real pods instead of local processes.
//
// A node needs root and Linux. Its binaries come from two places: containerd,
// runc and the CNI plugins from the distribution (hack/node-deps.sh installs
// them), and kubelet, kube-scheduler and kube-controller-manager from
// hack/testbin.sh node (make testbin). When any is missing, Start fails and
// says how to get it; it never skips.
//
// Everything a node makes lives under its directory: containerd's root, state
// and socket, runc's state, the kubelet's root, pod logs and certificates, and
// every mount those make. Its cgroups live under a cgroup root of its own
// (/gastown-node-<id>) in every hierarchy. Stop kills what is left running,
// unmounts, removes the cgroups, restores the sysctls the kubelet changes and
// removes the directory, so that a test leaves the machine as it found it.
//
// Nothing can be pulled from the internet: images are built with BuildImage
// and imported with ImportImage, and pods must use a tag that is not
// "latest" with imagePullPolicy IfNotPresent or Never; or they are pushed to
// a plain-HTTP registry on loopback (test/registry) named in
// Options.Registries, which containerd pulls from with any pull policy. Only hostNetwork pods can start: the
// node's CNI configuration is loopback only, because every server a test
// runs listens on 127.0.0.1 and pods must reach nothing else.
//
// The node is always named "localhost" (the kube-apiserver dials a node by
// its Hostname address, and the kubelet refuses a loopback node IP), so one
// kube-apiserver can have one node.
package node
