package sqlite

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// putTexts stores one row per text, ids r0000.., in one write.
func putTexts(t *testing.T, s *Store, from int, texts []string, scope memory.Scope) {
	t.Helper()
	ms := make([]memory.Memory, len(texts))
	for i, text := range texts {
		ms[i] = memory.Memory{ID: fmt.Sprintf("r%04d", from+i), Text: text, Scope: scope}
	}
	if _, err := store.PutMany(context.Background(), s, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
}

// A ranked query takes words rarest first while their document counts fit
// the budget; the rarest is always kept, common words are left out.
func TestPlanTextBudget(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	var texts []string
	for i := range commonDocs + 100 {
		w := []string{"omega"}
		if i < 5 {
			w = append(w, "kappa")
		}
		if i < rankBudget-100 {
			w = append(w, "sigma")
		}
		if i < rankBudget-50 {
			w = append(w, "zebra")
		}
		texts = append(texts, strings.Join(w, " "))
	}
	putTexts(t, s, 0, texts, memory.GlobalScope)

	for _, c := range []struct {
		query, want string
	}{
		// kappa (5) + sigma (budget-100) fit; zebra would not; omega is common.
		{"omega zebra sigma kappa", `"sigma" OR "kappa"`},
		// The rarest word is kept even past the budget.
		{"zebra omega", `"zebra"`},
		// A word in no row (a typo) does not take the rarest word's place.
		{"zebra tiemout", `"zebra" OR "tiemout"`},
		{"omega tiemout", `"tiemout"`},
		// A phrase (one identifier) always stays.
		{"omega config/prod.yaml", `"config prod yaml" OR "config" OR "prod" OR "yaml"`},
		// "omegas" is "omega" in English, "omegas" in German, in no row:
		// that alternative does not stand in for the word.
		{"omegas kappa", `"kappa"`},
	} {
		phrases, groups := ftsTermGroups(c.query, ftsStemmed) // words the stemmers leave as they are
		p, err := s.planText(ctx, memory.Owner(), phrases, groups)
		if err != nil {
			t.Fatal(err)
		}
		if !p.ranked || p.match != c.want {
			t.Errorf("%q: plan %+v, want ranked %s", c.query, p, c.want)
		}
	}
}

// When every word is common, rows must have the rarest words, newest first,
// each with the same score; the scope filter and k still apply.
func TestSearchTextAllCommonWords(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	var texts []string
	for i := range 2*commonDocs + 300 {
		w := "alpha beta"
		if i%2 == 0 {
			w += " gamma"
		}
		texts = append(texts, w)
	}
	putTexts(t, s, 0, texts, memory.GlobalScope)
	putTexts(t, s, len(texts), []string{"alpha beta gamma private"}, "agent:x") // newest, but out of reach

	phrases, groups := ftsTermGroups("alpha beta gamma", ftsStemmed)
	p, err := s.planText(ctx, memory.Owner(), phrases, groups)
	if err != nil {
		t.Fatal(err)
	}
	// alpha and beta are in every row, so requiring them too keeps plenty.
	if p.ranked || p.match != `"gamma" AND "alpha" AND "beta"` {
		t.Fatalf("plan %+v, want unranked AND of all three, rarest first", p)
	}
	// A word whose German stem is in no row ("alphas": "alpha" in English,
	// "alphas" in German) is still matched by its English one.
	phrases, groups = ftsTermGroups("alphas betas", ftsStemmed)
	if p, err = s.planText(ctx, memory.Owner(), phrases, groups); err != nil {
		t.Fatal(err)
	}
	if p.ranked || p.match != `"alpha" AND "beta"` {
		t.Fatalf("plan %+v, want unranked AND of alpha and beta", p)
	}
	hits, err := s.SearchText(ctx, memory.Scopes(memory.GlobalScope), store.Filter{}, "alpha beta gamma", 3)
	if err != nil {
		t.Fatal(err)
	}
	n := len(texts)
	want := []string{fmt.Sprintf("r%04d", n-2), fmt.Sprintf("r%04d", n-4), fmt.Sprintf("r%04d", n-6)}
	if len(hits) != 3 {
		t.Fatalf("hits %v, want %v", hits, want)
	}
	for i, h := range hits {
		if h.ID != want[i] || h.Score != hits[0].Score || h.Score <= 0 {
			t.Fatalf("hits %v, want ids %v newest first with one positive score", hits, want)
		}
	}
}

// Document counts are cached for dfMaxAge commits, then read again.
func TestDocFreqsRefreshAfterCommits(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	putTexts(t, s, 0, []string{"zebra", "zebra", "lion"}, memory.GlobalScope)
	st, err := s.docFreqs(ctx, []string{"zebra", "lion"})
	if err != nil {
		t.Fatal(err)
	}
	if st.df["zebra"] != 2 || st.df["lion"] != 1 || st.rows != 3 {
		t.Fatalf("first read %+v", st)
	}
	putTexts(t, s, 3, []string{"zebra"}, memory.GlobalScope)
	if st, _ = s.docFreqs(ctx, []string{"zebra"}); st.df["zebra"] != 2 {
		t.Fatalf("one commit later: zebra in %d rows, want the cached 2", st.df["zebra"])
	}
	for i := range dfMaxAge {
		putTexts(t, s, 10+i, []string{"zebra"}, memory.GlobalScope)
	}
	if st, _ = s.docFreqs(ctx, []string{"zebra"}); st.df["zebra"] != 3+dfMaxAge || st.rows != 4+dfMaxAge {
		t.Fatalf("after %d more commits: %+v, want zebra in %d of %d rows", dfMaxAge, st, 3+dfMaxAge, 4+dfMaxAge)
	}
	// One commit that adds many rows makes the counts stale at once.
	many := make([]string, dfMaxGrowth+1)
	for i := range many {
		many[i] = "zebra"
	}
	putTexts(t, s, 100, many, memory.GlobalScope)
	if st, _ = s.docFreqs(ctx, []string{"zebra"}); st.df["zebra"] != 3+dfMaxAge+len(many) {
		t.Fatalf("after one commit of %d rows: zebra in %d rows, want %d", len(many), st.df["zebra"], 3+dfMaxAge+len(many))
	}
}

func TestBM25IDF(t *testing.T) {
	for _, c := range []struct {
		rows, docs int
		want       float64
	}{
		{100, 1, math.Log(99.5 / 1.5)},
		{100, 50, 1e-6}, // a word in half the rows: floored, as FTS5 does
		{100, 90, 1e-6},
		{10, 50, 1e-6}, // a stale row count below the word's count
	} {
		if got := bm25IDF(c.rows, c.docs); math.Abs(got-c.want) > 1e-9 || math.IsNaN(got) {
			t.Errorf("bm25IDF(%d, %d) = %v, want %v", c.rows, c.docs, got, c.want)
		}
	}
}

func TestAndWords(t *testing.T) {
	st := termStats{rows: 100_000, df: map[string]int{"a": 5000, "b": 20000, "c": 30000, "d": 50000, "e": 60000}}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"a", "b", "c"}, "a b"},          // 1,000 rows expected with a and b; with c too, 300
		{[]string{"c", "d", "e"}, "c d e"},        // 15,000 → 9,000
		{[]string{"b", "c", "d", "e"}, "b c d e"}, // 6,000 → 3,000 → 1,800
		{[]string{"a"}, "a"},
	} {
		if got := strings.Join(andWords(c.words, st), " "); got != c.want {
			t.Errorf("andWords(%v) = %q, want %q", c.words, got, c.want)
		}
	}
}

// Both text queries must read FTS5's matches in the order asked for and
// stop at k rows that pass the filter: no sort of all matches by SQLite,
// and the FTS table outside the join.
func TestTextQueryPlans(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	where, args := filterClauseOf("+m.", memory.AgentAccess("a"), store.Filter{Categories: []memory.Category{memory.CategoryFact}})
	for _, ranked := range []bool{true, false} {
		rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+textQuery(ranked, where), append(append([]any{`"x"`}, args...), 5)...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		got := strings.Join(plan, " | ")
		if strings.Contains(got, "TEMP B-TREE") || !strings.HasPrefix(got, "SCAN f VIRTUAL TABLE") || !strings.Contains(got, "SEARCH m USING INTEGER PRIMARY KEY") {
			t.Errorf("ranked=%v: plan %q, want the FTS table scanned in order, rows looked up by rid, no sort", ranked, got)
		}
	}
}
