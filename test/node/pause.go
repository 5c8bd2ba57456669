//go:build linux

package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/boshu2/gastown-operator/internal/testenv"
)

// pauseSource is the sandbox program. It is compiled from its source in a
// module of its own, so that the node does not depend on the directory the
// test runs in, and the cache entry is named by the source's hash.
//
//go:embed internal/pause/main.go
var pauseSource []byte

// pauseImage returns the name and tarball of the pause image, building the
// program and the image into the test binary cache the first time.
func pauseImage(ctx context.Context) (ref, tarballPath string, err error) {
	sum := sha256.Sum256(pauseSource)
	id := hex.EncodeToString(sum[:6])
	ref = "gastown.local/pause:" + id
	dir := filepath.Join(testenv.CacheDir(), "pause-"+id)
	tarballPath = filepath.Join(dir, "pause.tar")
	if _, err := os.Stat(tarballPath); err == nil {
		return ref, tarballPath, nil
	}
	work, err := os.MkdirTemp("", "gastown-pause-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte("module pause\n\ngo 1.22\n"), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(work, "main.go"), pauseSource, 0o644); err != nil {
		return "", "", err
	}
	bin := filepath.Join(work, "pause")
	if err := goBuild(ctx, work, ".", bin, "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local"); err != nil {
		return "", "", fmt.Errorf("building the pause program: %w", err)
	}
	files := map[string]File{"/pause": {Source: bin, Mode: 0o755}}
	if err := BuildImage(ref, files, ImageConfig{Entrypoint: []string{"/pause"}}, tarballPath); err != nil {
		return "", "", fmt.Errorf("building the pause image: %w", err)
	}
	return ref, tarballPath, nil
}

// BuildProgram compiles the main package pkg of this project (an import path
// or a ./ path relative to the project root) into a static Linux binary at
// out, for an image FROM scratch: CGO_ENABLED=0, stripped, no file paths.
func BuildProgram(ctx context.Context, pkg, out string) error {
	root, err := testenv.ProjectRoot()
	if err != nil {
		return err
	}
	return goBuild(ctx, root, pkg, out)
}

// goBuild runs go build for a static binary in dir, with env added.
func goBuild(ctx context.Context, dir, pkg, out string, env ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build %s: %w", pkg, err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Env = append(cmd.Env, env...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(output.String()))
	}
	return nil
}
