package postgres

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// searchCorpus has what the text index must treat as the SQLite store
// does: English and German stems, CJK bigrams, identifiers (phrases),
// diacritics, L0/L1/L2 metadata columns with their weights, repeated
// words, and words in several scopes.
var searchCorpus = []memory.Memory{
	{ID: "en1", Scope: "global", Text: "We moved the deployment pipeline to GitHub Actions last week"},
	{ID: "en2", Scope: "global", Text: "Deploying on Fridays is forbidden; deployments wait for Monday"},
	{ID: "en3", Scope: "project:atlas", Text: "The atlas service crashed with ERR_CONN_RESET after the proxy restarted"},
	{ID: "en4", Scope: "project:atlas", Text: "config/prod.yaml holds the proxy timeout; the proxy proxy proxy retries twice"},
	{ID: "en5", Scope: "global", Text: "Alice prefers dark mode and a café near the office", Metadata: map[string]any{
		"l0_abstract": "Alice: dark mode, café", "l1_overview": "Preferences of Alice about the editor theme",
		"l2_content": "Alice said she prefers dark mode in every editor and likes the café"}},
	{ID: "de1", Scope: "global", Text: "Die Häuser in der Straße werden nächste Woche gestrichen"},
	{ID: "de2", Scope: "agent:bob", Text: "Das Deployment ist nicht fertig und wir warten auf die Freigabe"},
	{ID: "zh1", Scope: "global", Text: "我喜欢喝咖啡，尤其是早上"},
	{ID: "zh2", Scope: "agent:bob", Text: "项目的部署在周五失败了"},
	{ID: "ja1", Scope: "global", Text: "コーヒーが好きです"},
	{ID: "mix", Scope: "project:atlas", Text: "atlas的PR已经合并, the deploy finished"},
	{ID: "hid1", Scope: "agent:hidden", Text: "proxy proxy deployment atlas secret words only hidden rows have"},
}

var searchQueries = []string{
	"deployment", "moving pipelines", "deploy on friday", "ERR_CONN_RESET", "err conn reset", "config/prod.yaml",
	"proxy", "proxy timeout retries", "cafe", "café", "dark mode editor", "Alice", "Häuser", "haus strasse",
	"Freigabe Deployment", "咖啡", "喝咖啡", "部署", "コーヒー", "atlas PR", "the", "nothing matches this", "\"quoted\" AND (NEAR) *",
}

// TestSearchTextMatchesSQLite writes one corpus into both stores and
// requires the same hits with the same scores (to 1e-9) for the owner and
// for callers limited to some scopes.
func TestSearchTextMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	pg := openTemp(t)
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	for _, st := range []store.Store{pg, lite} {
		if _, err := store.PutMany(ctx, st, memory.Owner(), slices.Clone(searchCorpus)); err != nil {
			t.Fatal(err)
		}
	}
	accs := map[string]memory.Access{
		"owner":       memory.Owner(),
		"global+bob":  memory.Scopes("global", "agent:bob"),
		"atlas":       memory.Scopes("project:atlas"),
		"hidden-only": memory.Scopes("agent:hidden"),
	}
	found := 0
	for name, acc := range accs {
		for _, q := range searchQueries {
			want, err := lite.SearchText(ctx, acc, store.Filter{}, q, 10)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pg.SearchText(ctx, acc, store.Filter{}, q, 10)
			if err != nil {
				t.Fatalf("%s %q: %v", name, q, err)
			}
			if !sameHits(got, want) {
				t.Errorf("%s %q:\npostgres %s\nsqlite   %s", name, q, fmtHits(got), fmtHits(want))
			}
			if name == "owner" && len(got) > 0 {
				found++
			}
		}
	}
	if found < len(searchQueries)-3 {
		t.Errorf("the owner found something for %d of %d queries: the corpus no longer tests much", found, len(searchQueries))
	}
}

func sameHits(a, b []store.TextHit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i].Score-b[i].Score) > 1e-9 {
			return false
		}
		// Rows of equal score may come in either order.
		if a[i].ID != b[i].ID && !slices.ContainsFunc(b, func(h store.TextHit) bool { return h.ID == a[i].ID && math.Abs(h.Score-a[i].Score) <= 1e-9 }) {
			return false
		}
	}
	return true
}

