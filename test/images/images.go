package images

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/testenv"
	"github.com/boshu2/gastown-operator/internal/version"
)

// Repositories of the images under version.Registry, as images/images.mk
// publishes them.
const (
	RunnerRepo  = "gastown-polecat"
	ManagerRepo = "gastown-operator"
)

// AgentRepo is the repository of an agent's image, e.g.
// gastown-agent-claude-code.
func AgentRepo(agent gastownv1.AgentType) string { return "gastown-agent-" + string(agent) }

// Options say which images Build makes, and where it keeps them.
type Options struct {
	// Version is the images' tag without its "v". The default,
	// version.Version, gives the operator's default image names.
	Version string
	// CacheDir holds the tarballs; default DefaultCacheDir().
	CacheDir string
	// Agents are the agents whose images are built besides the runner's and
	// the manager's: claude-code and opencode. aider has no local image.
	Agents []gastownv1.AgentType
	// Logf, when set, reports what is built and how long it took, e.g.
	// testing.T.Logf.
	Logf func(format string, args ...any)
}

// Image is an image Build made or found.
type Image struct {
	// Name is the image's reference, e.g.
	// ghcr.io/boshu2/gastown-polecat:v0.4.0.
	Name string
	// Tarball is a docker-archive with the image tagged Name, for
	// `ctr images import`. It is the cache's file: read it, do not change
	// or remove it.
	Tarball string
	// Size of the tarball, in bytes.
	Size int64
	// Cached is true when the tarball was already in the cache.
	Cached bool
}

// Set are the images of one Build.
type Set struct {
	// Runner is images/polecat: the operator's default runner image.
	Runner Image
	// Manager is images/manager.
	Manager Image
	// Agents are the agent images asked for, by agent.
	Agents map[gastownv1.AgentType]Image
}

// All returns the set's images: the runner, the manager, then the agents
// in name order.
func (s Set) All() []Image {
	all := []Image{s.Runner, s.Manager}
	for _, a := range slices.Sorted(maps.Keys(s.Agents)) {
		all = append(all, s.Agents[a])
	}
	return all
}

// DefaultCacheDir is ~/.cache/gastown-operator/images (under
// $XDG_CACHE_HOME when set), beside hack/testbin.sh's and
// hack/agent-clis.sh's caches; $GASTOWN_IMAGES overrides it.
func DefaultCacheDir() string {
	if d := os.Getenv("GASTOWN_IMAGES"); d != "" {
		return d
	}
	return testenv.UserCacheDir("images")
}

// Build makes the runner's and the manager's images, and those of
// o.Agents, or finds them in the cache. The Go programs are compiled every
// time (go build relinks only what changed) and keyed by their content; the
// agent CLIs come from hack/agent-clis.sh. A missing input fails the build
// with how to get it. Builds sharing a cache directory, in any process, run
// one at a time.
func Build(ctx context.Context, o Options) (Set, error) {
	b, err := newBuilder(o)
	if err != nil {
		return Set{}, err
	}
	unlock, err := lock(b.dir)
	if err != nil {
		return Set{}, err
	}
	defer unlock()
	removeStale(b.dir)

	start := time.Now()
	runnerBin, managerBin, err := goBinaries(ctx, b.root, b.bin)
	if err != nil {
		return Set{}, err
	}
	b.logf("images: built the runner and the manager in %s", since(start))

	set := Set{Agents: map[gastownv1.AgentType]Image{}}
	t, cfg, err := goImage(runnerBin, polecat.DefaultRunnerPath)
	if err == nil {
		set.Runner, err = b.image(RunnerRepo, t, cfg)
	}
	if err != nil {
		return Set{}, fmt.Errorf("runner image: %w", err)
	}
	t, cfg, err = goImage(managerBin, "/manager")
	if err == nil {
		set.Manager, err = b.image(ManagerRepo, t, cfg)
	}
	if err != nil {
		return Set{}, fmt.Errorf("manager image: %w", err)
	}
	for _, agent := range o.Agents {
		img, err := b.agent(ctx, agent)
		if err != nil {
			return Set{}, fmt.Errorf("%s image: %w", agent, err)
		}
		set.Agents[agent] = img
	}
	return set, nil
}

