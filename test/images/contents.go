package images

import (
	"context"
	"fmt"
	"os"
	"path"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
)

// What every image has, as in the Dockerfiles' base images.
const (
	// uid is the user of every image, and the one polecat pods run as.
	uid = polecat.DefaultUID
	// pathEnv is Debian's default PATH.
	pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// caFile is where Debian, and distroless, keep the CA certificates.
	caFile = "/etc/ssl/certs/ca-certificates.crt"
)

// user is the image's configured user: uid 65532, as in the Dockerfiles.
var user = strconv.Itoa(uid)

// baseTree has what every image has: /etc/passwd and /etc/group with root
// and nonroot (65532, whose home and shell are given), name service
// configuration, the host's CA certificates if it has any, /tmp and the
// home directory.
func baseTree(home, shell string) (*tree, error) {
	t := newTree()
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n"+
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"+
		"nonroot:x:%d:%d:nonroot:%s:%s\n", uid, uid, home, shell)
	group := fmt.Sprintf("root:x:0:\nnobody:x:65534:\nnonroot:x:%d:\n", uid)
	steps := []error{
		t.data("/etc/passwd", []byte(passwd), 0o644),
		t.data("/etc/group", []byte(group), 0o644),
		t.data("/etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644),
		t.dir("/tmp", 0o1777, 0, 0),
		t.dir(home, 0o755, uid, uid),
	}
	if fi, err := os.Stat(caFile); err == nil && fi.Mode().IsRegular() {
		steps = append(steps, t.file(caFile, caFile, 0o644))
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// goImage is the tree and config of a static Go program's image, laid out
// as on distroless static (images/manager and images/polecat).
func goImage(bin, at string) (*tree, v1.Config, error) {
	t, err := baseTree("/home/nonroot", "/sbin/nologin")
	if err == nil {
		err = t.file(at, bin, 0o755)
	}
	cfg := v1.Config{
		User:       user,
		Env:        []string{pathEnv, "SSL_CERT_FILE=" + caFile},
		Entrypoint: []string{at},
	}
	return t, cfg, err
}

// agentSpec is how an agent's local image is made.
type agentSpec struct {
	// cli is hack/agent-clis.sh's name for the agent's CLI.
	cli string
	// command is the CLI's name on PATH, which the runner starts.
	command string
	// pin is the images/versions.env variable holding the CLI's version.
	pin string
	// env is the agent's part of the image's environment, as in its
	// Dockerfile: the image is read-only, so no self-update.
	env []string
}

// agentSpecs are the agents with a local image. aider has none: it is a
// PyPI package, which cannot be installed here.
var agentSpecs = map[gastownv1.AgentType]agentSpec{
	gastownv1.AgentClaudeCode: {cli: "claude", command: "claude", pin: "CLAUDE_CODE_VERSION", env: []string{"DISABLE_AUTOUPDATER=1"}},
	gastownv1.AgentOpenCode:   {cli: "opencode", command: "opencode", pin: "OPENCODE_VERSION", env: []string{"OPENCODE_DISABLE_AUTOUPDATE=1"}},
}

// Host programs an agent image gets for the agent's shell (claude runs its
// Bash tool only with bash or zsh; opencode's grep tool downloads rg when
// it is missing), with the libraries they link. images/local-deps.sh
// installs them.
var (
	shellTools  = []string{"/bin/bash", "/usr/bin/git", "/usr/bin/rg"}
	busyboxPath = "/bin/busybox"
)

// applets are the busybox tools an agent image gets, in /usr/bin (sh in
// /bin): what scripts and an agent's shell commands commonly use. Ones the
// image already has from shellTools are left out.
var applets = []string{
	"[", "[[", "ash", "awk", "base64", "basename", "bunzip2", "bzcat", "bzip2", "cat", "chmod",
	"cmp", "cp", "cut", "date", "dd", "df", "diff", "dirname", "du", "echo", "egrep", "env",
	"expand", "expr", "false", "fgrep", "find", "fold", "free", "getopt", "grep", "gunzip", "gzip",
	"head", "hexdump", "hostname", "id", "kill", "less", "ln", "ls", "md5sum", "mkdir", "mkfifo",
	"mktemp", "more", "mv", "nl", "nproc", "od", "paste", "patch", "printf", "ps", "pwd",
	"readlink", "realpath", "rev", "rm", "rmdir", "sed", "seq", "sha1sum", "sha256sum",
	"sha512sum", "sleep", "sort", "stat", "strings", "tac", "tail", "tar", "tee", "test", "time",
	"timeout", "touch", "tr", "true", "truncate", "tty", "uname", "uniq", "unlink", "unxz", "unzip",
	"uptime", "vi", "watch", "wc", "which", "whoami", "xargs", "xxd", "xz", "xzcat", "yes", "zcat",
}

// agentImage is the tree and config of an agent's image, laid out as its
// Dockerfile's (a Debian with bash, git and ripgrep, the CLI in
// /usr/local/bin), from the host's files.
func agentImage(ctx context.Context, a agentSpec, cli string) (*tree, v1.Config, error) {
	cfg := v1.Config{
		User:       user,
		Env:        append([]string{pathEnv, "SHELL=/bin/bash"}, a.env...),
		Cmd:        []string{a.command},
		WorkingDir: polecat.HomeDir,
	}
	t, err := baseTree(polecat.HomeDir, "/bin/bash")
	if err != nil {
		return nil, cfg, err
	}
	if err := t.file(path.Join("/usr/local/bin", a.command), cli, 0o755); err != nil {
		return nil, cfg, err
	}
	for _, prog := range append([]string{cli}, shellTools...) {
		if prog != cli {
			if err := t.host(prog); err != nil {
				return nil, cfg, err
			}
		}
		libs, err := libraries(ctx, prog)
		if err != nil {
			return nil, cfg, err
		}
		for _, lib := range libs {
			if err := t.host(lib); err != nil {
				return nil, cfg, fmt.Errorf("library %s of %s: %w", lib, prog, err)
			}
		}
	}
	return t, cfg, addBusybox(ctx, t)
}

// addBusybox adds the static busybox and a symlink to it for each applet.
func addBusybox(ctx context.Context, t *tree) error {
	if err := t.host(busyboxPath); err != nil {
		return err
	}
	have, err := busyboxApplets(ctx, busyboxPath)
	if err != nil {
		return err
	}
	links := map[string]string{"sh": "/bin/sh"}
	for _, a := range applets {
		links[a] = path.Join("/usr/bin", a)
	}
	for applet, at := range links {
		if !have[applet] {
			return fmt.Errorf("%s has no applet %s", busyboxPath, applet)
		}
		if t.has(at) {
			continue
		}
		if err := t.symlink(at, busyboxPath); err != nil {
			return err
		}
	}
	return nil
}
