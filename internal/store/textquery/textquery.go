// Package textquery is what both store backends' keyword search share of
// a query and of the text they index: CJK bigrams, the stopwords, and a
// query's terms (the phrases of identifiers' tokens, and each word as its
// English and German stems). The SQLite store feeds the result to FTS5,
// the PostgreSQL store to a tsquery; both rank the same terms alike.
package textquery

import (
	"strings"
	"unicode"

	"github.com/trove-memory/trove/internal/textlang"
)

// MaxTerms bounds the work a long query can cause.
const MaxTerms = 32

// CJKBigrams rewrites CJK runs as space-separated overlapping bigrams (a
// lone character stays itself) and leaves everything else alone.
func CJKBigrams(s string) string {
	if !textlang.HasCJK(s) {
		return s
	}
	var b strings.Builder
	var run []rune
	flush := func() {
		switch len(run) {
		case 0:
			return
		case 1:
			b.WriteString(" " + string(run) + " ")
		default:
			b.WriteByte(' ')
			for i := 0; i+1 < len(run); i++ {
				b.WriteString(string(run[i : i+2]))
				b.WriteByte(' ')
			}
		}
		run = run[:0]
	}
	for _, r := range s {
		if textlang.IsCJK(r) {
			run = append(run, r)
			continue
		}
		flush()
		b.WriteRune(r)
	}
	flush()
	return b.String()
}

// stopwords are dropped from queries that have other words: OR-ing "the"
// would make every row a candidate and add nothing to the ranking.
var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be by did do does for from had has have how i in is it its me my
		of on or our so that the their them then there these they this to was we were what when where which who why
		will with you your`) {
		stopwords[w] = true
	}
}

// PlainTerms are the phrases and words of a query as written (lower
// case): a word that splits into several tokens (an identifier like
// ERR_CONN_RESET or config/prod.yaml) also yields the phrase of its
// tokens. Stopwords are dropped when other words remain; at most MaxTerms
// of each.
func PlainTerms(text string) (phrases, tokens []string) {
	seen := map[string]bool{}
	var words [][]string
	nonStop := 0
	for _, word := range strings.Fields(CJKBigrams(strings.ToLower(text))) {
		toks := strings.FieldsFunc(word, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
		if len(toks) == 0 {
			continue
		}
		words = append(words, toks)
		for _, t := range toks {
			if !stopwords[t] {
				nonStop++
			}
		}
	}
	for _, toks := range words {
		if len(toks) > 1 {
			if p := strings.Join(toks, " "); !seen[p] && len(phrases) < MaxTerms {
				seen[p] = true
				phrases = append(phrases, p)
			}
		}
		for _, t := range toks {
			if (nonStop > 0 && stopwords[t]) || seen[t] || len(tokens) >= MaxTerms {
				continue
			}
			seen[t] = true
			tokens = append(tokens, t)
		}
	}
	return phrases, tokens
}

// stemLangs are the languages each query word is stemmed in.
var stemLangs = [...]textlang.Lang{textlang.English, textlang.German}

// StemmedGroups is PlainTerms for a stemmed index, with the tokens grouped
// by the query word they stand for.
//
// A row is indexed in the language its own text is guessed to be in, and
// a query cannot know which that is (a short query is rarely guessed
// German, and a German row often holds an English word such as
// "Deployment"). So each query word is searched as its stems in both
// languages, English and German ("kinder" as "kinder" and "kind"; most
// words have one stem in both), and a row indexed in either finds it. The
// alternatives of one word are ORed like all terms: a row holds almost
// always one of them, as its language stems the word one way. A phrase is
// searched likewise in both languages' stems.
func StemmedGroups(text string) (phrases []string, groups [][]string) {
	plain, tokens := PlainTerms(text)
	groups = make([][]string, 0, len(tokens))
	seen := map[string]bool{}
	for _, p := range plain {
		var alts []string
		for _, lang := range stemLangs {
			words := strings.Fields(p)
			for i, w := range words {
				words[i] = textlang.Stem(w, lang)
			}
			if p := strings.Join(words, " "); !seen[p] {
				seen[p] = true
				alts = append(alts, p)
			}
		}
		if len(phrases)+len(alts) > MaxTerms {
			break
		}
		phrases = append(phrases, alts...)
	}
	n := 0
	for _, t := range tokens {
		var alts []string
		for _, lang := range stemLangs {
			if s := textlang.Stem(t, lang); !seen[s] {
				seen[s] = true
				alts = append(alts, s)
			}
		}
		if len(alts) == 0 {
			continue // a word already searched (as another word's stem)
		}
		if n+len(alts) > MaxTerms {
			break
		}
		n += len(alts)
		groups = append(groups, alts)
	}
	return phrases, groups
}
