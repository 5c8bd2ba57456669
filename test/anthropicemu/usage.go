package anthropicemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"unicode/utf8"
)

// bytesPerToken is the emulator's tokenizer: a token for every four bytes
// of JSON, about what the real tokenizers give for English and code.
const bytesPerToken = 4

// minCacheTokens is the shortest prefix the API caches (the larger models'
// minimum); shorter breakpoints are ignored, as the API ignores them.
const minCacheTokens = 1024

func tokens(n int) int { return (n + bytesPerToken - 1) / bytesPerToken }

// segment is a cacheable unit of a prompt: a tool, a system block, or a
// block of a message, in the order the API caches them (tools, system,
// messages). key is what the cache compares: the block without its
// cache_control marker (clients move the marker to the newest turn, and
// the API's cache ignores it), and for a message block its role. size is
// the block's size in bytes, which the token counts come from; breakpoint
// marks a block with cache_control.
type segment struct {
	key        []byte
	size       int
	breakpoint bool
}

// promptSegments splits a request body into segments. It reads the raw
// JSON so that the figures depend only on the bytes the client sent.
func promptSegments(body []byte) []segment {
	var raw struct {
		System   json.RawMessage   `json:"system"`
		Tools    []json.RawMessage `json:"tools"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return []segment{{key: body, size: len(body)}}
	}
	var segs []segment
	for _, t := range raw.Tools {
		segs = append(segs, newSegment("tool", t))
	}
	segs = append(segs, contentSegments("system", raw.System)...)
	for _, m := range raw.Messages {
		segs = append(segs, contentSegments(m.Role, m.Content)...)
	}
	return segs
}

// contentSegments are the blocks of a content. A string is one text
// block, as the API reads it: claude sends the same turn as a list of
// blocks in one request and as a string in the next.
func contentSegments(role string, c json.RawMessage) []segment {
	c = bytes.TrimSpace(c)
	if len(c) == 0 || bytes.Equal(c, []byte("null")) {
		return nil
	}
	if c[0] == '"' {
		var text string
		if json.Unmarshal(c, &text) == nil {
			return []segment{newSegment(role, encode(map[string]string{"type": "text", "text": text}))}
		}
	}
	var blocks []json.RawMessage
	if c[0] != '[' || json.Unmarshal(c, &blocks) != nil {
		return []segment{newSegment(role, c)}
	}
	segs := make([]segment, 0, len(blocks))
	for _, b := range blocks {
		segs = append(segs, newSegment(role, b))
	}
	return segs
}

// newSegment makes a block a segment. Its key and size are those of the
// block in a canonical form (sorted keys, no cache_control), so that
// neither the marker nor how the client spells the block changes the
// figures.
func newSegment(role string, raw json.RawMessage) segment {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return segment{key: append([]byte(role+"\x00"), raw...), size: len(raw)}
	}
	var seg segment
	if cc, ok := fields["cache_control"]; ok {
		seg.breakpoint = string(cc) != "null"
		delete(fields, "cache_control")
	}
	canonical := encode(fields)
	seg.key = append([]byte(role+"\x00"), canonical...)
	seg.size = len(canonical)
	return seg
}

// promptCache is the set of prompt prefixes the API has cached, by hash of
// model and prefix.
type promptCache map[[sha256.Size]byte]bool

// cacheLookback is how many blocks before a breakpoint the API looks for
// an earlier cached prefix: a conversation's new turn moves the
// breakpoint past the previous one, and still reads what that cached.
const cacheLookback = 20

// inputUsage is the input side of a request's usage. Without a cache
// every byte is uncached input. With one, it works like the API's prompt
// caching: the longest cached prefix that ends at a breakpoint or up to
// cacheLookback blocks before one is read from the cache, the rest up to
// the last breakpoint is written to it, and what follows is plain input.
func inputUsage(model string, segs []segment, cache promptCache) Usage {
	u := Usage{ServiceTier: "standard"}
	total := 0
	for _, s := range segs {
		total += s.size
	}
	if cache == nil {
		u.InputTokens = max(tokens(total), 1)
		return u
	}
	// ends[i] and sums[i] are the size and hash of the prefix of the
	// first i+1 segments.
	ends := make([]int, len(segs))
	sums := make([][sha256.Size]byte, len(segs))
	h := sha256.New()
	h.Write([]byte(model))
	h.Write([]byte{0})
	n := 0
	for i, s := range segs {
		h.Write(s.key)
		n += s.size
		ends[i] = n
		copy(sums[i][:], h.Sum(nil))
	}
	read, last := 0, 0
	for i, s := range segs {
		if !s.breakpoint || tokens(ends[i]) < minCacheTokens {
			continue
		}
		last = ends[i]
		for j := i; j >= 0 && j > i-cacheLookback; j-- {
			if cache[sums[j]] {
				read = max(read, ends[j])
				break
			}
		}
	}
	for i, s := range segs {
		if s.breakpoint && tokens(ends[i]) >= minCacheTokens {
			cache[sums[i]] = true
		}
	}
	u.CacheReadInputTokens = tokens(read)
	u.CacheCreationInputTokens = tokens(last - read)
	u.CacheCreation.Ephemeral5mInputTokens = u.CacheCreationInputTokens
	u.InputTokens = max(tokens(total-last), 1)
	return u
}

// outputTokens counts what the assistant says: its text, and its tool
// calls' names and inputs.
func outputTokens(blocks []responseBlock) int {
	n := 0
	for _, b := range blocks {
		n += len(b.Text) + len(b.Name) + len(b.Input)
	}
	return max(tokens(n), 1)
}

// limitOutput cuts a reply to the request's max_tokens as the API does:
// the text stops where the budget ends, and the stop reason says so. A
// tool call that does not fit whole is left out, where the API would send
// half of its input.
func limitOutput(blocks []responseBlock, maxTokens int) ([]responseBlock, bool) {
	if outputTokens(blocks) <= maxTokens {
		return blocks, false
	}
	budget := maxTokens * bytesPerToken
	var out []responseBlock
	for _, b := range blocks {
		size := len(b.Text) + len(b.Name) + len(b.Input)
		if size <= budget {
			out = append(out, b)
			budget -= size
			continue
		}
		if b.Type == "text" && budget > 0 {
			b.Text = cutRunes(b.Text, budget)
			out = append(out, b)
		}
		break
	}
	if len(out) == 0 {
		out = []responseBlock{{Type: "text"}}
	}
	return out, true
}

// cutRunes cuts s to at most n bytes without splitting a character.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
