package sqlite

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"unicode"

	msqlite "modernc.org/sqlite"

	"github.com/trove-memory/trove/internal/textlang"
)

// The FTS index uses SQLite's unicode61 tokenizer, which takes a run of
// Chinese or Japanese characters without spaces as one token, so "咖啡"
// would never match "我喜欢喝咖啡". trove indexes (and queries) CJK runs
// as overlapping character bigrams instead: "喜欢喝咖啡" is indexed as
// "喜欢 欢喝 喝咖 咖啡". Other text is indexed as it is. The function is
// registered with the driver as trove_fts(text) and used by the SQL that
// fills the index, so the index and queries always agree.

var registerOnce sync.Once

func registerFunctions() error {
	var err error
	registerOnce.Do(func() {
		err = msqlite.RegisterDeterministicScalarFunction("trove_fts", 1, func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch v := args[0].(type) {
			case nil:
				return "", nil
			case string:
				return ftsText(v), nil
			case []byte:
				return ftsText(string(v)), nil
			default:
				return ftsText(fmt.Sprint(v)), nil
			}
		})
		if err != nil {
			return
		}
		// trove_doclen(sz) is a row's length in tokens from FTS5's docsize
		// record: text search scores within the caller's scopes with it.
		err = msqlite.RegisterDeterministicScalarFunction("trove_doclen", 1, func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			b, _ := args[0].([]byte)
			return docLen(b), nil
		})
	})
	return err
}

func isCJK(r rune) bool { return textlang.IsCJK(r) }

// ftsText rewrites CJK runs as space-separated bigrams (a lone character
// stays itself) and leaves everything else alone.
func ftsText(s string) string {
	hasCJK := false
	for _, r := range s {
		if isCJK(r) {
			hasCJK = true
			break
		}
	}
	if !hasCJK {
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
		if isCJK(r) {
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

// maxQueryTerms bounds the work a long query can cause.
const maxQueryTerms = 32

// ftsTerms splits free text into FTS5 terms that cannot be a syntax error:
// every term is a quoted string (FTS operators such as AND, NEAR, "*" or
// parentheses in the text are just words or dropped punctuation). A word
// that splits into several tokens (an identifier like ERR_CONN_RESET or
// config/prod.yaml) also yields the phrase of its tokens, so exact
// identifiers rank first. Stopwords are dropped when other words remain.
func ftsTerms(text string) (phrases, tokens []string) {
	seen := map[string]bool{}
	var words [][]string
	nonStop := 0
	for _, word := range strings.Fields(ftsText(strings.ToLower(text))) {
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
			if p := strings.Join(toks, " "); !seen[p] && len(phrases) < maxQueryTerms {
				seen[p] = true
				phrases = append(phrases, p)
			}
		}
		for _, t := range toks {
			if (nonStop > 0 && stopwords[t]) || seen[t] || len(tokens) >= maxQueryTerms {
				continue
			}
			seen[t] = true
			tokens = append(tokens, t)
		}
	}
	return phrases, tokens
}

// ftsQuery ORs the quoted terms; "" when there is nothing to search.
func ftsQuery(phrases, tokens []string) string {
	terms := make([]string, 0, len(phrases)+len(tokens))
	for _, t := range append(append([]string(nil), phrases...), tokens...) {
		terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	return strings.Join(terms, " OR ")
}
