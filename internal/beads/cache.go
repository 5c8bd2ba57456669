package beads

import (
	"crypto/sha256"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// ParseCache keeps the parse of each file of the last Load that used it, by
// the file's path and content: a revision that changed a few bead files
// (most commits change none) parses only those. It keeps the files of the
// last Load only. One Load at a time may use it; the zero value is ready.
type ParseCache struct {
	format gastownv1.BeadFormat
	files  map[string]cachedFile
	// next collects the files of the Load under way.
	next map[string]cachedFile
}

type cachedFile struct {
	sum    [sha256.Size]byte
	parsed parsedFile
}

// begin starts a Load of format: a cache of another format starts over.
func (c *ParseCache) begin(format gastownv1.BeadFormat) {
	if c == nil {
		return
	}
	if c.format != format {
		c.files = nil
	}
	c.format, c.next = format, map[string]cachedFile{}
}

// end keeps the files of the Load just done, and forgets the others.
func (c *ParseCache) end() {
	if c == nil {
		return
	}
	c.files, c.next = c.next, nil
}

// parse returns the parse of file's data, from the cache when the data is
// what was parsed before.
func (c *ParseCache) parse(file string, data []byte, parse func(string, []byte) parsedFile) parsedFile {
	if c == nil {
		return parse(file, data)
	}
	sum := sha256.Sum256(data)
	f, ok := c.files[file]
	if !ok || f.sum != sum {
		f = cachedFile{sum: sum, parsed: parse(file, data)}
	}
	c.next[file] = f
	// Shared with the cache: Load copies the items into lists of its own
	// before it sorts or appends, and reads them only.
	return f.parsed
}