// builder is one Build's settings.
type builder struct {
	version, dir, root string
	// bin holds the Go programs. It persists: go build skips linking a
	// program that is up to date there, which saves seconds.
	bin  string
	sums *sums
	logf func(string, ...any)
}

func newBuilder(o Options) (*builder, error) {
	for _, a := range o.Agents {
		if _, ok := agentSpecs[a]; !ok {
			if a == gastownv1.AgentAider {
				return nil, fmt.Errorf("aider has no local image: it is a PyPI package, which cannot be " +
					"installed here (make image-aider builds the published one)")
			}
			return nil, fmt.Errorf("no image for agent %q: the local agent images are %v", a, slices.Sorted(maps.Keys(agentSpecs)))
		}
	}
	if len(o.Agents) > 0 {
		if err := checkHostTools(); err != nil {
			return nil, err
		}
	}
	b := &builder{version: o.Version, dir: o.CacheDir, logf: o.Logf}
	if b.version == "" {
		b.version = version.Version
	}
	if b.dir == "" {
		b.dir = DefaultCacheDir()
	}
	if b.logf == nil {
		b.logf = func(string, ...any) {}
	}
	b.sums = &sums{dir: filepath.Join(b.dir, "sums")}
	var err error
	if b.root, err = testenv.ProjectRoot(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	b.bin = filepath.Join(b.dir, "bin", "linux-"+runtime.GOARCH)
	return b, nil
}

func (b *builder) agent(ctx context.Context, agent gastownv1.AgentType) (Image, error) {
	spec := agentSpecs[agent]
	cli, err := agentCLI(ctx, b.root, spec.cli)
	if err != nil {
		return Image{}, err
	}
	t, cfg, err := agentImage(ctx, spec, cli)
	if err != nil {
		return Image{}, err
	}
	return b.image(AgentRepo(agent), t, cfg)
}

// image returns the cached tarball of a tree and config, writing it first
// when the cache has none.
func (b *builder) image(repo string, t *tree, cfg v1.Config) (Image, error) {
	ref := version.Registry + "/" + repo + ":v" + b.version
	tag, err := name.NewTag(ref)
	if err != nil {
		return Image{}, err
	}
	start := time.Now()
	key, err := imageKey(ref, cfg, t, b.sums)
	if err != nil {
		return Image{}, err
	}
	img := Image{Name: ref, Tarball: tarballPath(b.dir, repo, b.version, key)}
	if fi, err := os.Stat(img.Tarball); err == nil {
		// The newest tarballs are the ones prune keeps.
		now := time.Now()
		_ = os.Chtimes(img.Tarball, now, now)
		img.Size, img.Cached = fi.Size(), true
		b.logf("images: %s is cached (%s)", ref, since(start))
		return img, nil
	}
	layer, err := newTreeLayer(t)
	if err != nil {
		return Image{}, err
	}
	image, err := imageOf(repo, layer, cfg)
	if err != nil {
		return Image{}, err
	}
	if err := writeAtomic(img.Tarball, func(w io.Writer) error { return tarball.Write(tag, image, w) }); err != nil {
		return Image{}, fmt.Errorf("writing %s: %w", img.Tarball, err)
	}
	prune(b.dir, repo)
	fi, err := os.Stat(img.Tarball)
	if err != nil {
		return Image{}, err
	}
	img.Size = fi.Size()
	b.logf("images: built %s, %d MB, in %s", ref, img.Size>>20, since(start))
	return img, nil
}

// imageOf is an image of one layer with cfg, for linux on this machine's
// architecture.
func imageOf(repo string, layer v1.Layer, cfg v1.Config) (v1.Image, error) {
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "test/images: " + repo},
	})
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