func fmtHits(hs []store.TextHit) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("%s:%.6f", h.ID, h.Score))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestSearchTextHiddenScopes: rows written to a scope a caller cannot
// read change neither what it finds nor its scores.
func TestSearchTextHiddenScopes(t *testing.T) {
	ctx := context.Background()
	pg := openTemp(t)
	if _, err := store.PutMany(ctx, pg, memory.Owner(), slices.Clone(searchCorpus)); err != nil {
		t.Fatal(err)
	}
	acc := memory.Scopes("global", "project:atlas")
	before := map[string][]store.TextHit{}
	for _, q := range searchQueries {
		hits, err := pg.SearchText(ctx, acc, store.Filter{}, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		before[q] = hits
	}
	var more []memory.Memory
	for i := range 40 {
		more = append(more, memory.Memory{Scope: "agent:other", Text: fmt.Sprintf("deployment proxy atlas café %d dark mode 咖啡 Häuser", i)})
	}
	if _, err := store.PutMany(ctx, pg, memory.Owner(), more); err != nil {
		t.Fatal(err)
	}
	for _, q := range searchQueries {
		hits, err := pg.SearchText(ctx, acc, store.Filter{}, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !sameHits(hits, before[q]) {
			t.Errorf("%q changed with rows of a hidden scope:\nbefore %s\nafter  %s", q, fmtHits(before[q]), fmtHits(hits))
		}
	}
	// The owner sees them, and their statistics.
	hits, err := pg.SearchText(ctx, memory.Owner(), store.Filter{}, "deployment", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) < 40 {
		t.Errorf("owner found %d rows for deployment, want the 40 new ones and more", len(hits))
	}
}

// TestSearchTextFollowsWrites: updates, deletes and purges leave the
// index in the same transaction; a filter applies.
func TestSearchTextFollowsWrites(t *testing.T) {
	ctx := context.Background()
	pg := openTemp(t)
	if _, err := store.PutMany(ctx, pg, memory.Owner(), slices.Clone(searchCorpus)); err != nil {
		t.Fatal(err)
	}
	find := func(q string, f store.Filter) []string {
		t.Helper()
		hits, err := pg.SearchText(ctx, memory.Owner(), f, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := find("pipeline", store.Filter{}); !slices.Equal(got, []string{"en1"}) {
		t.Fatalf("pipeline: %v", got)
	}
	err := pg.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, err := tx.Get("en1")
		if err != nil {
			return err
		}
		m.Text = "The release train leaves every Tuesday"
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := find("pipeline", store.Filter{}); len(got) != 0 {
		t.Errorf("pipeline after the update: %v", got)
	}
	if got := find("tuesday trains", store.Filter{}); !slices.Equal(got, []string{"en1"}) {
		t.Errorf("tuesday trains after the update: %v", got)
	}
	if err := pg.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("en3", 0) }); err != nil {
		t.Fatal(err)
	}
	if got := find("ERR_CONN_RESET", store.Filter{}); len(got) != 0 {
		t.Errorf("ERR_CONN_RESET after the delete: %v", got)
	}
	if got := find("proxy", store.Filter{Scopes: []memory.Scope{"agent:hidden"}}); !slices.Equal(got, []string{"hid1"}) {
		t.Errorf("proxy in agent:hidden: %v", got)
	}
	if got := find("proxy", store.Filter{Categories: []memory.Category{memory.CategoryFact}}); len(got) != 0 {
		t.Errorf("proxy among facts: %v", got)
	}
}

// TestScopeSizesFollowWrites: the scope sizes the writes keep equal a
// count of the rows after inserts, updates (text and scope), deletes,
// purges, a failed write, and writers running at once.
func TestScopeSizesFollowWrites(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, err := store.PutMany(ctx, s, memory.Owner(), slices.Clone(searchCorpus)); err != nil {
		t.Fatal(err)
	}
	errBoom := fmt.Errorf("boom")
	err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		if err := tx.Insert(&memory.Memory{Text: "never saved", Scope: "global"}); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("failed write: %v", err)
	}
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, err := tx.Get("en2")
		if err != nil {
			return err
		}
		m.Text, m.Scope = "a much longer text than before, moved to another scope entirely", "agent:bob"
		if err := tx.Update(&m); err != nil {
			return err
		}
		if err := tx.Delete("zh1", 0); err != nil {
			return err
		}
		_, err = tx.Purge("de1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := range 15 {
				err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
					scope := memory.Scope(fmt.Sprintf("agent:w%d", i%3))
					return tx.Insert(&memory.Memory{Text: fmt.Sprintf("writer %d row %d says hello", w, i), Scope: scope})
				})
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT coalesce(a.scope, b.scope), coalesce(a.rows, 0), coalesce(a.tokens, 0), coalesce(b.rows, 0), coalesce(b.tokens, 0)
		FROM scope_sizes a FULL JOIN (SELECT scope, count(*) AS rows, sum(doc_len) AS tokens FROM memories GROUP BY scope) b ON a.scope = b.scope`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var scope string
		var kr, kt, cr, ct int64
		if err := rows.Scan(&scope, &kr, &kt, &cr, &ct); err != nil {
			t.Fatal(err)
		}
		if kr != cr || kt != ct {
			t.Errorf("scope %s: kept %d rows %d tokens, counted %d rows %d tokens", scope, kr, kt, cr, ct)
		}
		n++
	}
	if n < 7 {
		t.Errorf("%d scopes compared, want 7 or more", n)
	}
}

// FuzzSearchTextQuery: any query text (operators of tsquery and FTS5,
// quotes, backslashes, NUL, invalid UTF-8, CJK) is searched as words, and
// never makes an invalid tsquery.
func FuzzSearchTextQuery(f *testing.F) {
	for _, q := range []string{
		"", "a", `it's`, `\`, `'quoted'`, `"double"`, "a & b | !c <-> d:* (e)", "NEAR(a b) AND * OR -x",
		"ERR_CONN_RESET", "config/prod.yaml", "\x00nul", "\xff\xfe bad", "咖啡 喝咖啡", "Häuser strasse café",
		strings.Repeat("word ", 100), "<2> <-> 'a':*A",
	} {
		f.Add(q)
	}
	s := openTemp(f)
	ctx := context.Background()
	if _, err := store.PutMany(ctx, s, memory.Owner(), slices.Clone(searchCorpus)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, acc := range []memory.Access{memory.Owner(), memory.Scopes("global")} {
			hits, err := s.SearchText(ctx, acc, store.Filter{}, q, 5)
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			for _, h := range hits {
				if math.IsNaN(h.Score) || h.Score < 0 {
					t.Fatalf("%q: %s scored %v", q, h.ID, h.Score)
				}
			}
		}
	})
}
