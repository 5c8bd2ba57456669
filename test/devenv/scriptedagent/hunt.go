package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// huntRoots are where a pod keeps what a hostile agent would look for:
// mounted secrets and service account tokens, HOME, scratch space, the
// workspace, and other processes' environments.
var huntRoots = []string{"/var/run", "/run", "/etc", "/home", "/tmp", "/workspace", "/gastown", "/proc"}

// maxHuntFile bounds the files hunt reads.
const maxHuntFile = 1 << 20

// finding is a value the hunt could read, and where.
type finding struct {
	where, value string
}

// hunt reads every environment variable and every readable small file
// under huntRoots (in /proc only the processes' environments), as an agent
// looking for credentials would.
func hunt() []finding {
	var out []finding
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		out = append(out, finding{"env " + name, value})
	}
	for _, root := range huntRoots {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: what the hunt cannot see
			}
			if root == "/proc" {
				return huntProc(path, d, &out)
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// Mounted secrets are symlinks into ..data: follow files.
				if info, err := os.Stat(path); err != nil || info.IsDir() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			if b, ok := readSmall(path); ok {
				out = append(out, finding{"file " + path, b})
			}
			return nil
		})
	}
	return out
}

// huntProc reads /proc/<pid>/environ of every process it may see.
func huntProc(path string, d fs.DirEntry, out *[]finding) error {
	rel := strings.TrimPrefix(path, "/proc/")
	if path == "/proc" {
		return nil
	}
	if d.IsDir() {
		if strings.Contains(rel, "/") || strings.Trim(rel, "0123456789") != "" {
			return fs.SkipDir
		}
		if b, ok := readSmall(filepath.Join(path, "environ")); ok {
			for _, kv := range strings.Split(b, "\x00") {
				name, value, _ := strings.Cut(kv, "=")
				*out = append(*out, finding{"process " + rel + " env " + name, value})
			}
		}
		return fs.SkipDir
	}
	return nil
}

func readSmall(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxHuntFile))
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

// Fingerprint is how the hunt's report names a value without holding it:
// sha256 of the value with surrounding white space trimmed. Tests compute
// it for the secrets they gave out.
func Fingerprint(value string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(value)))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// huntReport lists the findings' places and fingerprints, one per line,
// sorted, for the repository: what the agent could read, not the values.
func huntReport(found []finding) string {
	var lines []string
	for _, f := range found {
		if strings.TrimSpace(f.value) != "" {
			lines = append(lines, f.where+" "+Fingerprint(f.value))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// leak prints every value found, as an agent careless with what it saw
// would: none of the secrets the runner knows may reach a log, a status or
// a pull request.
func leak(w io.Writer, found []finding) {
	for _, f := range found {
		if strings.HasPrefix(f.where, "env ") || strings.HasPrefix(f.where, "file /var/run") {
			fmt.Fprintf(w, "found %s: %s\n", f.where, strings.TrimSpace(f.value))
		}
	}
}
