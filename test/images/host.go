package images

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// goBinaries builds the runner and the manager from the project at root
// into dir, as their Dockerfiles do: static, for linux on this machine's
// architecture (the test node's).
func goBinaries(ctx context.Context, root, dir string) (runner, manager string, err error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-o", dir+string(filepath.Separator), "./cmd/polecat", "./cmd/manager")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/polecat ./cmd/manager: %w\n%s", err, out)
	}
	return filepath.Join(dir, "polecat"), filepath.Join(dir, "manager"), nil
}

// agentCLI returns the native binary of an agent's CLI, at the version
// pinned in images/versions.env. hack/agent-clis.sh installs it from the
// npm registry the first time, into the user's cache.
func agentCLI(ctx context.Context, root, cli string) (string, error) {
	script := filepath.Join(root, "hack", "agent-clis.sh")
	cmd := exec.CommandContext(ctx, script, cli)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/agent-clis.sh %s, which installs the %s CLI from the npm registry: %w\n%s",
			cli, cli, err, stderr.Bytes())
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return "", fmt.Errorf("hack/agent-clis.sh %s printed no path\n%s", cli, stderr.Bytes())
	}
	bin := lines[len(lines)-1]
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("hack/agent-clis.sh %s printed %s, which is not an executable file", cli, bin)
	}
	return bin, nil
}

// checkHostTools fails, saying how to install them, when the host programs
// the agent images copy are missing.
func checkHostTools() error {
	var missing []string
	for _, p := range append([]string{busyboxPath}, shellTools...) {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		static, err := isStatic(busyboxPath)
		if err != nil {
			return err
		}
		if !static {
			missing = append(missing, busyboxPath+" (static)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the agent images copy host programs that are missing: %s; "+
			"install them with images/local-deps.sh (apt-get: busybox-static, bash, git, ripgrep)",
			strings.Join(missing, ", "))
	}
	return nil
}

// isStatic reports whether an ELF program has no dynamic loader.
func isStatic(prog string) (bool, error) {
	f, err := elf.Open(prog)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// libraries returns the shared libraries a host program loads, and its
// dynamic loader, as ldd lists them: none for a static program.
func libraries(ctx context.Context, prog string) ([]string, error) {
	static, err := isStatic(prog)
	if err != nil || static {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, "ldd", prog).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, exit.Stderr)
		}
		return nil, fmt.Errorf("ldd %s: %w", prog, err)
	}
	return parseLdd(prog, string(out))
}

// parseLdd reads ldd's lines: "libc.so.6 => /lib/.../libc.so.6 (0x...)",
// "/lib64/ld-linux-x86-64.so.2 (0x...)", and the kernel's vDSO, which has
// no file.
func parseLdd(prog, out string) ([]string, error) {
	var libs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if name, where, ok := strings.Cut(line, "=>"); ok {
			where = strings.TrimSpace(where)
			if strings.HasPrefix(where, "not found") {
				return nil, fmt.Errorf("ldd %s: %s is not found on this machine", prog, strings.TrimSpace(name))
			}
			line = where
		}
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			libs = append(libs, f[0])
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s listed no libraries:\n%s", prog, out)
	}
	return libs, nil
}

// busyboxApplets returns the applets a busybox has.
func busyboxApplets(ctx context.Context, busybox string) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	have := map[string]bool{}
	for _, a := range strings.Fields(string(out)) {
		have[a] = true
	}
	return have, nil
}
