package images

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/version"
)

var allAgents = []gastownv1.AgentType{gastownv1.AgentClaudeCode, gastownv1.AgentOpenCode}

var shared struct {
	once sync.Once
	set  Set
	took time.Duration
	err  error
}

// sharedSet builds every local image once for the package's tests, in the
// default cache, which the tests that run pods share.
func sharedSet(t *testing.T) Set {
	t.Helper()
	shared.once.Do(func() {
		start := time.Now()
		shared.set, shared.err = Build(context.Background(), Options{Agents: allAgents, Logf: t.Logf})
		shared.took = time.Since(start)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.set
}

func TestRunnerImage(t *testing.T) {
	img := sharedSet(t).Runner
	if img.Name != polecat.DefaultRunnerImage {
		t.Errorf("runner image is %s, want the operator's default %s", img.Name, polecat.DefaultRunnerImage)
	}
	validateImage(t, img)
	dir := t.TempDir()
	cfg, files := contents(t, img, dir)
	checkConfig(t, cfg, []string{polecat.DefaultRunnerPath})
	checkBase(t, files)
	checkFile(t, files, polecat.DefaultRunnerPath, 0o755)

	// What install-runner does in every polecat pod (into an emptyDir).
	runIn(t, dir, cfg, polecat.DefaultRunnerPath, "install", "/tmp")
	if fi, err := os.Stat(filepath.Join(dir, "tmp", polecat.RunnerName)); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("install did not copy the runner: %v", err)
	}
}

func TestManagerImage(t *testing.T) {
	img := sharedSet(t).Manager
	if want := version.Image(ManagerRepo); img.Name != want {
		t.Errorf("manager image is %s, want %s", img.Name, want)
	}
	validateImage(t, img)
	cfg, files := contents(t, img, "")
	checkConfig(t, cfg, []string{"/manager"})
	checkBase(t, files)
	checkFile(t, files, "/manager", 0o755)
}

func TestAgentImages(t *testing.T) {
	set := sharedSet(t)
	versions := versionsEnv(t)
	for _, agent := range allAgents {
		t.Run(string(agent), func(t *testing.T) {
			img := set.Agents[agent]
			if want := polecat.DefaultAgentImage(agent); img.Name != want {
				t.Errorf("image is %s, want the operator's default %s", img.Name, want)
			}
			spec := agentSpecs[agent]
			dir := t.TempDir()
			cfg, files := contents(t, img, dir)
			checkConfig(t, cfg, nil)
			if !slices.Contains(cfg.Config.Env, "SHELL=/bin/bash") {
				t.Errorf("Env %q lacks SHELL=/bin/bash", cfg.Config.Env)
			}
			checkBase(t, files)
			if h := files[polecat.HomeDir]; h == nil || h.Uid != uid {
				t.Errorf("%s is not a directory of uid %d", polecat.HomeDir, uid)
			}
			cliPath := "/usr/local/bin/" + spec.command
			checkFile(t, files, cliPath, 0o755)
			checkLibraries(t, files, agent)

			// The CLI runs from the image alone, as the pod's user.
			want := versions[spec.pin]
			if out := runIn(t, dir, cfg, cliPath, "--version"); !strings.Contains(out, want) {
				t.Errorf("%s --version printed %q, want version %s", spec.command, out, want)
			}
			// And so does what the agent's Bash tool runs in a clone.
			script := `set -e
mkdir repo && cd repo && git init -q && git config user.email p@x && git config user.name p
printf 'one\ntwo\n' > f.txt && git add f.txt && git commit -qm first
sed -i s/two/three/ f.txt && git status --short && git diff --stat
rg -c three f.txt && grep -c one f.txt && ls | wc -l && sh -c 'echo sh-ok' | tr a-z A-Z`
			out := runIn(t, dir, cfg, "/bin/bash", "-c", script)
			for _, line := range []string{"M f.txt", "1 file changed", "SH-OK"} {
				if !strings.Contains(out, line) {
					t.Errorf("the shell script printed %q, want %q in it", out, line)
				}
			}
		})
	}
}

// TestBuildCacheHit: a second Build with the same inputs writes nothing.
func TestBuildCacheHit(t *testing.T) {
	first := sharedSet(t)
	start := time.Now()
	again, err := Build(context.Background(), Options{Agents: allAgents, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first Build %s (cold unless the cache had them), second %s", shared.took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for i, img := range again.All() {
		t.Logf("%s: %d MB, %s", img.Name, img.Size>>20, img.Tarball)
		if !img.Cached {
			t.Errorf("%s was built again, want a cache hit", img.Name)
		}
		if was := first.All()[i]; img.Tarball != was.Tarball {
			t.Errorf("%s: second Build gave %s, the first %s", img.Name, img.Tarball, was.Tarball)
		}
	}
}

// TestBuildKeysOnVersion builds the small images in a cache of their own:
// the version names them and is part of their key, and a rebuild in the
// same cache is a hit.
func TestBuildKeysOnVersion(t *testing.T) {
	dir := t.TempDir()
	o := Options{Version: "0.0.0-test", CacheDir: dir, Logf: t.Logf}
	set, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range set.All() {
		if !strings.HasSuffix(img.Name, ":v0.0.0-test") || img.Cached || filepath.Dir(img.Tarball) != dir {
			t.Errorf("got %+v, want a new tarball in %s tagged v0.0.0-test", img, dir)
		}
		if img.Tarball == sharedSet(t).Runner.Tarball || img.Tarball == sharedSet(t).Manager.Tarball {
			t.Errorf("%s has the tarball of the default version", img.Name)
		}
	}
	again, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Runner.Cached || !again.Manager.Cached || again.Runner.Tarball != set.Runner.Tarball {
		t.Errorf("second Build: %+v, want the first's tarballs from the cache", again)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*")); len(tmp) > 0 {
		t.Errorf("Build left temporary files: %v", tmp)
	}
}

func TestBuildRefusesAider(t *testing.T) {
	_, err := Build(context.Background(), Options{CacheDir: t.TempDir(), Agents: []gastownv1.AgentType{gastownv1.AgentAider}})
	if err == nil || !strings.Contains(err.Error(), "PyPI") {
		t.Errorf("Build(aider) = %v, want an error saying aider cannot be installed here", err)
	}
}

// validateImage checks that the tarball's manifest, config and layer
// digests agree, reading the whole layer.
func validateImage(t *testing.T, img Image) {
	t.Helper()
	if err := validate.Image(load(t, img)); err != nil {
		t.Errorf("%s: %v", img.Name, err)
	}
}

// checkConfig checks what every image's config has: the pod's user, PATH,
// and the entrypoint.
func checkConfig(t *testing.T, cfg *v1.ConfigFile, entrypoint []string) {
	t.Helper()
	if cfg.Config.User != "65532" {
		t.Errorf("User is %q, want 65532", cfg.Config.User)
	}
	if !slices.Contains(cfg.Config.Env, pathEnv) {
		t.Errorf("Env %q lacks %s", cfg.Config.Env, pathEnv)
	}
	if !slices.Equal(cfg.Config.Entrypoint, entrypoint) {
		t.Errorf("Entrypoint is %q, want %q", cfg.Config.Entrypoint, entrypoint)
	}
	if cfg.OS != "linux" {
		t.Errorf("OS is %q", cfg.OS)
	}
}

// checkBase checks the files every image has.
func checkBase(t *testing.T, files map[string]*tar.Header) {
	t.Helper()
	checkFile(t, files, "/etc/passwd", 0o644)
	checkFile(t, files, "/etc/group", 0o644)
	if _, err := os.Stat(caFile); err == nil {
		checkFile(t, files, caFile, 0o644)
	}
	if h := files["/tmp"]; h == nil || h.Typeflag != tar.TypeDir || h.Mode != 0o1777 {
		t.Errorf("/tmp is %+v, want a directory with mode 1777", h)
	}
}

func checkFile(t *testing.T, files map[string]*tar.Header, path string, mode int64) {
	t.Helper()
	h := files[path]
	switch {
	case h == nil:
		t.Errorf("%s is not in the image", path)
	case h.Typeflag != tar.TypeReg || h.Mode != mode || h.Size == 0:
		t.Errorf("%s: type %c, mode %o, %d bytes; want a file with mode %o", path, h.Typeflag, h.Mode, h.Size, mode)
	}
}

// checkLibraries checks that every library ldd lists for the agent's CLI
// and the shell tools is a file in the image, by the path ldd gives.
func checkLibraries(t *testing.T, files map[string]*tar.Header, agent gastownv1.AgentType) {
	t.Helper()
	cli, err := agentCLI(context.Background(), projectRoot(t), agentSpecs[agent].cli)
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range append([]string{cli}, shellTools...) {
		libs, err := libraries(context.Background(), prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, lib := range libs {
			if h := resolve(files, lib); h == nil || h.Typeflag != tar.TypeReg {
				t.Errorf("%s, which %s loads, is not a file in the image", lib, prog)
			}
		}
	}
}
