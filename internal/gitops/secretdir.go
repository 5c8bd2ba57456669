package gitops

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadSecretDir reads a secret mounted as a volume into a secret's data map:
// one entry per file. The kubelet's own entries (..data and the timestamped
// directory it points to) are skipped; the key files are symlinks into them
// and are followed. A missing dir reads as no data.
func ReadSecretDir(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secret volume %s: %w", dir, err)
	}
	data := make(map[string][]byte, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("read secret volume %s: %w", dir, err)
		}
		if info.IsDir() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read secret volume %s: %w", dir, err)
		}
		data[e.Name()] = b
	}
	return data, nil
}
