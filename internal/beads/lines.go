package beads

import (
	"bytes"
	"unicode/utf8"
)

// lineIndex maps the line and column positions the YAML parser reports to
// byte offsets, breaking lines where the parser does.
type lineIndex struct {
	data   []byte
	starts []int // byte offset of each line, from line 1
}

func newLineIndex(data []byte) lineIndex {
	first := 0
	if bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
		first = 3 // the parser skips a byte order mark
	}
	idx := lineIndex{data: data, starts: []int{first}}
	for i := first; i < len(data); {
		_, size := utf8.DecodeRune(data[i:])
		if breakAt(data, i) == 1 {
			idx.starts = append(idx.starts, i+size)
		}
		i += size
	}
	return idx
}

// offset returns the byte offset of a line and column, both from 1, columns
// counted in characters.
func (idx lineIndex) offset(line, column int) (int, bool) {
	if line < 1 || line > len(idx.starts) || column < 1 {
		return 0, false
	}
	pos := idx.starts[line-1]
	for range column - 1 {
		if pos >= len(idx.data) {
			return 0, false
		}
		_, size := utf8.DecodeRune(idx.data[pos:])
		pos += size
	}
	return pos, true
}

// lineEnd returns the offset of the line break ending the line pos is on,
// or the end of the data.
func (idx lineIndex) lineEnd(pos int) int {
	for i := pos; i < len(idx.data); {
		r, size := utf8.DecodeRune(idx.data[i:])
		if r == '\n' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return i
		}
		i += size
	}
	return len(idx.data)
}

// documentSpan returns the bytes of the document whose content starts on
// line first: from after the "---" line before it (or the start of the
// data) to the next "---" or "..." line (or the end). marker says the
// content shares its line with its "---", which the span then includes.
func (idx lineIndex) documentSpan(data []byte, first int) (start, end int, marker bool) {
	end = len(data)
	for line := len(idx.starts); line >= 1; line-- {
		text := data[idx.starts[line-1]:idx.lineEnd(idx.starts[line-1])]
		switch {
		case line > first && (isMarker(text, "---") || isMarker(text, "...")):
			end = idx.starts[line-1]
		case line == first && isMarker(text, "---"):
			return idx.starts[line-1], end, true
		case line < first && isMarker(text, "---"):
			return idx.starts[line], end, false
		}
	}
	return idx.starts[0], end, false
}

// isMarker says whether a line is the document marker m ("---" or "...").
func isMarker(line []byte, m string) bool {
	return bytes.HasPrefix(line, []byte(m)) && (len(line) == len(m) || isBlank(line[len(m)]))
}
