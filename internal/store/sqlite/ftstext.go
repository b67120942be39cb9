package sqlite

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	msqlite "modernc.org/sqlite"

	"github.com/trove-memory/trove/internal/store/textquery"
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
		// trove_fts2(column, text) is what the stemmed index (version 2)
		// holds of one column of a row whose text is text: see indexText.
		err = msqlite.RegisterDeterministicScalarFunction("trove_fts2", 2, func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			return indexText(sqlText(args[0]), rowLang(sqlText(args[1])), ftsStemmed), nil
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

func sqlText(v driver.Value) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	default:
		return fmt.Sprint(v)
	}
}

// The versions of the text index (meta.fts_version). Version 1 holds the
// words as written (CJK as bigrams); version 2 (schema 11) holds their
// Snowball stems, in the language each row's text is guessed to be in
// (textlang.DocLang), so "moving" finds "moved" and "Haus" finds "Häuser".
// A store from before schema 11 keeps answering from version 1 while
// version 2 is built beside it (BuildTextIndex).
const (
	ftsPlain   = 1
	ftsStemmed = 2
)

// The SQL that reads what each index version holds of rows of memories:
// text, l0, l1, l2.
const (
	ftsPlainCols = `trove_fts(text),
		trove_fts(coalesce(json_extract(metadata, '$.l0_abstract'), '')),
		trove_fts(coalesce(json_extract(metadata, '$.l1_overview'), '')),
		trove_fts(coalesce(json_extract(metadata, '$.l2_content'), ''))`
	ftsStemCols = `trove_fts2(text, text),
		trove_fts2(coalesce(json_extract(metadata, '$.l0_abstract'), ''), text),
		trove_fts2(coalesce(json_extract(metadata, '$.l1_overview'), ''), text),
		trove_fts2(coalesce(json_extract(metadata, '$.l2_content'), ''), text)`
)

// indexText is what index version ver holds of one column of a row in
// language lang.
func indexText(col string, lang textlang.Lang, ver int) string {
	col = ftsText(col)
	if ver < ftsStemmed {
		return col
	}
	return textlang.StemText(col, lang)
}

// rowLang guesses the language of a row from its text. The four columns
// of a row are indexed one after another with the same text, so the last
// guess is kept.
func rowLang(text string) textlang.Lang {
	langMemo.Lock()
	defer langMemo.Unlock()
	if langMemo.ok && langMemo.text == text {
		return langMemo.lang
	}
	langMemo.text, langMemo.lang, langMemo.ok = text, textlang.DocLang(text), true
	return langMemo.lang
}

var langMemo struct {
	sync.Mutex
	text string
	lang textlang.Lang
	ok   bool
}

// indexCols is what index version ver holds of a row's four columns.
func indexCols(cols statDocs, ver int) statDocs {
	lang := textlang.English
	if ver >= ftsStemmed {
		lang = rowLang(cols[0])
	}
	for i, c := range cols {
		cols[i] = indexText(c, lang, ver)
	}
	return cols
}

func isCJK(r rune) bool { return textlang.IsCJK(r) }

// ftsText rewrites CJK runs as space-separated bigrams (textquery).
func ftsText(s string) string { return textquery.CJKBigrams(s) }

// maxQueryTerms bounds the work a long query can cause.
const maxQueryTerms = textquery.MaxTerms

// ftsTerms splits free text into FTS5 terms that cannot be a syntax error:
// every term is a quoted string (FTS operators such as AND, NEAR, "*" or
// parentheses in the text are just words or dropped punctuation). A word
// that splits into several tokens (an identifier like ERR_CONN_RESET or
// config/prod.yaml) also yields the phrase of its tokens, so exact
// identifiers rank first. Stopwords are dropped when other words remain.
// The tokens are those of ftsTermGroups, one after another.
func ftsTerms(text string, ver int) (phrases, tokens []string) {
	phrases, groups := ftsTermGroups(text, ver)
	for _, g := range groups {
		tokens = append(tokens, g...)
	}
	return phrases, tokens
}

// ftsTermGroups is ftsTerms with the tokens grouped by the query word
// they stand for.
//
// For the stemmed index (ver 2) a row is indexed in the language its own
// text is guessed to be in, and a query cannot know which that is (a
// short query is rarely guessed German, and a German row often holds an
// English word such as "Deployment"). So each query word is searched as
// its stems in both languages, English and German ("kinder" as "kinder"
// and "kind"; most words have one stem in both), and a row indexed in
// either finds it. The alternatives of one word are ORed like all terms,
// and bm25 sums what each contributes: a row holds almost always one of
// them, as its language stems the word one way, so the word counts once
// for it; a row holding both (two different words of the query's word's
// stems, "deploy" and "deployment" in one German row) counts both. That
// is the rare cost of scoring with FTS5's own bm25, which both the owner's
// and the scoped search use, so the two keep agreeing. A phrase is
// searched likewise in both languages' stems.
func ftsTermGroups(text string, ver int) (phrases []string, groups [][]string) {
	if ver >= ftsStemmed {
		return textquery.StemmedGroups(text)
	}
	phrases, tokens := textquery.PlainTerms(text)
	groups = make([][]string, 0, len(tokens))
	for _, t := range tokens {
		groups = append(groups, []string{t})
	}
	return phrases, groups
}

// ftsQuery ORs the quoted terms; "" when there is nothing to search.
func ftsQuery(phrases, tokens []string) string {
	terms := make([]string, 0, len(phrases)+len(tokens))
	for _, t := range append(append([]string(nil), phrases...), tokens...) {
		terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	return strings.Join(terms, " OR ")
}
