package images

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/internal/version"
)

func projectRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.ProjectRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// versionsEnv reads images/versions.env: NAME=VALUE lines and comments.
func versionsEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(projectRoot(t), "images", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || value == "" {
			t.Fatalf("images/versions.env: %q is not NAME=VALUE", line)
		}
		vars[name] = value
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vars) == 0 {
		t.Fatal("images/versions.env pins nothing")
	}
	return vars
}

// publishedImages are images/images.mk's image directories and the images
// they are published as (make image-names).
func publishedImages(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command("make", "-s", "-f", "images/images.mk", "image-names")
	cmd.Dir = projectRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -f images/images.mk image-names: %v\n%s", err, out)
	}
	images := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, ref, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("make image-names printed %q", line)
		}
		images[dir] = ref
	}
	return images
}

// TestImageDirs: every directory under images/ has a Dockerfile, make
// builds each, and publishes it under the name the operator's defaults and
// this package use.
func TestImageDirs(t *testing.T) {
	root := projectRoot(t)
	entries, err := os.ReadDir(filepath.Join(root, "images"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dirs = append(dirs, e.Name())
		if _, err := os.Stat(filepath.Join(root, "images", e.Name(), "Dockerfile")); err != nil {
			t.Errorf("images/%s has no Dockerfile", e.Name())
		}
	}
	want := map[string]string{"manager": ManagerRepo, "polecat": RunnerRepo}
	for _, a := range []gastownv1.AgentType{gastownv1.AgentClaudeCode, gastownv1.AgentOpenCode, gastownv1.AgentAider} {
		want[string(a)] = AgentRepo(a)
	}
	published := publishedImages(t)
	for _, dir := range dirs {
		repo, ok := want[dir]
		switch {
		case !ok:
			t.Errorf("images/%s is not an image this test knows", dir)
		case published[dir] != version.Image(repo):
			t.Errorf("make publishes images/%s as %q, want %s", dir, published[dir], version.Image(repo))
		}
	}
	for dir := range published {
		if !slices.Contains(dirs, dir) {
			t.Errorf("images/images.mk builds images/%s, which does not exist", dir)
		}
	}
}

var (
	argLine = regexp.MustCompile(`^ARG\s+([A-Za-z0-9_]+)(?:=(\S*))?\s*$`)
	useRef  = regexp.MustCompile(`\$\{?([A-Z0-9_]+)\}?`)
	golang  = regexp.MustCompile(`^FROM\s+(?:--platform=\S+\s+)?golang:(\d+\.\d+)`)
	goMod   = regexp.MustCompile(`(?m)^go (\d+\.\d+)`)
)

// TestDockerfilesPinVersionsEnv keeps the versions pinned in one place:
// every ARG default of a pinned name equals images/versions.env, every
// Dockerfile that uses a pinned name declares it with that default, and
// every pin is used. The Go builders use go.mod's Go version.
func TestDockerfilesPinVersionsEnv(t *testing.T) {
	root := projectRoot(t)
	pins := versionsEnv(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := goMod.FindSubmatch(mod)
	if goVersion == nil {
		t.Fatal("go.mod has no go line")
	}
	dockerfiles, _ := filepath.Glob(filepath.Join(root, "images", "*", "Dockerfile"))
	if len(dockerfiles) == 0 {
		t.Fatal("no images/*/Dockerfile")
	}
	used := map[string]bool{}
	for _, path := range dockerfiles {
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defaults := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if m := argLine.FindStringSubmatch(line); m != nil && m[2] != "" {
				defaults[m[1]] = m[2]
			}
			if m := golang.FindStringSubmatch(line); m != nil && m[1] != string(goVersion[1]) {
				t.Errorf("%s builds with golang:%s, go.mod says go %s", rel, m[1], goVersion[1])
			}
		}
		for _, m := range useRef.FindAllStringSubmatch(string(b), -1) {
			pin, ok := pins[m[1]]
			if !ok {
				continue
			}
			used[m[1]] = true
			if got, declared := defaults[m[1]]; !declared {
				t.Errorf("%s uses %s without ARG %s=%s", rel, m[1], m[1], pin)
			} else if got != pin {
				t.Errorf("%s: ARG %s=%s, images/versions.env pins %s", rel, m[1], got, pin)
			}
		}
	}
	for name := range pins {
		if !used[name] {
			t.Errorf("images/versions.env pins %s, which no Dockerfile uses", name)
		}
	}
}

// TestMakePassesPins: make images passes every pin as a build arg.
func TestMakePassesPins(t *testing.T) {
	cmd := exec.Command("make", "-n", "-f", "images/images.mk", "images")
	cmd.Dir = projectRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n images: %v\n%s", err, out)
	}
	for name, value := range versionsEnv(t) {
		if arg := "--build-arg " + name + "=" + value; !strings.Contains(string(out), arg) {
			t.Errorf("make images does not pass %s:\n%s", arg, out)
		}
	}
	if !strings.Contains(string(out), "--platform linux/amd64,linux/arm64") {
		t.Errorf("make images does not build for linux/amd64 and linux/arm64:\n%s", out)
	}
}

// TestDockerfilesMatchLocalImages: the published images and the local
// ones agree on what pods rely on: the user, where the programs are, and
// the agents' environment.
func TestDockerfilesMatchLocalImages(t *testing.T) {
	root := projectRoot(t)
	read := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(root, "images", dir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := map[string][]string{
		"manager": {"/manager", `ENTRYPOINT ["/manager"]`},
		"polecat": {polecat.DefaultRunnerPath, `ENTRYPOINT ["` + polecat.DefaultRunnerPath + `"]`},
	}
	for agent, spec := range agentSpecs {
		want[string(agent)] = append([]string{
			"/usr/local/bin/" + spec.command, "SHELL=/bin/bash", "--home-dir " + polecat.HomeDir,
			`CMD ["` + spec.command + `"]`,
		}, spec.env...)
	}
	for dir, wants := range want {
		df := read(dir)
		for _, w := range append(wants, "\nUSER "+user+"\n") {
			if !strings.Contains(df, w) {
				t.Errorf("images/%s/Dockerfile lacks %q, which the local image has", dir, strings.TrimSpace(w))
			}
		}
	}
}
