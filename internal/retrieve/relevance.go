package retrieve

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/textlang"
)

// The relevance floor.
//
// Every candidate list is full whatever the query: the vector side returns
// the K nearest rows, near or not, and fusion and MinScore only rank and
// cut on a relative scale. So an unrelated query used to get ten memories
// at ordinary scores, and recall-context put them into the prompt. The
// floor asks, of each candidate, for evidence that it is about the query
// at all:
//
//   - lexical support: a content word of the query (not a stopword)
//     occurs in the memory's text or its L0/L1/L2, both stemmed as the
//     text index stems them (textlang.Stem); for
//     Chinese and Japanese, a character bigram of the query that is not a
//     function word occurs in it; or
//   - semantic support: the cosine between query and memory reaches
//     MinCosine, the floor calibrated for the embedder (DefaultMinCosine).
//     The hash embedder has none (CosineNever): it gives about 0.4 to
//     unrelated text, so its cosine alone never qualifies.
//
// A candidate with neither is dropped, with the reason. If none is left,
// the answer is empty: "no relevant memories". The floor never changes a
// score, and it runs before the reranker, so the cross-encoder's slots go
// to candidates that can be shown.

// CosineNever is a MinCosine no cosine reaches: the embedder's similarity
// is never evidence of relevance on its own.
const CosineNever = 2.0

// DefaultMinCosine is the cosine at which an embedder's similarity alone
// counts as relevance, by model family. These are starting points taken
// from how each family's cosines usually spread (unrelated pairs sit near
// 0.1–0.2 for OpenAI's text-embedding-3 models, but near 0.7 for ada-002
// and the E5 family); calibrate for the model and data you use (see the
// retrieve DESIGN.md, "Relevance floor"). The hash embedder, and an
// embedder that does not say what it is, get CosineNever.
func DefaultMinCosine(info embedding.Info) float64 {
	model := strings.ToLower(info.Model)
	if info.Provider == "hash" || info.Model == embedding.HashModel || info.Provider == "" && model == "" {
		return CosineNever
	}
	for _, f := range modelFloors {
		if strings.Contains(model, f.model) {
			return f.cos
		}
	}
	if c, ok := providerFloors[strings.ToLower(info.Provider)]; ok {
		return c
	}
	return 0.5
}

// modelFloors are per model, matched as substrings of the model name, in
// order (so "text-embedding-3" is found before the bare family names).
var modelFloors = []struct {
	model string
	cos   float64
}{
	{"text-embedding-3", 0.30},       // OpenAI: unrelated ≈ 0.1–0.2
	{"text-embedding-ada-002", 0.78}, // OpenAI's older model: everything ≥ 0.7
	{"e5", 0.80},                     // multilingual-e5 and kin: unrelated ≈ 0.7
	{"text-embedding-004", 0.45},     // Google
	{"gemini-embedding", 0.60},       // Google: unrelated ≈ 0.5
	{"nomic-embed", 0.55},            // Ollama's default: unrelated ≈ 0.4–0.5
	{"mxbai-embed", 0.55},            //
	{"bge-m3", 0.50},                 //
	{"minilm", 0.35},                 // sentence-transformers MiniLM: unrelated ≈ 0–0.1
	{"potion", 0.40},                 // model2vec static models
	{"jina-embeddings", 0.40},        //
	{"voyage", 0.45},                 //
}

// providerFloors apply when the model is not one of modelFloors.
var providerFloors = map[string]float64{
	"openai": 0.30,
	"jina":   0.40,
	"voyage": 0.45,
	"gemini": 0.60,
	"ollama": 0.55,
	"static": 0.40,
}

// queryTerms are the content terms of a query, as the floor checks them.
type queryTerms struct {
	// words are the non-stopword words, each as its distinct stems in
	// English and German: the text index searches a query word as any of
	// them, since a row is stemmed in its own language (see termsOf).
	words [][]string
	// forms are the words of the query as written (lowercased), by stem:
	// a memory's word in one of these forms is an exact match.
	forms  map[string][]string
	bigram []string // CJK bigrams that are not function words (a lone character stays itself)
	// heads are the stems' first two letters (stemHead): a memory's word
	// is stemmed only if it begins with one of them. nil when a stem is
	// shorter than that: every word is stemmed then.
	heads map[[2]rune]bool
}

