package capture

import (
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/trove-memory/trove/internal/textlang"
)

// Thresholds of IsDuplicate. A candidate must be this close in embedding
// space to be compared at all, and then share this much of its wording.
// Both are high on purpose: capture only merges what is near-identical;
// telling paraphrases and updates apart is the LLM extractor's job later.
const (
	VectorThreshold = 0.90
	TextThreshold   = 0.80
)

// IsDuplicate decides whether a candidate statement repeats an existing
// memory. cosine is their embedding similarity; known is false when the
// caller has none (the neighbour came from keyword search alone), in which
// case the text comparison decides alone.
func IsDuplicate(candidate, existing string, cosine float64, known bool) bool {
	a, b := Normalize(candidate), Normalize(existing)
	if a == b {
		return true
	}
	// Statements that differ in a number differ in fact ("port 5432" and
	// "port 5433", "note 3" and "note 30"), however alike their words.
	if !slices.Equal(numbers(a), numbers(b)) {
		return false
	}
	if known && cosine < VectorThreshold {
		return false
	}
	return TextSimilarity(a, b) >= TextThreshold
}

// Normalize lowercases text, drops punctuation and symbols and collapses
// white space, so trivially different spellings of one statement compare
// equal.
func Normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		case r == '\'' || r == '’':
			// "don't" and "dont" are one word
		default:
			space = true
		}
	}
	return b.String()
}

// TextSimilarity is the Dice coefficient of two texts' word sets, in
// [0,1]. In CJK text, where nothing marks word boundaries, characters and
// character pairs stand in for words.
func TextSimilarity(a, b string) float64 {
	ta, tb := tokens(Normalize(a)), tokens(Normalize(b))
	if len(ta) == 0 && len(tb) == 0 {
		return 1
	}
	inter := 0
	for t := range ta {
		if tb[t] {
			inter++
		}
	}
	return 2 * float64(inter) / float64(len(ta)+len(tb))
}

func tokens(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.Fields(s) {
		rs := []rune(w)
		var latin []rune
		flush := func() {
			if len(latin) > 0 {
				out[string(latin)] = true
				latin = latin[:0]
			}
		}
		for i, r := range rs {
			if !textlang.IsCJK(r) {
				latin = append(latin, r)
				continue
			}
			flush()
			out[string(r)] = true
			if i+1 < len(rs) && textlang.IsCJK(rs[i+1]) {
				out[string(rs[i:i+2])] = true
			}
		}
		flush()
	}
	return out
}

// Cosine is the cosine similarity of two vectors (0 when either is empty,
// zero or their lengths differ).
func Cosine(a, b []float32) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// numbers lists the runs of digits in s, in order.
func numbers(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		switch {
		case unicode.IsDigit(r) && start < 0:
			start = i
		case !unicode.IsDigit(r) && start >= 0:
			out = append(out, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}
