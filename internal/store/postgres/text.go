package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"weak"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/unicode/norm"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store/textquery"
	"github.com/trove-memory/trove/internal/textlang"
)

// The text index of the PostgreSQL store holds what the SQLite store's
// stemmed FTS5 index (index version 2) holds, tokenised here in Go so the
// two backends find and rank alike:
//
//   - each of a row's four columns (its text, and its metadata's
//     l0_abstract, l1_overview and l2_content) is rewritten as the SQLite
//     store indexes it: CJK runs as overlapping bigrams, then every Latin
//     word replaced by its Snowball stem in the row's language
//     (textlang.DocLang of its text: English or German);
//   - that text is cut into tokens as SQLite's unicode61 tokenizer
//     (remove_diacritics 2) cuts it: runs of letters and digits, lower
//     case, Latin diacritics folded ("café" is "cafe");
//   - the tokens go into a tsvector (memories.tsv, GIN-indexed) built
//     here as a literal, never by a PostgreSQL text search configuration
//     (whose parser cuts "config/prod.yaml" or an e-mail address otherwise):
//     each column's positions carry its bm25 column weight as the
//     position's label (text A, l0 B, l1 C, l2 D), and a column starts one
//     position after the previous column ended plus one, so a phrase never
//     matches across two columns (FTS5's phrases do not either);
//   - the row's length in tokens (FTS5's docsize, all four columns) goes
//     into memories.doc_len.
//
// A query is split into terms exactly as the SQLite store splits it
// (English and German stems of each word, the phrase of an identifier's
// tokens, stopwords dropped) and matched with a tsquery built here; the
// rows are then scored in Go with FTS5's bm25 and column weights, from
// the statistics of the scopes the caller may read.
//
// What tsvector cannot hold, and so differs from FTS5 in rare rows: a
// position above 16383 is stored as 16383 (a row of more tokens than that
// loses phrase matches and occurrences near its end), a lexeme keeps at
// most 256 positions (bm25 saturates long before: a word's 256th
// occurrence changes its score by less than 0.1%), and a token longer than
// maxLexeme bytes is left out of the tsvector (it still counts in doc_len).

// columnWeights are the bm25 weights of the four columns (text, l0, l1,
// l2): the SQLite store's FTS5 rank (its migration 1).
var columnWeights = [4]float64{1.0, 1.0, 0.5, 0.25}

// weightLabels are the tsvector position labels of the four columns.
const weightLabels = "ABCD"

// FTS5's bm25 constants.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// Limits of a tsvector: positions run from 1 to maxPos, a lexeme is at
// most 2047 bytes, and the whole value at most 1 MiB (with room left here
// for the positions).
const (
	maxPos       = 16383
	maxLexeme    = 2000
	maxTSVBytes  = 900_000
	maxLexPosits = 256
)

// docCols are a row's four indexed columns.
type docCols [4]string

// indexedDoc is what the text index holds of one row.
type indexedDoc struct {
	tsv    string // a tsvector literal
	length int    // tokens in all four columns
}

// indexDoc tokenises a row's columns as the SQLite store's stemmed index
// does and returns its tsvector literal and length.
func indexDoc(cols docCols) indexedDoc {
	lang := textlang.DocLang(cols[0])
	type occ struct {
		pos int
		col int
	}
	lexemes := map[string][]occ{}
	var order []string
	pos, length := 0, 0
	for c, col := range cols {
		if c > 0 && pos > 0 {
			pos++ // a gap: no phrase spans two columns
		}
		for _, tok := range indexTokens(textlang.StemText(textquery.CJKBigrams(col), lang)) {
			length++
			pos++
			if len(tok) > maxLexeme {
				continue
			}
			p := min(pos, maxPos)
			l, seen := lexemes[tok]
			if !seen {
				order = append(order, tok)
			}
			if len(l) < maxLexPosits && (len(l) == 0 || l[len(l)-1].pos != p) {
				lexemes[tok] = append(l, occ{p, c})
			}
		}
	}
	slices.Sort(order)
	var b strings.Builder
	for _, lex := range order {
		if b.Len() > maxTSVBytes {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		writeQuoted(&b, lex)
		b.WriteByte(':')
		for i, o := range lexemes[lex] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(o.pos))
			b.WriteByte(weightLabels[o.col])
		}
	}
	return indexedDoc{tsv: b.String(), length: length}
}

