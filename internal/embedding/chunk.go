package embedding

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chunked returns an Embedder for models that take at most maxChars
// characters (runes) per input. A longer text is split with [SplitText],
// all pieces of all texts in a call go to e in one Embed call (e batches
// them as it always does), and the text gets the average of its pieces'
// vectors, weighted by piece length and re-normalised. Texts within the
// limit reach e unchanged, so they get exactly the vectors e alone would
// give them: wrapping an embedder never moves vectors already stored.
//
// Averaging keeps one vector per memory, which is what the store holds; a
// long text's vector is the centre of its parts rather than its first
// maxChars characters, which is what a server that truncates would give.
//
// The result is a [Describer] when e is one and a [QueryEmbedder] when e is
// one (queries are split the same way). maxChars <= 0 returns e itself.
func Chunked(e Embedder, maxChars int) Embedder {
	if maxChars <= 0 {
		return e
	}
	c := &chunked{e: e, max: maxChars}
	d, isDescriber := e.(Describer)
	q, isQuery := e.(QueryEmbedder)
	switch {
	case isDescriber && isQuery:
		return &chunkedDescribedQuery{chunkedQuery{c, q}, d}
	case isDescriber:
		return &chunkedDescribed{c, d}
	case isQuery:
		return &chunkedQuery{c, q}
	}
	return c
}

type chunked struct {
	e   Embedder
	max int
}

func (c *chunked) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return c.run(ctx, texts, c.e.Embed)
}

type chunkedDescribed struct {
	*chunked
	d Describer
}

func (c *chunkedDescribed) Info() Info { return c.d.Info() }

type chunkedQuery struct {
	*chunked
	q QueryEmbedder
}

func (c *chunkedQuery) EmbedQuery(ctx context.Context, texts []string) ([][]float32, error) {
	return c.run(ctx, texts, c.q.EmbedQuery)
}

type chunkedDescribedQuery struct {
	chunkedQuery
	d Describer
}

func (c *chunkedDescribedQuery) Info() Info { return c.d.Info() }

// run embeds texts with embed, splitting those over the limit.
func (c *chunked) run(ctx context.Context, texts []string, embed func(context.Context, []string) ([][]float32, error)) ([][]float32, error) {
	long := false
	for _, t := range texts {
		if len(t) > c.max && utf8.RuneCountInString(t) > c.max { // len first: counting runes is the slow part
			long = true
			break
		}
	}
	if !long {
		return embed(ctx, texts)
	}

	type span struct{ start, end int } // of one text's pieces in pieces
	spans := make([]span, len(texts))
	pieces := make([]string, 0, len(texts)+8)
	var weights []float64
	for i, t := range texts {
		ps := []string{t}
		if len(t) > c.max {
			ps = SplitText(t, c.max, 0)
			if len(ps) == 0 { // nothing but whitespace: let the model decide what "" means
				ps = []string{""}
			}
		}
		spans[i] = span{len(pieces), len(pieces) + len(ps)}
		for _, p := range ps {
			pieces = append(pieces, p)
			weights = append(weights, float64(max(1, utf8.RuneCountInString(p))))
		}
	}

	vecs, err := embed(ctx, pieces)
	if err != nil {
		return nil, err
	}
	if err := CheckVectors(vecs, len(pieces), 0); err != nil {
		return nil, fmt.Errorf("embedding %d chunks of %d texts: %w", len(pieces), len(texts), err)
	}
	out := make([][]float32, len(texts))
	for i, s := range spans {
		if s.end-s.start == 1 {
			out[i] = vecs[s.start]
			continue
		}
		out[i] = average(vecs[s.start:s.end], weights[s.start:s.end])
	}
	return out, nil
}

// average returns the weighted mean of vecs, normalised. Should the mean
// cancel out to zero (opposite pieces; it does not happen with real
// models), the heaviest piece's vector stands in: a zero vector has no
// direction and would poison recall.
func average(vecs [][]float32, weights []float64) []float32 {
	sum := make([]float64, len(vecs[0]))
	heaviest := 0
	for j, v := range vecs {
		w := weights[j]
		for k, x := range v {
			sum[k] += w * float64(x)
		}
		if w > weights[heaviest] {
			heaviest = j
		}
	}
	var norm float64
	for _, x := range sum {
		norm += x * x
	}
	if norm == 0 || math.IsInf(norm, 0) || math.IsNaN(norm) {
		v := append([]float32(nil), vecs[heaviest]...)
		Normalize(v)
		return v
	}
	inv := 1 / math.Sqrt(norm)
	out := make([]float32, len(sum))
	for k, x := range sum {
		out[k] = float32(x * inv)
	}
	return out
}

