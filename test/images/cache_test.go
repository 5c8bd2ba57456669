package images

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPruneKeepsTheNewest: of one image's tarballs, the newest keep stay;
// other images' tarballs are not touched.
func TestPruneKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := range keep + 2 {
		p := filepath.Join(dir, "gastown-polecat_v1_"+string(rune('a'+i))+".tar")
		must(t, os.WriteFile(p, nil, 0o644))
		at := time.Now().Add(time.Duration(i) * time.Minute)
		must(t, os.Chtimes(p, at, at))
		names = append(names, filepath.Base(p))
	}
	must(t, os.WriteFile(filepath.Join(dir, "gastown-polecat-x_v1_a.tar"), nil, 0o644))
	prune(dir, "gastown-polecat")
	left, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	var got []string
	for _, p := range left {
		got = append(got, filepath.Base(p))
	}
	want := append(slices.Clone(names[2:]), "gastown-polecat-x_v1_a.tar")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("prune left %v, want %v", got, want)
	}
}

// TestSumsRemembersByStamp: a big file's digest is remembered, and a
// change to the file is seen.
func TestSumsRemembersByStamp(t *testing.T) {
	dir := t.TempDir()
	s := &sums{dir: filepath.Join(dir, "sums")}
	p := filepath.Join(dir, "big")
	content := make([]byte, minRemembered)
	must(t, os.WriteFile(p, content, 0o644))
	digest := func(b []byte) string { d := sha256.Sum256(b); return hex.EncodeToString(d[:]) }

	for range 2 {
		got, err := s.file(p)
		must(t, err)
		if got != digest(content) {
			t.Errorf("digest %s, want %s", got, digest(content))
		}
	}
	if memos, _ := filepath.Glob(filepath.Join(s.dir, "*.json")); len(memos) != 1 {
		t.Errorf("remembered %d digests, want 1", len(memos))
	}
	content = append(content, 1)
	must(t, os.WriteFile(p, content, 0o644))
	if got, err := s.file(p); err != nil || got != digest(content) {
		t.Errorf("after a change: digest %s, %v; want %s", got, err, digest(content))
	}
}
