package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// load reads an image back from its tarball, by its name, as an importer
// does.
func load(t *testing.T, img Image) v1.Image {
	t.Helper()
	tag, err := name.NewTag(img.Name)
	if err != nil {
		t.Fatal(err)
	}
	i, err := tarball.ImageFromPath(img.Tarball, &tag)
	if err != nil {
		t.Fatalf("%s: %v", img.Tarball, err)
	}
	return i
}

// contents returns an image's config and its only layer's entries by path
// ("/usr/bin/git"), and unpacks the layer into dir unless dir is empty.
func contents(t *testing.T, img Image, dir string) (*v1.ConfigFile, map[string]*tar.Header) {
	t.Helper()
	i := load(t, img)
	cfg, err := i.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := i.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%s has %d layers, want 1", img.Name, len(layers))
	}
	r, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var root *os.Root
	if dir != "" {
		if root, err = os.OpenRoot(dir); err != nil {
			t.Fatal(err)
		}
		defer root.Close()
	}
	files := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", img.Name, err)
		}
		p := "/" + strings.TrimSuffix(hdr.Name, "/")
		if _, dup := files[p]; dup {
			t.Errorf("%s: %s is in the layer twice", img.Name, p)
		}
		files[p] = hdr
		if root != nil {
			if err := unpackEntry(root, hdr, tr); err != nil {
				t.Fatalf("unpacking %s: %v", p, err)
			}
		}
	}
	return cfg, files
}

// unpackEntry writes one tar entry inside root, which keeps every path
// (and every symlink it follows) inside the unpacked image.
func unpackEntry(root *os.Root, hdr *tar.Header, r io.Reader) error {
	name := strings.TrimSuffix(hdr.Name, "/")
	mode := os.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(name, mode); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		// Mkdir applies the umask; the sticky bit of /tmp matters too.
		if hdr.Mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return root.Lchown(name, hdr.Uid, hdr.Gid)
	case tar.TypeReg:
		f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
	default:
		return errors.New("unexpected entry type " + string(hdr.Typeflag))
	}
	return root.Chown(name, hdr.Uid, hdr.Gid)
}

// resolve follows symlinks through an image's entries as the kernel would
// inside the image, and returns the entry that p names, or nil.
func resolve(files map[string]*tar.Header, p string) *tar.Header {
	for range maxLinks {
		cur, next := "/", ""
		parts := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
		for i, c := range parts {
			h := files[path.Join(cur, c)]
			if h == nil {
				return nil
			}
			if h.Typeflag == tar.TypeSymlink {
				target := h.Linkname
				if !path.IsAbs(target) {
					target = path.Join(cur, target)
				}
				next = path.Join(append([]string{target}, parts[i+1:]...)...)
				break
			}
			cur = path.Join(cur, c)
		}
		if next == "" {
			return files[cur]
		}
		p = next
	}
	return nil
}

// chrootEnv tells the test binary to act as runIn's helper: the variable
// holds the unpacked image's directory.
const chrootEnv = "GASTOWN_TEST_IMAGES_CHROOT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(chrootEnv); dir != "" {
		chrootExec(dir, os.Args[1:])
	}
	os.Exit(m.Run())
}

// runIn runs a program of an unpacked image as a container runtime would,
// and returns its output: chrooted into it, with /proc and /dev (the runner
// and the agent CLIs read /proc/self/exe; git opens /dev/null), as the
// image's user (65532), with the image's environment and HOME=/tmp, which
// is as writable as a pod's emptyDir. It needs root.
//
// The test binary itself is the helper that mounts, chroots and execs, in a
// mount namespace of its own, so that the mounts end with it.
func runIn(t *testing.T, dir string, cfg *v1.ConfigFile, args ...string) string {
	t.Helper()
	for _, d := range []string{"proc", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(append([]string{chrootEnv + "=" + dir}, cfg.Config.Env...), "HOME=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s in the image unpacked in %s (this needs root): %v\n%s", strings.Join(args, " "), dir, err, out.Bytes())
	}
	return out.String()
}

// chrootExec is runIn's helper, in its own mount namespace (whose mounts
// os/exec made private): it never returns.
func chrootExec(dir string, args []string) {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "chroot helper: %s: %v\n", what, err)
		os.Exit(125)
	}
	for _, d := range []string{"/proc", "/dev"} {
		if err := syscall.Mount(d, filepath.Join(dir, d), "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			fail("mount "+d, err)
		}
	}
	if err := syscall.Chroot(dir); err != nil {
		fail("chroot", err)
	}
	if err := syscall.Chdir("/tmp"); err != nil {
		fail("chdir", err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		fail("setgroups", err)
	}
	if err := syscall.Setgid(uid); err != nil {
		fail("setgid", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		fail("setuid", err)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, chrootEnv+"=") })
	fail("exec "+args[0], syscall.Exec(args[0], args, env))
}
