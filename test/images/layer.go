package images

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is every entry's modification time, so that a tree always makes
// the same bytes.
var epoch = time.Unix(0, 0)

// writeTar writes the tree as a tar stream, in path order, with fixed
// times and no user names.
func (t *tree) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, p := range t.paths() {
		if p == "/" {
			continue
		}
		if err := writeEntry(tw, strings.TrimPrefix(p, "/"), t.entries[p]); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, name string, e *entry) error {
	hdr := &tar.Header{Name: name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: epoch}
	switch e.kind {
	case dirKind:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		return tw.WriteHeader(hdr)
	case symlinkKind:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.target
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	if e.src == "" {
		hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(e.data)
		return err
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	hdr.Size = fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, hdr.Size)
	return err
}

// treeLayer is a layer streamed from a tree. Its digests are computed once,
// by writing it to nowhere; the tarball then gets a second stream, which is
// checked against them. That reads the inputs twice but never stores the
// layer (hundreds of MB for an agent) anywhere but in the tarball.
//
// The layer is gzip without compression: these tarballs never leave the
// machine, and storing keeps both the build and containerd's import of a
// 370 MB binary fast, while docker-archive tarballs must hold gzip layers.
type treeLayer struct {
	tree   *tree
	digest v1.Hash
	diffID v1.Hash
	size   int64
}

var _ v1.Layer = (*treeLayer)(nil)

func newTreeLayer(t *tree) (*treeLayer, error) {
	diff, blob := sha256.New(), sha256.New()
	n := &counter{w: blob}
	if err := writeLayer(t, diff, n); err != nil {
		return nil, err
	}
	return &treeLayer{tree: t, digest: sum(blob), diffID: sum(diff), size: n.n}, nil
}

// writeLayer writes the tree's tar stream to uncompressed and its gzip
// stream to compressed; either may be nil.
func writeLayer(t *tree, uncompressed, compressed io.Writer) error {
	var ws []io.Writer
	var zw *gzip.Writer
	if uncompressed != nil {
		ws = append(ws, uncompressed)
	}
	if compressed != nil {
		// NewWriterLevel fails only on an invalid level.
		zw, _ = gzip.NewWriterLevel(compressed, gzip.NoCompression)
		ws = append(ws, zw)
	}
	if err := t.writeTar(io.MultiWriter(ws...)); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

func (l *treeLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *treeLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *treeLayer) Size() (int64, error)                { return l.size, nil }
func (l *treeLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

// Compressed streams the gzip layer again, failing at its end when it
// differs from what the digest was computed from: an input changed.
func (l *treeLayer) Compressed() (io.ReadCloser, error) {
	return l.stream(l.digest, func(w io.Writer) error { return writeLayer(l.tree, nil, w) }), nil
}

// Uncompressed streams the tar layer again, checked like Compressed.
func (l *treeLayer) Uncompressed() (io.ReadCloser, error) {
	return l.stream(l.diffID, func(w io.Writer) error { return writeLayer(l.tree, w, nil) }), nil
}

func (l *treeLayer) stream(want v1.Hash, write func(io.Writer) error) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	return &checkedReader{r: pr, h: sha256.New(), want: want}
}

// checkedReader passes a stream through, and returns an error instead of
// io.EOF when its digest is not want.
type checkedReader struct {
	r    io.ReadCloser
	h    hash.Hash
	want v1.Hash
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := sum(c.h); got != c.want {
			return n, fmt.Errorf("layer is %s, not %s: a file changed while the image was written", got, c.want)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.r.Close() }

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
