package embedding

import (
	"math"
	"math/bits"
	"unicode"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/textlang"
)

// This file turns lowercased text into hashed features for Hash. It works on
// bytes and offsets into one reused buffer: no strings, no per-token
// allocations, because the hash embedder must stay fast enough to re-embed
// a whole store in seconds.

// appendLower appends text lowercased to dst. Full-width ASCII (common in
// CJK text) is folded to plain ASCII so "ＡＰＩ" and "api" are one word.
func appendLower(dst []byte, text string) []byte {
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFEE0
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

type class uint8

const (
	classSep  class = iota // whitespace, punctuation, symbols: ends a token
	classWord              // letters, digits and combining marks outside CJK
	classConn              // _ . - / split words but join an identifier
	classCJK               // Han, Hiragana, Katakana, Hangul: no spaces between words
)

func classify(r rune) class {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', 'A' <= r && r <= 'Z':
			return classWord
		case r == '_', r == '.', r == '-', r == '/':
			return classConn
		}
		return classSep
	}
	if textlang.IsCJK(r) {
		return classCJK
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
		return classWord
	}
	return classSep
}

func isConnByte(c byte) bool { return c == '_' || c == '.' || c == '-' || c == '/' }

// extract appends the features of s.lower to s.feats.
func (s *hashScratch) extract() {
	t := s.lower
	var prev uint64 // unmixed hash of the previous word, for word pairs
	havePrev := false
	for i := 0; i < len(t); {
		r, size := decode(t, i)
		switch classify(r) {
		case classCJK:
			j := scan(t, i+size, func(c class) bool { return c == classCJK })
			s.cjkRun(t[i:j])
			havePrev = false
			i = j
		case classWord, classConn:
			j := scan(t, i+size, func(c class) bool { return c == classWord || c == classConn })
			prev, havePrev = s.chunk(t[i:j], prev, havePrev)
			i = j
		default:
			i += size
		}
	}
}

func decode(t []byte, i int) (rune, int) {
	if c := t[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(t[i:])
}

// scan returns the end of the run starting at i whose runes satisfy in.
// in is a non-escaping func literal, so this does not allocate.
func scan(t []byte, i int, in func(class) bool) int {
	for i < len(t) {
		r, size := decode(t, i)
		if !in(classify(r)) {
			break
		}
		i += size
	}
	return i
}

// chunk handles a run of word characters and connectors such as
// "err_conn_reset" or "config.yaml": each part is a word, and the whole run
// (minus leading and trailing connectors) is one more word when it has more
// than one part, so an exact identifier matches strongly and a partial one
// still matches its parts.
func (s *hashScratch) chunk(c []byte, prev uint64, havePrev bool) (uint64, bool) {
	parts := 0
	start := -1
	for k := 0; k <= len(c); k++ {
		if k < len(c) && !isConnByte(c[k]) {
			if start < 0 {
				start = k
			}
			continue
		}
		if start >= 0 {
			prev, havePrev = s.word(c[start:k], prev, havePrev)
			parts++
			start = -1
		}
	}
	if parts > 1 {
		lo, hi := 0, len(c)
		for isConnByte(c[lo]) {
			lo++
		}
		for isConnByte(c[hi-1]) {
			hi--
		}
		s.add(fnv(kindWord, c[lo:hi]), weightWord)
	}
	return prev, havePrev
}

// word adds one word's unigram, its pair with the previous word, and its
// trigrams; it returns the word's unmixed hash.
func (s *hashScratch) word(w []byte, prev uint64, havePrev bool) (uint64, bool) {
	h := fnv(kindWord, w)
	if isStopword(w) {
		s.add(h, weightStopword)
		return prev, havePrev
	}
	s.add(h, weightWord)
	if havePrev {
		// Rotating one side keeps pairs ordered: "cache hit" != "hit cache".
		s.add(prev^bits.RotateLeft64(h, 29)^uint64(kindBigram), weightBigram)
	}
	s.trigrams(w)
	return h, true
}

// trigrams adds the character trigrams of w padded with begin and end
// markers ("^ab", "abc", ..., "yz$"): a word of n runes has n trigrams.
// Their weights are spread so that together they carry weightTrigram of L2
// mass whatever the word's length; otherwise long words would dominate.
func (s *hashScratch) trigrams(w []byte) {
	n := utf8.RuneCount(w)
	if n > maxTrigramRunes {
		return
	}
	ascii := n == len(w)
	if !ascii {
		s.offs = s.offs[:0]
		for i := range string(w) { // ranging over a converted []byte does not allocate
			s.offs = append(s.offs, i)
		}
		s.offs = append(s.offs, len(w))
	}
	wt := float32(weightTrigram / math.Sqrt(float64(n)))
	for j := -1; j <= n-2; j++ {
		// The trigram covers symbols j..j+2, where -1 and n are markers.
		a, b := max(j, 0), min(j+2, n-1)+1 // rune range inside w
		if !ascii {
			a, b = s.offs[a], s.offs[b]
		}
		h := fnvByte(offset64, kindTrigram)
		if j < 0 {
			h = fnvByte(h, 0x01) // bytes below space never occur inside a word
		}
		h = fnvAdd(h, w[a:b])
		if j+2 == n {
			h = fnvByte(h, 0x02)
		}
		s.add(h, wt)
	}
}

// cjkRun adds each character and each pair of adjacent characters of a run
// of CJK text. Pairs approximate words (most Chinese words are two
// characters), so "喜欢咖啡" and "喜欢喝咖啡" share 喜欢 and 咖啡 without a
// dictionary.
func (s *hashScratch) cjkRun(t []byte) {
	prevStart := -1
	for i := 0; i < len(t); {
		_, size := utf8.DecodeRune(t[i:])
		s.add(fnv(kindCJKChar, t[i:i+size]), weightCJKChar)
		if prevStart >= 0 {
			s.add(fnv(kindCJKPair, t[prevStart:i+size]), weightCJKPair)
		}
		prevStart = i
		i += size
	}
}

// 64-bit FNV-1a, inlined rather than hash/fnv so no hasher is allocated and
// no interface call is made per byte.
const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

func fnv(kind byte, b []byte) uint64 { return fnvAdd(fnvByte(offset64, kind), b) }

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= prime64
	}
	return h
}

func fnvByte(h uint64, c byte) uint64 {
	h ^= uint64(c)
	return h * prime64
}

// mix is MurmurHash3's 64-bit finaliser. FNV-1a's low bits depend only on
// the low bits of the input bytes, so without it the sign bit would be
// little more than the parity of the text.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// isStopword reports the commonest English function words. Without them
// weighing less, "the" counts as much as "database" and unrelated sentences
// look alike. They are still features (weightStopword), so a query made only
// of them still finds something; they get no trigrams and are skipped when
// pairing words, so "connection to the database" pairs "connection
// database". The switch on string(w) compiles without allocating.
func isStopword(w []byte) bool {
	switch string(w) {
	case "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at",
		"by", "for", "with", "from", "as", "into", "about",
		"is", "are", "was", "were", "be", "been", "being", "am",
		"do", "does", "did", "has", "have", "had",
		"it", "its", "this", "that", "these", "those", "there", "then",
		"i", "me", "my", "we", "our", "you", "your", "he", "she", "they", "them", "their",
		"so", "if", "than", "too", "very", "can", "will", "would", "should", "just":
		return true
	}
	return false
}
