package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/version"
)

// One version, internal/version/VERSION, for the chart's version and
// appVersion, the README's helm install commands, the image tags make images
// pushes and the operator's default images. The chart and the README are
// written from it by `make version` (hack/check-generated.sh catches drift);
// these checks say which file is off.

const fix = "set the version in internal/version/VERSION only and run 'make version'"

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestChartVersionIsVERSION(t *testing.T) {
	var chart struct {
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "charts/gastown-operator/Chart.yaml")), &chart); err != nil {
		t.Fatal(err)
	}
	if chart.Version != version.Version || chart.AppVersion != version.Version {
		t.Errorf("charts/gastown-operator/Chart.yaml has version %q and appVersion %q, internal/version/VERSION is %q: %s",
			chart.Version, chart.AppVersion, version.Version, fix)
	}
}

// The --version of every `helm install ... oci://ghcr.io/boshu2/charts/...`
// command in the README and the docs.
var helmInstallVersion = regexp.MustCompile(`helm install [^\n]*oci://ghcr\.io/boshu2/charts/gastown-operator(?:[^\n]*\\\n)*?[^\n]*--version[ =](\S+)`)

func TestDocsInstallVERSION(t *testing.T) {
	files := []string{"README.md"}
	docs, _ := filepath.Glob(filepath.Join(root(t), "docs", "*.md"))
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	readme := 0
	for _, f := range files {
		for _, m := range helmInstallVersion.FindAllStringSubmatch(readFile(t, f), -1) {
			if f == "README.md" {
				readme++
			}
			if m[1] != version.Version {
				t.Errorf("%s: `helm install ... --version %s`, internal/version/VERSION is %q: %s", f, m[1], version.Version, fix)
			}
		}
	}
	if readme < 2 {
		t.Errorf("README.md: found %d `helm install oci://ghcr.io/boshu2/charts/gastown-operator ... --version` commands, want the standard and the OpenShift one", readme)
	}
}

// make images tags each image as the operator's defaults name it.
func TestImageTagsAreVERSION(t *testing.T) {
	cmd := exec.Command("make", "-s", "--no-print-directory", "image-names")
	cmd.Dir = root(t)
	// make's defaults, not the variables of a make this test runs under.
	cmd.Env = without(os.Environ(), "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "VERSION", "IMAGE_REGISTRY")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make image-names: %v", err)
	}
	want := map[string]string{
		"manager": version.Image("gastown-operator"),
		"polecat": polecat.DefaultRunnerImage,
	}
	for _, agent := range []gastownv1.AgentType{gastownv1.AgentClaudeCode, gastownv1.AgentOpenCode, gastownv1.AgentAider} {
		want[string(agent)] = polecat.DefaultAgentImage(agent)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if dir, ref, ok := strings.Cut(line, " "); ok {
			got[dir] = ref
		}
	}
	for dir, ref := range want {
		if !strings.HasSuffix(ref, ":v"+version.Version) {
			t.Errorf("the operator's default image for %s is %s, not at internal/version/VERSION %q", dir, ref, version.Version)
		}
		if got[dir] != ref {
			t.Errorf("make images tags images/%s as %q, the operator defaults to %q (images/images.mk, internal/polecat/settings.go)", dir, got[dir], ref)
		}
	}
}

// without drops the variables names from env.
func without(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// ci.yml sets up the Go of go.mod's go line (GOTOOLCHAIN=local builds with it).
func TestWorkflowGoIsGoMod(t *testing.T) {
	gomod := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readFile(t, "go.mod"))
	if gomod == nil {
		t.Fatal("go.mod has no go line")
	}
	for _, wf := range []string{".github/workflows/ci.yml"} {
		for _, m := range regexp.MustCompile(`go-version: "?([0-9.x]+)"?`).FindAllStringSubmatch(readFile(t, wf), -1) {
			if m[1] != gomod[1]+".x" {
				t.Errorf("%s sets up Go %s, go.mod's go line is %s: set go-version: %q", wf, m[1], gomod[1], gomod[1]+".x")
			}
		}
	}
}
