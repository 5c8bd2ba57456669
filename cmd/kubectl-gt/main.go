// Command kubectl-gt is the kubectl plugin of gastown-operator. With the
// binary on the PATH, kubectl runs it as `kubectl gt`.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
