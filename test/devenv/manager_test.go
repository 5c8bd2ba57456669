package devenv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/boshu2/gastown-operator/internal/operator"
	"github.com/boshu2/gastown-operator/test/devenv"
)

// TestManagerProcessRefusesInProcessOptions checks that the options of the
// in-process operator are refused with ManagerProcess before anything
// starts (the manager process itself runs in test/scale).
func TestManagerProcessRefusesInProcessOptions(t *testing.T) {
	for name, tc := range map[string]struct {
		opts devenv.Options
		want string
	}{
		"InstallOperator": {devenv.Options{ManagerProcess: true,
			InstallOperator: func(context.Context, *devenv.Env) error { return nil }}, "set one"},
		"Operator":      {devenv.Options{ManagerProcess: true, Operator: func(*operator.Options) {}}, "ManagerArgs"},
		"OperatorLog":   {devenv.Options{ManagerProcess: true, OperatorLog: &strings.Builder{}}, "operator.log"},
		"ManagerArgs":   {devenv.Options{ManagerArgs: []string{"--concurrent=8"}}, "set ManagerProcess"},
		"ManagerBinary": {devenv.Options{ManagerBinary: "/bin/true"}, "set ManagerProcess"},
	} {
		t.Run(name, func(t *testing.T) {
			env, err := devenv.Start(context.Background(), tc.opts)
			if err == nil {
				env.Stop()
				t.Fatal("Start accepted the options")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
