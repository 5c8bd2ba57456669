package images

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
)

// kind is what a tree entry is.
type kind byte

const (
	dirKind     kind = 'd'
	fileKind    kind = 'f'
	symlinkKind kind = 'l'
)

// entry is one file of an image's filesystem.
type entry struct {
	kind kind
	// mode holds the Unix permission bits, as in a tar header (0o1777).
	mode     int64
	uid, gid int
	// src is the host file a fileKind entry is copied from; data is the
	// content of one that has no src.
	src    string
	data   []byte
	target string
}

func (e *entry) equal(o *entry) bool {
	return e.kind == o.kind && e.mode == o.mode && e.uid == o.uid && e.gid == o.gid &&
		e.src == o.src && bytes.Equal(e.data, o.data) && e.target == o.target
}

// tree is an image's filesystem being assembled, by absolute clean path.
// Entries are always stored where they land after following the tree's
// own symlinks (/bin/sh is stored as /usr/bin/sh when /bin links to
// usr/bin), so that no layer entry lies below a symlink: unpackers differ
// on those, and a host-side extraction could follow one out of its root.
type tree struct {
	entries map[string]*entry
}

func newTree() *tree { return &tree{entries: map[string]*entry{"/": {kind: dirKind, mode: 0o755}}} }

// maxLinks bounds symlink chains, as the kernel's ELOOP does.
const maxLinks = 40

// resolveDir returns where dir lands in the tree after following its
// symlinks; components that do not exist yet are kept as they are.
func (t *tree) resolveDir(dir string) (string, error) {
	return t.resolveDirDepth(path.Clean("/"+dir), 0)
}

func (t *tree) resolveDirDepth(dir string, depth int) (string, error) {
	if depth > maxLinks {
		return "", fmt.Errorf("%s: too many levels of symbolic links", dir)
	}
	cur := "/"
	for _, c := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if c == "" {
			continue
		}
		next := path.Join(cur, c)
		e := t.entries[next]
		switch {
		case e == nil || e.kind == dirKind:
			cur = next
		case e.kind == symlinkKind:
			target := e.target
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			resolved, err := t.resolveDirDepth(target, depth+1)
			if err != nil {
				return "", err
			}
			cur = resolved
		default:
			return "", fmt.Errorf("%s: %s is a file, not a directory", dir, next)
		}
	}
	return cur, nil
}

// put stores e at p, making missing parent directories. Storing what is
// already there is a no-op, so that shared libraries may be added once for
// each program that needs them; anything else already there is an error.
func (t *tree) put(p string, e *entry) (string, error) {
	dir, err := t.resolveDir(path.Dir(path.Clean("/" + p)))
	if err != nil {
		return "", err
	}
	t.mkdirAll(dir)
	full := path.Join(dir, path.Base(p))
	if old, ok := t.entries[full]; ok {
		if old.equal(e) {
			return full, nil
		}
		return "", fmt.Errorf("%s is already in the image as something else", full)
	}
	t.entries[full] = e
	return full, nil
}

// mkdirAll adds the directories of a resolved path that are missing.
func (t *tree) mkdirAll(dir string) {
	for d := dir; d != "/"; d = path.Dir(d) {
		if _, ok := t.entries[d]; ok {
			return
		}
		t.entries[d] = &entry{kind: dirKind, mode: 0o755}
	}
}

// has reports whether p (after following symlinks in its parents) is in the
// tree.
func (t *tree) has(p string) bool {
	dir, err := t.resolveDir(path.Dir(path.Clean("/" + p)))
	if err != nil {
		return false
	}
	_, ok := t.entries[path.Join(dir, path.Base(p))]
	return ok
}

// dir adds a directory owned by uid and gid.
func (t *tree) dir(p string, mode int64, uid, gid int) error {
	_, err := t.put(p, &entry{kind: dirKind, mode: mode, uid: uid, gid: gid})
	return err
}

// file adds a copy of the host file src at p.
func (t *tree) file(p, src string, mode int64) error {
	_, err := t.put(p, &entry{kind: fileKind, mode: mode, src: src})
	return err
}

// data adds a file holding data at p.
func (t *tree) data(p string, data []byte, mode int64) error {
	_, err := t.put(p, &entry{kind: fileKind, mode: mode, data: data})
	return err
}

// symlink adds a symlink at p to target.
func (t *tree) symlink(p, target string) error {
	_, err := t.put(p, &entry{kind: symlinkKind, mode: 0o777, target: target})
	return err
}

// host copies a host file into the tree at the same path, with every
// symlink met on the way (in the path or as the file itself), so that each
// name by which programs find it (/lib64/ld-linux-x86-64.so.2, ldd's
// /lib/x86_64-linux-gnu/libc.so.6 on a merged-/usr system) works in the
// image as on the host.
func (t *tree) host(p string) error { return t.hostDepth(path.Clean(p), 0) }

func (t *tree) hostDepth(p string, depth int) error {
	if depth > maxLinks {
		return fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	cur := "/"
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, c := range parts {
		next := path.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if err := t.symlink(next, target); err != nil {
				return err
			}
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			return t.hostDepth(path.Join(append([]string{target}, parts[i+1:]...)...), depth+1)
		case fi.IsDir():
			cur = next
		case fi.Mode().IsRegular() && i == len(parts)-1:
			return t.file(next, next, int64(fi.Mode().Perm()))
		default:
			return fmt.Errorf("%s: not a regular file, directory or symlink", next)
		}
	}
	return fmt.Errorf("%s is a directory, not a file", p)
}

// paths returns the tree's paths in order; a directory is a prefix of its
// contents' paths, so it comes before them.
func (t *tree) paths() []string { return slices.Sorted(maps.Keys(t.entries)) }
