package devenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// managerBinary is cmd/manager's name in the bin directory.
const managerBinary = "gastown-manager"

// managerEnvDropped are variables of this process that would change the
// manager's configuration behind its flags' back.
var managerEnvDropped = []string{"KUBECONFIG", "RUNTIME_NAMESPACE"}

// checkManagerProcess refuses the options that configure the in-process
// operator alongside Options.ManagerProcess.
func checkManagerProcess(opts Options) error {
	if !opts.ManagerProcess {
		if len(opts.ManagerArgs) > 0 || opts.ManagerBinary != "" {
			return errors.New("devenv: ManagerArgs and ManagerBinary are about the manager's process: set ManagerProcess with them")
		}
		return nil
	}
	switch {
	case opts.InstallOperator != nil:
		return errors.New("devenv: ManagerProcess and InstallOperator both replace the in-process operator: set one")
	case opts.Operator != nil, opts.OperatorConfig != nil:
		return errors.New("devenv: Operator and OperatorConfig configure the in-process operator: with ManagerProcess pass flags in ManagerArgs")
	case opts.OperatorLog != nil:
		return errors.New("devenv: with ManagerProcess the manager's logs go to operator.log in Dir: leave OperatorLog nil")
	}
	return nil
}

// startManagerProcess runs cmd/manager, built into the bin directory, as a
// child process with the env's kubeconfig and the flags the in-process
// operator gets (loopback probes, no leader election, every namespace,
// fast retries, local polecats by RunnerPath), then Options.ManagerArgs,
// which may override them.
func (e *Env) startManagerProcess(ctx context.Context) error {
	addrs, err := freeAddrs(2)
	if err != nil {
		return err
	}
	e.endpoints.OperatorMetrics, e.endpoints.OperatorHealth = addrs[0], addrs[1]
	args := []string{
		"--metrics-addr=" + e.endpoints.OperatorMetrics,
		"--health-addr=" + e.endpoints.OperatorHealth,
		"--enable-leader-election=false",
		"--watch-all-namespaces=true",
		"--polecat-retry-backoff=" + retryBackoff.String(),
		"--polecat-max-retry-backoff=" + maxRetryBackoff.String(),
		"--graceful-shutdown-timeout=10s",
		"--local-runner=" + e.RunnerPath,
		"--local-workdir=" + filepath.Join(e.Dir, "polecats"),
		"--log-encoding=console",
	}
	args = append(args, e.opts.ManagerArgs...)
	env := append(environWithout(managerEnvDropped...), "KUBECONFIG="+e.Kubeconfig)
	e.OperatorLog = filepath.Join(e.Dir, "operator.log")
	e.logf("devenv: operator log: %s", e.OperatorLog)
	if e.manager, err = startProcess("manager", e.ManagerPath, args, env, e.OperatorLog); err != nil {
		return err
	}
	if err := e.waitOperator(ctx, e.manager.Done()); err != nil {
		if errors.Is(err, errExited) {
			_, exitErr := e.manager.Exited()
			err = fmt.Errorf("%w (%v)", err, exitErr)
		}
		return fmt.Errorf("%s: %w; the end of %s:\n%s", e.ManagerPath, err, e.OperatorLog, LogTail(e.OperatorLog, 20))
	}
	return nil
}

// OperatorPid is the process id of the manager with Options.ManagerProcess,
// for reading its /proc/<pid>/status; 0 when the operator runs in this
// process, is installed, or has exited.
func (e *Env) OperatorPid() int {
	if e.manager == nil {
		return 0
	}
	return e.manager.Pid()
}

// OperatorStatus returns the fields of the manager process's
// /proc/<pid>/status (VmHWM, VmRSS, ...), values as the kernel prints
// them ("123456 kB"), with Options.ManagerProcess on Linux.
func (e *Env) OperatorStatus() (map[string]string, error) {
	pid := e.OperatorPid()
	if pid == 0 {
		return nil, errors.New("devenv: no manager process (Options.ManagerProcess)")
	}
	return procStatus(filepath.Join("/proc", strconv.Itoa(pid), "status"))
}

func procStatus(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields, nil
}
