package devenv_test

import (
	"context"
	"fmt"

	"github.com/boshu2/gastown-operator/test/devenv"
)

// Start an environment, commit a bead to the sample repository and have
// Flux fetch it at once, as `flux reconcile source git` would.
func ExampleStart() {
	ctx := context.Background()
	env, err := devenv.Start(ctx, devenv.Options{})
	if err != nil {
		panic(err)
	}
	defer env.Stop()
	fmt.Println(env.Endpoints())

	_, err = env.Push("Add a bead", map[string]string{
		devenv.BeadsDir + "/readme.yaml": `apiVersion: gastown.gastown.io/v1alpha1
kind: Bead
metadata:
  name: gt-readme
spec:
  title: Explain how to run the program in the README
`,
	})
	if err != nil {
		panic(err)
	}
	revision, err := env.ReconcileSource(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("Flux has", revision)
}