// writeQuoted writes a lexeme quoted for tsvector and tsquery input.
func writeQuoted(b *strings.Builder, lex string) {
	b.WriteByte('\'')
	for i := 0; i < len(lex); i++ {
		switch c := lex[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
}

// indexTokens cuts indexed text into tokens as unicode61 (remove_diacritics
// 2) does: runs of letters and digits, lower case, Latin letters without
// their diacritics.
func indexTokens(text string) []string {
	toks := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
	for i, t := range toks {
		toks[i] = foldDiacritics(t)
	}
	return toks
}

// foldDiacritics removes the diacritics of Latin letters ("é" → "e", "ä"
// → "a"); other characters (CJK, Hangul, which decompose too) are kept.
func foldDiacritics(t string) string {
	ascii := true
	for i := 0; i < len(t); i++ {
		if t[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return t
	}
	var b strings.Builder
	for _, r := range t {
		if r < utf8.RuneSelf || !unicode.Is(unicode.Latin, r) {
			b.WriteRune(r)
			continue
		}
		for _, d := range norm.NFD.String(string(r)) {
			if !unicode.Is(unicode.Mn, d) {
				b.WriteRune(d)
			}
		}
	}
	return b.String()
}

// termTokens are the index tokens of a query term (a word, or a phrase of
// several): as FTS5 tokenises a quoted term.
func termTokens(term string) []string { return indexTokens(term) }

// termQuery is the tsquery of one term: its lexeme, or its tokens in a
// row; "" for a term of no token.
func termQuery(term string) string {
	toks := termTokens(term)
	if len(toks) == 0 {
		return ""
	}
	var b strings.Builder
	if len(toks) > 1 {
		b.WriteByte('(')
	}
	for i, t := range toks {
		if i > 0 {
			b.WriteString(" <-> ")
		}
		writeQuoted(&b, t)
	}
	if len(toks) > 1 {
		b.WriteByte(')')
	}
	return b.String()
}

// orQuery is the tsquery matching a row with any of the terms; "" when
// none has a token.
func orQuery(terms []string) string {
	var parts []string
	for _, t := range terms {
		if q := termQuery(t); q != "" {
			parts = append(parts, q)
		}
	}
	return strings.Join(parts, " | ")
}

// bm25IDF is FTS5's IDF of a term in docs of rows rows (floored at 1e-6).
func bm25IDF(rows, docs int) float64 {
	rows = max(rows, docs)
	v := (float64(rows) - float64(docs) + 0.5) / (float64(docs) + 0.5)
	return max(math.Log(v), 1e-6)
}

// rowCols are the four indexed columns of a row: its text and its
// metadata's L0, L1 and L2 fields (as the SQLite store's json_extract
// reads them: a string as it is, another value as its text).
func rowCols(m *memory.Memory) docCols {
	return docCols{m.Text, columnText(m.Metadata["l0_abstract"]), columnText(m.Metadata["l1_overview"]), columnText(m.Metadata["l2_content"])}
}

func columnText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "1"
		}
		return "0"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// TextColumns are the text index values of a row as stored (memories
// tokens, as a tsvector literal for $n::tsvector, and doc_len). A write
// that sets them in its own INSERT or UPDATE saves indexRow's second
// UPDATE of the row (a dead tuple and a new entry in every index of
// memories per write): it then calls countIndexed instead of indexRow.
func TextColumns(m *memory.Memory) (tokens string, docLen int) {
	d := indexDoc(rowCols(m))
	return d.tsv, d.length
}

// countIndexed counts a row just written with its text index (TextColumns)
// into its scope's size.
func (t *tx) countIndexed(scope memory.Scope, docLen int) {
	t.sizeDelta().add(scope, 1, int64(docLen))
}

// indexRow is called after row rid was inserted or updated, with m as
// stored, inside the write's transaction: it writes the row's text index
// (memories.tokens and doc_len), so the index commits with the row, and
// counts the row into its scope's size (scope_sizes, at the commit).
func (t *tx) indexRow(rid int64, m *memory.Memory) error {
	d := indexDoc(rowCols(m))
	if _, err := t.exec("UPDATE memories SET tokens = $1::tsvector, doc_len = $2 WHERE rid = $3", d.tsv, d.length, rid); err != nil {
		return fmt.Errorf("index memory %s: %w", m.ID, err)
	}
	t.countIndexed(m.Scope, d.length)
	return nil
}

// unindexRow is called before row rid is updated, deleted or purged,
// while it holds its old content: the row leaves its scope's size.
func (t *tx) unindexRow(rid int64) error {
	var scope string
	var length int64
	var indexed bool
	err := t.queryRow("SELECT scope, doc_len, tokens IS NOT NULL FROM memories WHERE rid = $1", rid).Scan(&scope, &length, &indexed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unindex memory: %w", err)
	}
	if indexed {
		t.sizeDelta().add(memory.Scope(scope), -1, -length)
	}
	return nil
}

// Each scope's row count and total length in tokens (scope_sizes: bm25's
// document count and average length) are kept by the writes: what one
// write changes is added up while it runs and applied in one statement
// at its commit, after it took the change sequence (an atSeq hook, under
// the lock that orders commits), so writers never wait for each other on
// a scope's counts while their functions run, and never deadlock on them.

// sizeDelta is what one write changed in scopes' sizes.
type sizeDelta struct {
	m map[memory.Scope][2]int64 // rows, tokens
}

func (d *sizeDelta) add(scope memory.Scope, rows, tokens int64) {
	v := d.m[scope]
	d.m[scope] = [2]int64{v[0] + rows, v[1] + tokens}
}

// sizeDeltas holds each open write's sizeDelta, by a weak pointer to its
// tx (the tx struct is another file's), dropped when the tx is collected.
var sizeDeltas sync.Map // weak.Pointer[tx] → *sizeDelta

// sizeDelta returns the write's sizeDelta, registering at its first use
// the hook that applies it.
func (t *tx) sizeDelta() *sizeDelta {
	key := weak.Make(t)
	if d, ok := sizeDeltas.Load(key); ok {
		return d.(*sizeDelta)
	}
	d := &sizeDelta{m: map[memory.Scope][2]int64{}}
	sizeDeltas.Store(key, d)
	runtime.AddCleanup(t, func(k weak.Pointer[tx]) { sizeDeltas.Delete(k) }, key)
	t.atSeq = append(t.atSeq, func(int64) error { return t.applySizes(d) })
	return d
}

// applySizes adds a write's changes to scope_sizes.
func (t *tx) applySizes(d *sizeDelta) error {
	var scopes []string
	var rows, tokens []int64
	for _, sc := range slices.Sorted(maps.Keys(d.m)) {
		if v := d.m[sc]; v != [2]int64{} {
			scopes, rows, tokens = append(scopes, string(sc)), append(rows, v[0]), append(tokens, v[1])
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	_, err := t.exec(`INSERT INTO scope_sizes(scope, rows, tokens) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
		ON CONFLICT (scope) DO UPDATE SET rows = scope_sizes.rows + excluded.rows, tokens = scope_sizes.tokens + excluded.tokens`,
		scopes, rows, tokens)
	if err != nil {
		return fmt.Errorf("count the text statistics: %w (the write was not saved)", err)
	}
	return nil
}
