//go:build !linux

package devenv

// killStrayRunners does nothing where /proc is not there to find them.
func killStrayRunners(string) error { return nil }

// crash kills the manager process; its runners, if any, are left running.
func crash(p *process, _ string) error { return p.Kill() }