// stemHead is the first two letters of a word or stem, umlauts folded: a
// Snowball stem keeps the first letters of its word (R1 never reaches
// them) except that German loses the umlauts and English's exceptions
// turn a second y into i (both folded here), so a word whose head is no
// query stem's head cannot have a query stem, and is not stemmed. Most
// of a memory's words are skipped so.
func stemHead(w string) ([2]rune, bool) {
	var h [2]rune
	n := 0
	for _, r := range w {
		switch r {
		case 'ä':
			r = 'a'
		case 'ö':
			r = 'o'
		case 'ü':
			r = 'u'
		case 'y':
			// English Snowball's exceptions turn a second y into i:
			// dying → die, lying → lie, tying → tie.
			if n == 1 {
				r = 'i'
			}
		}
		h[n] = r
		if n++; n == 2 {
			return h, true
		}
	}
	return h, false
}

// termsOf splits a query into its content terms.
//
// Words are stemmed as the text index stems a query (textlang.Stem in
// English and in German: the index matches a row stemmed in either), so
// the floor finds support exactly where the index finds a match.
func termsOf(q string) queryTerms {
	var t queryTerms
	seen := map[string]bool{}
	for _, w := range splitWords(q) {
		if w.cjk {
			for _, g := range cjkGrams(w.text) {
				if !seen[g] {
					seen[g] = true
					t.bigram = append(t.bigram, g)
				}
			}
			continue
		}
		if utf8.RuneCountInString(w.text) < 2 || textlang.IsStopword(w.text) {
			continue
		}
		var stems []string
		for _, lang := range [...]textlang.Lang{textlang.English, textlang.German} {
			if s := textlang.Stem(w.text, lang); !slices.Contains(stems, s) {
				stems = append(stems, s)
			}
		}
		if key := "\x00" + strings.Join(stems, "\x00"); !seen[key] {
			seen[key] = true
			t.words = append(t.words, stems)
		}
		if t.forms == nil {
			t.forms = map[string][]string{}
		}
		for _, s := range stems {
			if !slices.Contains(t.forms[s], w.text) {
				t.forms[s] = append(t.forms[s], w.text)
			}
		}
	}
	t.heads = map[[2]rune]bool{}
	for _, stems := range t.words {
		for _, w := range stems {
			h, ok := stemHead(w)
			if !ok {
				t.heads = nil
				return t
			}
			t.heads[h] = true
		}
	}
	return t
}

// hasStem reports whether s is a stem of one of the query's words.
func (t queryTerms) hasStem(s string) bool {
	_, ok := t.forms[s]
	return ok
}

func (t queryTerms) empty() bool { return len(t.words) == 0 && len(t.bigram) == 0 }

// support returns the query term that gives a memory lexical support,
// "" if none does. The texts are one memory's, its text first: their words
// are stemmed in the language the index gives that memory (textlang.DocLang
// of its text).
//
// A CJK bigram, or a word in the form the query wrote it, supports on its
// own. A word that matches only by its stem ("fits" for "fitted", "suite"
// for "suits", German "plant" for English "plants") is weaker evidence: a
// stem joins words of different meanings and, across languages, different
// words. It supports when it is not a lone thread: when the memory
// matches two of the query's stems, or the stem is at least half of the
// query's content words ("cats" in "what are the cats called"). So a
// question about something else that shares one inflected word with a
// memory ("which wax suits Nordic skis" and a test suite) recalls
// nothing, while the index still ranks by stems.
func (t queryTerms) support(texts ...string) string {
	if t.empty() {
		return ""
	}
	lang := textlang.DocLang(texts[0])
	var stemOnly []int // the query words matched by stem only
	var stemOf []string
	for _, text := range texts {
		if text == "" {
			continue
		}
		lower := strings.ToLower(text)
		for _, g := range t.bigram {
			if strings.Contains(lower, g) {
				return g
			}
		}
		if len(t.words) == 0 {
			continue
		}
		for _, w := range splitWords(lower) {
			if w.cjk || utf8.RuneCountInString(w.text) < 2 {
				continue
			}
			if h, _ := stemHead(w.text); t.heads != nil && !t.heads[h] {
				continue
			}
			s := textlang.Stem(w.text, lang)
			for i, stems := range t.words {
				if !slices.Contains(stems, s) {
					continue
				}
				if slices.Contains(t.forms[s], w.text) {
					return s
				}
				if !slices.Contains(stemOnly, i) {
					stemOnly = append(stemOnly, i)
					stemOf = append(stemOf, s)
				}
			}
		}
	}
	// A query word counts once, whichever of its stems matched.
	if len(stemOnly) >= 2 || len(stemOnly) > 0 && 2*len(stemOnly) >= len(t.words)+len(t.bigram) {
		return stemOf[0]
	}
	return ""
}

type word struct {
	text string
	cjk  bool
}

