// Command manager runs gastown-operator.
package main

import (
	"os"

	"github.com/fluxcd/pkg/runtime/logger"
	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/boshu2/gastown-operator/internal/operator"
)

func main() {
	operator.SetGCPercent()
	var opts operator.Options
	opts.BindFlags(pflag.CommandLine)
	pflag.Parse()

	logger.SetLogger(logger.NewLogger(opts.Log))
	log := ctrl.Log.WithName("setup")

	mgr, err := operator.New(operator.RESTConfig(opts.Client), opts)
	if err != nil {
		log.Error(err, "unable to set up the manager")
		os.Exit(1)
	}
	log.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}
