//go:build linux

package node

import (
	"testing"

	"github.com/boshu2/gastown-operator/internal/testenv"
)

// env is the kube-apiserver the tests' nodes join.
var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, nil) }
