package images

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// cacheFormat is part of every cache key: change it when the same inputs
// should make different tarballs (a change to how this package lays them
// out).
const cacheFormat = "gastown-operator/test/images 1"

// keep is how many tarballs of one image stay in the cache: the newest
// (a cache hit makes a tarball the newest). Without a limit, every change
// to the runner's code would leave another tarball behind.
const keep = 3

// imageKey is a digest of everything that goes into an image's tarball:
// its name, its config and every entry of its tree, files by content.
func imageKey(ref string, config any, t *tree, sums *sums) (string, error) {
	h := sha256.New()
	cfg, err := json.Marshal(config)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%s\n%s\n%s\n", cacheFormat, ref, cfg)
	for _, p := range t.paths() {
		e := t.entries[p]
		content := ""
		if e.kind == fileKind {
			if e.src == "" {
				d := sha256.Sum256(e.data)
				content = hex.EncodeToString(d[:])
			} else if content, err = sums.file(e.src); err != nil {
				return "", err
			}
		}
		fmt.Fprintf(h, "%q %c %o %d %d %q %s\n", p, e.kind, e.mode, e.uid, e.gid, e.target, content)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sums are the SHA-256 digests of host files. Digesting the agent binaries
// takes seconds, so a digest is remembered on disk by the file's path, size,
// modification time and inode, as git's index does: a rerun with unchanged
// binaries reads none of them.
type sums struct {
	dir string
}

// minRemembered is the smallest file whose digest is remembered.
const minRemembered = 4 << 20

// stamp identifies a version of a file without reading it.
type stamp struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"`
	Inode uint64 `json:"inode"`
}

type remembered struct {
	stamp
	Digest string `json:"digest"`
}

func (s *sums) file(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	st := stamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Inode = sys.Ino
	}
	memo := filepath.Join(s.dir, fmt.Sprintf("%x.json", sha256.Sum256([]byte(path))))
	if fi.Size() >= minRemembered {
		var r remembered
		if b, err := os.ReadFile(memo); err == nil && json.Unmarshal(b, &r) == nil && r.stamp == st {
			return r.Digest, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest of %s: %w", path, err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	if fi.Size() >= minRemembered {
		b, _ := json.Marshal(remembered{stamp: st, Digest: digest})
		if err := writeAtomic(memo, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return "", err
		}
	}
	return digest, nil
}

// writeAtomic writes a file through a temporary file beside it and a
// rename, so that a reader (another test process) sees all of it or
// nothing, and an interrupted build leaves only a temporary file.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// tmpPrefix starts the names of temporary files in the cache.
const tmpPrefix = ".tmp-"

// removeStale removes the temporary files that interrupted builds left in
// dir. It runs under the cache's lock, so no running build owns any.
func removeStale(dir string) {
	olds, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*"))
	olds2, _ := filepath.Glob(filepath.Join(dir, "sums", tmpPrefix+"*"))
	for _, p := range append(olds, olds2...) {
		os.Remove(p)
	}
}

// lock takes the cache's lock, waiting for it: test packages run in
// parallel processes, and two Builds at once would rebuild the Go programs
// under each other and write the same agent image twice. The second one
// finds the first's tarballs instead.
func lock(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

// tarballPath is where an image's tarball with a key is cached:
// <repository>_v<version>_<key>.tar. Repository names have no "_".
func tarballPath(dir, repo, version, key string) string {
	return filepath.Join(dir, fmt.Sprintf("%s_v%s_%s.tar", repo, version, key[:20]))
}

// prune removes all but the newest keep tarballs of a repository.
func prune(dir, repo string) {
	paths, _ := filepath.Glob(filepath.Join(dir, repo+"_*.tar"))
	type aged struct {
		path string
		mod  time.Time
	}
	var all []aged
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			all = append(all, aged{p, fi.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for i := keep; i < len(all); i++ {
		os.Remove(all[i].path)
	}
}
