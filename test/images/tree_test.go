package images

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTreeHostFollowsSymlinks: a host file reached through symlinks lands
// at its real path, and each symlink on the way is in the image, so that
// every name of the file works there.
func TestTreeHostFollowsSymlinks(t *testing.T) {
	d := t.TempDir()
	// d/lib -> usr/lib, d/usr/lib/libx.so.1 -> libx.so.1.2 (relative),
	// d/lib64/ld.so -> d/lib/real-ld.so (absolute, through d/lib).
	for _, p := range []string{"usr/lib", "lib64"} {
		if err := os.MkdirAll(filepath.Join(d, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Symlink("usr/lib", filepath.Join(d, "lib")))
	must(t, os.WriteFile(filepath.Join(d, "usr/lib/libx.so.1.2"), []byte("x"), 0o644))
	must(t, os.Symlink("libx.so.1.2", filepath.Join(d, "usr/lib/libx.so.1")))
	must(t, os.WriteFile(filepath.Join(d, "usr/lib/real-ld.so"), []byte("ld"), 0o755))
	must(t, os.Symlink(filepath.Join(d, "lib/real-ld.so"), filepath.Join(d, "lib64/ld.so")))

	tr := newTree()
	must(t, tr.host(filepath.Join(d, "lib/libx.so.1")))
	must(t, tr.host(filepath.Join(d, "lib64/ld.so")))
	// Twice is fine: programs share libraries.
	must(t, tr.host(filepath.Join(d, "lib/libx.so.1")))

	want := map[string]kind{
		"lib":                  symlinkKind,
		"usr/lib/libx.so.1":    symlinkKind,
		"usr/lib/libx.so.1.2":  fileKind,
		"lib64/ld.so":          symlinkKind,
		"usr/lib/real-ld.so":   fileKind,
		"usr/lib":              dirKind,
		"lib64":                dirKind,
		"usr":                  dirKind,
		"":                     dirKind,
		"lib/libx.so.1 (none)": 0,
	}
	for rel, k := range want {
		p := filepath.Join(d, strings.TrimSuffix(rel, " (none)"))
		e := tr.entries[p]
		switch {
		case k == 0 && e != nil:
			t.Errorf("%s is stored below a symlink", p)
		case k != 0 && (e == nil || e.kind != k):
			t.Errorf("%s: %+v, want kind %c", p, e, k)
		}
	}
	if e := tr.entries[filepath.Join(d, "usr/lib/real-ld.so")]; e.mode != 0o755 {
		t.Errorf("real-ld.so has mode %o, want the host's 755", e.mode)
	}
}

// TestTreePutFollowsTreeSymlinks: adding /bin/sh when /bin links to
// usr/bin stores it as /usr/bin/sh; a conflicting entry is refused.
func TestTreePutFollowsTreeSymlinks(t *testing.T) {
	tr := newTree()
	must(t, tr.symlink("/bin", "usr/bin"))
	must(t, tr.symlink("/bin/sh", "/bin/busybox"))
	if e := tr.entries["/usr/bin/sh"]; e == nil || e.kind != symlinkKind {
		t.Errorf("/bin/sh was not stored as /usr/bin/sh: %v", tr.paths())
	}
	if !tr.has("/bin/sh") || !tr.has("/usr/bin/sh") {
		t.Error("has does not find /bin/sh")
	}
	if err := tr.data("/usr/bin/sh", []byte("#!"), 0o755); err == nil {
		t.Error("a file replaced the symlink /usr/bin/sh")
	}
	paths := tr.paths()
	for i, p := range paths {
		if i > 0 && !strings.HasPrefix(p, "/") {
			t.Errorf("path %q is not absolute", p)
		}
	}
	if paths[0] != "/" || !slices.IsSorted(paths) {
		t.Errorf("paths %v are not in order", paths)
	}
}

// TestLayerIsReproducible: the same tree makes the same layer, so that a
// digest computed once matches the stream written later.
func TestLayerIsReproducible(t *testing.T) {
	build := func() *treeLayer {
		tr, err := baseTree("/home/x", "/bin/sh")
		must(t, err)
		must(t, tr.data("/a/b", []byte("hello"), 0o600))
		l, err := newTreeLayer(tr)
		must(t, err)
		return l
	}
	a, b := build(), build()
	if a.digest != b.digest || a.diffID != b.diffID || a.size != b.size {
		t.Errorf("two layers of one tree differ: %+v, %+v", a, b)
	}
}

func TestParseLdd(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f45)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f45)\n"
	libs, err := parseLdd("prog", out)
	must(t, err)
	if want := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}; !slices.Equal(libs, want) {
		t.Errorf("parseLdd = %q, want %q", libs, want)
	}
	if _, err := parseLdd("prog", "\tlibfoo.so.1 => not found\n"); err == nil || !strings.Contains(err.Error(), "libfoo.so.1") {
		t.Errorf("a missing library gave %v, want an error naming it", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
