//go:build linux

package node

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one file of an image that BuildImage makes.
type File struct {
	// Data is the file's contents. When it is nil, Source is read instead.
	Data []byte
	// Source is a file on this machine to copy, for contents too big to
	// hold in memory (a compiled program, an agent CLI).
	Source string
	// Mode holds the permission bits. Zero means Source's bits, or 0644.
	Mode fs.FileMode
}

// ImageConfig is what an image says about how to run it.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	// User is "uid" or "uid:gid"; a pod's runAsNonRoot needs it numeric
	// when the pod does not set runAsUser.
	User       string
	WorkingDir string
	Labels     map[string]string
}

// epoch is the time of every file and of the image, so that the same files
// make the same image digest.
var epoch = time.Unix(0, 0).UTC()

// BuildImage writes an image FROM scratch, holding files in one layer (keyed
// by their absolute path in the image), to tarball in the format `docker
// save` writes, which ImportImage and `ctr images import` read. Directories
// are made as needed, owned by root with mode 0755; files are owned by root.
//
// ref is the image's name as pods will name it. A test node cannot pull, so
// the tag must be there and must not be "latest": a pod whose image is
// tagged latest defaults to imagePullPolicy Always, which fails.
func BuildImage(ref string, files map[string]File, cfg ImageConfig, tarballPath string) error {
	tag, err := imageTag(ref)
	if err != nil {
		return err
	}
	entries, err := layerEntries(files)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return layerTar(entries), nil })
	if err != nil {
		return fmt.Errorf("image %s: making its layer: %w", ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: cfg.Entrypoint,
		Cmd:        cfg.Cmd,
		Env:        cfg.Env,
		User:       cfg.User,
		WorkingDir: cfg.WorkingDir,
		Labels:     cfg.Labels,
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(tarballPath), 0o755); err != nil {
		return err
	}
	// Written beside the target and renamed, so that a reader never sees
	// half an image, and two builders of the same image do not collide.
	tmp, err := os.CreateTemp(filepath.Dir(tarballPath), filepath.Base(tarballPath)+".tmp*")
	if err != nil {
		return err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := tarball.WriteToFile(tmp.Name(), tag, img); err != nil {
		return fmt.Errorf("image %s: writing %s: %w", ref, tarballPath, err)
	}
	return os.Rename(tmp.Name(), tarballPath)
}

// imageTag parses ref, insisting on a tag that is not latest.
func imageTag(ref string) (name.Tag, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image name %q: %w", ref, err)
	}
	if !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") || tag.TagStr() == "latest" {
		return name.Tag{}, fmt.Errorf("image name %q needs a tag that is not \"latest\": a pod using latest "+
			"defaults to imagePullPolicy Always, and a test node cannot pull", ref)
	}
	return tag, nil
}

// FilesFromDir returns every regular file under dir, keyed by its path
// relative to dir made absolute ("/bin/tool"), to copy into an image with
// its mode. Symbolic links and other special files are refused.
func FilesFromDir(dir string) (map[string]File, error) {
	files := map[string]File{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files["/"+filepath.ToSlash(rel)] = File{Source: p}
		return nil
	})
	return files, err
}

// entry is one file of a layer, with its mode resolved.
type entry struct {
	path string // relative, cleaned: "bin/tool"
	file File
	mode fs.FileMode
	size int64
}

// layerEntries checks and sorts the files, so that the layer is the same
// every time it is written.
func layerEntries(files map[string]File) ([]entry, error) {
	if len(files) == 0 {
		return nil, errors.New("no files")
	}
	entries := make([]entry, 0, len(files))
	for p, f := range files {
		clean := strings.TrimPrefix(path.Clean("/"+p), "/")
		if clean == "" || clean != strings.TrimPrefix(p, "/") {
			return nil, fmt.Errorf("file path %q is not a clean path to a file", p)
		}
		e := entry{path: clean, file: f, mode: f.Mode.Perm(), size: int64(len(f.Data))}
		if f.Data == nil {
			if f.Source == "" {
				return nil, fmt.Errorf("file %s has neither Data nor Source", p)
			}
			info, err := os.Stat(f.Source)
			if err != nil {
				return nil, err
			}
			if !info.Mode().IsRegular() {
				return nil, fmt.Errorf("source %s of %s is not a regular file", f.Source, p)
			}
			e.size = info.Size()
			if e.mode == 0 {
				e.mode = info.Mode().Perm()
			}
		}
		if e.mode == 0 {
			e.mode = 0o644
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	return entries, nil
}

// layerTar streams the layer's tar: each file preceded by the directories
// above it that came before.
func layerTar(entries []entry) io.ReadCloser {
	r, w := io.Pipe()
	go func() {
		w.CloseWithError(writeLayer(w, entries))
	}()
	return r
}

func writeLayer(w io.Writer, entries []entry) error {
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	for _, e := range entries {
		var parents []string
		for d := path.Dir(e.path); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
			dirs[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: parents[i] + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.path, Mode: int64(e.mode), Size: e.size, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := writeContents(tw, e); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeContents(w io.Writer, e entry) error {
	if e.file.Data != nil {
		_, err := w.Write(e.file.Data)
		return err
	}
	f, err := os.Open(e.file.Source)
	if err != nil {
		return err
	}
	defer f.Close()
	// A source that changed size since it was measured would corrupt the
	// tar: copy exactly the size in the header, and fail when short.
	n, err := io.CopyN(w, f, e.size)
	if err != nil {
		return fmt.Errorf("copying %s (%d of %d bytes): %w", e.file.Source, n, e.size, err)
	}
	return nil
}