// splitWords lowercases s and cuts it into runs of letters and digits,
// CJK runs apart from the rest ("atlas的PR" is "atlas", "的", "pr").
func splitWords(s string) []word {
	var out []word
	var b strings.Builder
	cjk := false
	flush := func() {
		if b.Len() > 0 {
			out = append(out, word{b.String(), cjk})
			b.Reset()
		}
	}
	for _, r := range s {
		switch c := textlang.IsCJK(r); {
		case c:
			if !cjk {
				flush()
			}
			cjk = true
			b.WriteRune(r)
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			if cjk {
				flush()
			}
			cjk = false
			b.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// cjkGrams cuts a CJK run into the bigrams the text index uses, keeping
// those that say something: a bigram with a Chinese function character
// (的, 是, 什么 …) or made of two hiragana (Japanese particles and
// endings) is left out. A lone character is kept if it is not a function
// character.
func cjkGrams(run string) []string {
	rs := []rune(run)
	if len(rs) == 1 {
		if textlang.IsCJKFunction(rs[0]) || isHiragana(rs[0]) {
			return nil
		}
		return []string{run}
	}
	var out []string
	for i := 0; i+1 < len(rs); i++ {
		a, b := rs[i], rs[i+1]
		if textlang.IsCJKFunction(a) || textlang.IsCJKFunction(b) || isHiragana(a) && isHiragana(b) {
			continue
		}
		out = append(out, string(rs[i:i+2]))
	}
	return out
}

func isHiragana(r rune) bool { return unicode.Is(unicode.Hiragana, r) }

// CheckMinScore checks a requested minimum score: a number in [0, 1].
func CheckMinScore(v float64) error {
	if !(v >= 0 && v <= 1) {
		return memory.Invalidf("min_score %v is outside [0, 1]: 0 keeps every relevant memory, 0.3 is the default, 0.8 keeps only strong matches", v)
	}
	return nil
}

// applyFloor drops the candidates with neither lexical nor semantic
// support. It changes no score; with debug, a kept candidate's trace says
// what supported it.
func applyFloor(cs []*candidate, t queryTerms, minCos float64, embedder string, debug bool) {
	for _, c := range cs {
		if c.drop != "" {
			continue
		}
		if hit := t.support(memoryTexts(c.mem)...); hit != "" {
			if debug {
				c.stage(debug, fmt.Sprintf("floor: matched %q", hit))
			}
			continue
		}
		if c.cos != nil && *c.cos >= minCos {
			if debug {
				c.stage(debug, fmt.Sprintf("floor: cosine %.2f ≥ %.2f", *c.cos, minCos))
			}
			continue
		}
		c.drop = floorReason(c, t, minCos, embedder)
	}
}

// floorReason says why a candidate had no support.
func floorReason(c *candidate, t queryTerms, minCos float64, embedder string) string {
	lex := "no query word in its text"
	switch {
	case t.empty():
		lex = "the query has no content word to match"
	case c.expanded:
		lex = "no query word in its text (BM25 found it only through the expansion terms, which are not evidence)"
	}
	switch {
	case c.cos == nil:
		return fmt.Sprintf("no relevance: %s, and no cosine", lex)
	case minCos > 1:
		return fmt.Sprintf("no relevance: %s, and cosine %.2f is no evidence with %s", lex, *c.cos, embedder)
	}
	return fmt.Sprintf("no relevance: %s, and cosine %.2f is below the floor %.2f", lex, *c.cos, minCos)
}

// memoryTexts are the texts the floor looks for query words in: the text
// and, on a smart memory, its L0 abstract, L1 overview and L2 content.
func memoryTexts(m memory.Memory) []string {
	out := []string{m.Text}
	for _, k := range []string{memory.KeyL0, memory.KeyL1, memory.KeyL2} {
		if s, ok := m.Metadata[k].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// SuggestMinCosine calibrates the relevance floor's cosine from measured
// similarities: pos holds, for each query with an answer, the cosine
// between the query and its answer; neg, for each query without one, the
// highest cosine between the query and any memory. It returns the lowest
// cosine (in steps of 0.01) that at most maxFalse of the negatives reach,
// and the share of positives that reach it. TestCalibrateMinCosine runs it
// over the labelled set with a configured model.
func SuggestMinCosine(pos, neg []float64, maxFalse float64) (cos, posKept float64) {
	share := func(xs []float64, t float64) float64 {
		if len(xs) == 0 {
			return 0
		}
		n := 0
		for _, x := range xs {
			if x >= t {
				n++
			}
		}
		return float64(n) / float64(len(xs))
	}
	for i := -100; i <= 100; i++ {
		t := float64(i) / 100
		if share(neg, t) <= maxFalse {
			return t, share(pos, t)
		}
	}
	return CosineNever, 0
}
