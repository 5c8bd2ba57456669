package beads

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
)

// Load reads the bead files under dir, a slash path relative to the root of
// fsys (for the BeadStore, the root of the repository artifact; "./x" and
// "/x" both name x there, "" and "." the root itself), validates
// them file by file and as a whole, and returns everything it found. Every
// File in the result is relative to the root of fsys, so it is also the
// file's path in the repository.
//
// Problems in the files are in Set.Errors, never in the error returned: that
// is for a dir that is missing or cannot be read, when there is nothing to
// sync from.
func Load(fsys fs.FS, dir string, opts Options) (*Set, error) {
	dir = path.Clean("./" + dir)
	if err := checkDir(fsys, dir); err != nil {
		return nil, err
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.MaxJSONLSize <= 0 {
		opts.MaxJSONLSize = DefaultMaxJSONLSize
	}
	var files []string
	var err error
	parse := parseManifests
	maxSize := opts.MaxFileSize
	switch opts.Format {
	case "", gastownv1.FormatManifests:
		files, err = manifestFiles(fsys, dir)
	case gastownv1.FormatBeadsJSONL:
		files, err = jsonlFiles(fsys, dir)
		parse = parseJSONL
		maxSize = opts.MaxJSONLSize
	default:
		err = fmt.Errorf("unknown bead format %q: use %s or %s", opts.Format, gastownv1.FormatManifests, gastownv1.FormatBeadsJSONL)
	}
	if err != nil {
		return nil, err
	}

	if opts.Format == gastownv1.FormatBeadsJSONL {
		// One file: its lines stand alone.
		p := readAndParse(fsys, files[0], maxSize, parse)
		return newJSONLSet(files, p, opts.Prefix), nil
	}
	parsed := make([]parsedFile, len(files))
	var beads, convoys, errs int
	for i, file := range files {
		parsed[i] = readAndParse(fsys, file, maxSize, parse)
		beads, convoys, errs = beads+len(parsed[i].beads), convoys+len(parsed[i].convoys), errs+len(parsed[i].errs)
	}
	// Joined once, at their size: a slice grown file by file copies the
	// beads, large structs, over and over. A file's parse is let go once
	// joined, so that the beads are not held twice.
	all := parsedFile{beads: make([]beadItem, 0, beads), convoys: make([]convoyItem, 0, convoys), errs: make([]Error, 0, errs)}
	for i := range parsed {
		all.beads = append(all.beads, parsed[i].beads...)
		all.convoys = append(all.convoys, parsed[i].convoys...)
		all.errs = append(all.errs, parsed[i].errs...)
		parsed[i] = parsedFile{}
	}
	return newSet(files, all, opts.Prefix), nil
}

func checkDir(fsys fs.FS, dir string) error {
	if !fs.ValidPath(dir) {
		return fmt.Errorf("path %q is not a path inside the source", dir)
	}
	info, err := fs.Stat(fsys, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("path %q not found in the source", dir)
	case err != nil:
		return fmt.Errorf("reading path %q: %w", dir, err)
	case !info.IsDir():
		return fmt.Errorf("path %q is not a directory", dir)
	}
	return nil
}

// manifestFiles lists the YAML files under dir at any depth, sorted. A
// directory that cannot be read is an error: its files would otherwise look
// deleted, and their objects be pruned.
func manifestFiles(fsys fs.FS, dir string) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading path %q: %w", p, err)
		}
		if !d.IsDir() && isManifestFile(p) {
			files = append(files, p)
		}
		return nil
	})
	slices.Sort(files)
	return files, err
}

func isManifestFile(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func jsonlFiles(fsys fs.FS, dir string) ([]string, error) {
	file := path.Join(dir, JSONLFile)
	if _, err := fs.Stat(fsys, file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("path %q not found in the source", file)
		}
		return nil, fmt.Errorf("reading path %q: %w", file, err)
	}
	return []string{file}, nil
}

// readAndParse reads one file, refusing what is not a regular file or is
// larger than max, and parses it.
func readAndParse(fsys fs.FS, file string, max int64, parse func(string, []byte) parsedFile) parsedFile {
	data, problem := readFile(fsys, file, max)
	if problem != "" {
		return parsedFile{errs: []Error{{File: file, Line: 1, Message: problem}}}
	}
	return parse(file, data)
}

func readFile(fsys fs.FS, file string, max int64) ([]byte, string) {
	// Lstat: a link could lead out of the source, and its target is not
	// what git holds.
	info, err := fs.Lstat(fsys, file)
	switch {
	case err != nil:
		return nil, fmt.Sprintf("cannot read the file: %v", err)
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, "is a symbolic link; bead files must be regular files"
	case !info.Mode().IsRegular():
		return nil, "is not a regular file"
	case info.Size() > max:
		return nil, fmt.Sprintf("file is %d bytes; the limit is %d", info.Size(), max)
	}
	f, err := fsys.Open(file)
	if err != nil {
		return nil, fmt.Sprintf("cannot read the file: %v", err)
	}
	defer f.Close()
	// Read one byte more than allowed, in case the file grew since Stat.
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	switch {
	case err != nil:
		return nil, fmt.Sprintf("cannot read the file: %v", err)
	case int64(len(data)) > max:
		return nil, fmt.Sprintf("file is more than %d bytes; the limit is %d", max, max)
	}
	return data, ""
}

// byPlace orders by file, then line.
func byPlace(fileA string, lineA int, fileB string, lineB int) int {
	return cmp.Or(strings.Compare(fileA, fileB), cmp.Compare(lineA, lineB))
}

// sortErrors orders errors by file and line, keeping the order of errors on
// one line.
func sortErrors(errs []Error) {
	slices.SortStableFunc(errs, func(a, b Error) int { return byPlace(a.File, a.Line, b.File, b.Line) })
}

// newSet validates the items of every file together and sorts the result.
func newSet(files []string, all parsedFile, prefix string) *Set {
	slices.SortStableFunc(all.beads, func(a, b beadItem) int { return byPlace(a.File, a.Line, b.File, b.Line) })
	slices.SortStableFunc(all.convoys, func(a, b convoyItem) int { return byPlace(a.File, a.Line, b.File, b.Line) })

	v := crossValidate(all.beads, all.convoys, prefix)
	errs := append(all.errs, v.errs...)
	sortErrors(errs)

	broken := v.broken
	for _, e := range errs {
		broken[e.File] = true
	}
	return &Set{
		Beads:       beadsOf(all.beads),
		Convoys:     convoysOf(all.convoys),
		Errors:      errs,
		Files:       files,
		BrokenFiles: broken,
		BrokenBeads: map[string]int{},
	}
}