// Boundary kinds, weakest first: SplitText cuts at the strongest kind it
// finds in the second half of a piece.
const (
	cutHard = iota
	cutSpace
	cutClause // , ; : and their CJK forms
	cutSentence
	cutLine
	cutParagraph
	cutKinds
)

// SplitText splits text into pieces of at most maxChars characters (runes).
// A text within the limit is returned whole and unchanged. Otherwise each
// cut is made at the strongest boundary in the second half of the piece:
// a blank line, a line break, a sentence end (". ", "。"), a clause break
// (", ", "，"), a space, and only failing all of those mid-word. A cut never
// splits a UTF-8 character. Pieces are trimmed of surrounding whitespace
// and whitespace-only pieces are dropped, so a blank text gives none.
//
// overlap > 0 starts each piece up to that many characters before the
// previous one ended (moved forward to a word start), so text at a cut is
// seen whole by one piece; it is capped at maxChars/2. maxChars <= 0 means
// no limit.
func SplitText(text string, maxChars, overlap int) []string {
	if maxChars <= 0 || len(text) <= maxChars || utf8.RuneCountInString(text) <= maxChars {
		return []string{text}
	}
	overlap = max(0, min(overlap, maxChars/2))
	var pieces []string
	for start := skipSpace(text, 0); start < len(text); {
		cut, end := nextCut(text, start, maxChars)
		if p := strings.TrimSpace(text[start:cut]); p != "" {
			pieces = append(pieces, p)
		}
		if end {
			break
		}
		next := cut
		if overlap > 0 {
			if n := backUp(text, start, cut, overlap); n > start {
				next = n
			}
		}
		start = skipSpace(text, next) // whitespace at a cut would only take room in the window
	}
	return pieces
}

// skipSpace returns the offset of the first non-space character at or
// after i.
func skipSpace(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += size
	}
	return i
}

// nextCut returns where the piece starting at start should end, and
// whether that is the end of text.
func nextCut(text string, start, maxChars int) (cut int, end bool) {
	var best [cutKinds]int // last position of each kind, 0 = none seen
	minRunes := maxChars / 2
	var prev rune
	n := 0
	i := start
	for i < len(text) && n < maxChars {
		r, size := utf8.DecodeRuneInString(text[i:])
		n++
		after := i + size
		if n >= minRunes {
			switch {
			case r == '\n' && prev == '\n':
				best[cutParagraph] = after
			case r == '\n':
				best[cutLine] = after
			case unicode.IsSpace(r):
				switch prev {
				case '.', '!', '?':
					best[cutSentence] = i
				case ',', ';', ':':
					best[cutClause] = i
				default:
					best[cutSpace] = after
				}
			case r == '。' || r == '！' || r == '？' || r == '…':
				best[cutSentence] = after
			case r == '，' || r == '、' || r == '；' || r == '：':
				best[cutClause] = after
			}
		}
		prev = r
		i = after
	}
	if i >= len(text) {
		return len(text), true
	}
	// A window ending right before whitespace ends on a boundary too.
	if r, _ := utf8.DecodeRuneInString(text[i:]); unicode.IsSpace(r) {
		switch {
		case r == '\n':
			best[cutLine] = i
		case prev == '.' || prev == '!' || prev == '?':
			best[cutSentence] = i
		case prev == ',' || prev == ';' || prev == ':':
			best[cutClause] = i
		default:
			best[cutSpace] = i
		}
	}
	for kind := cutKinds - 1; kind > cutHard; kind-- {
		if best[kind] > start {
			return best[kind], false
		}
	}
	return i, false // mid-word, but on a character boundary
}

// backUp returns the start of the next piece when pieces overlap: overlap
// characters before cut, moved forward past the next space so the piece
// starts on a word, or cut when that leaves no progress.
func backUp(text string, start, cut, overlap int) int {
	i := cut
	for k := 0; k < overlap && i > start; k++ {
		_, size := utf8.DecodeLastRuneInString(text[:i])
		i -= size
	}
	if j := strings.IndexFunc(text[i:cut], unicode.IsSpace); j >= 0 {
		i += j
	}
	return i
}
