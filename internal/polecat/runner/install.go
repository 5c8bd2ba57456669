package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/boshu2/gastown-operator/internal/polecat"
)

// Install copies the running binary into dir as polecat.RunnerName. The
// install-runner init container runs it from the runner image so that the
// agent container, built from another image, can run the runner from the
// shared volume.
func Install(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("install: find the runner binary: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	defer src.Close()

	// Write to a temporary name and rename, so that a half-written binary
	// is never run.
	tmp, err := os.CreateTemp(dir, "."+polecat.RunnerName+"-")
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("install: copy to %s: %w", dir, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return fmt.Errorf("install: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	dst := filepath.Join(dir, polecat.RunnerName)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}
