package retrieve

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// loadQuality writes the quality set (testdata/quality.json) into st,
// embedded with emb, as qualityFixtureWith does for a SQLite store.
func loadQuality(t testing.TB, st store.Store, emb embedding.Embedder) (qualitySet, time.Time) {
	t.Helper()
	b, err := os.ReadFile("testdata/quality.json")
	if err != nil {
		t.Fatal(err)
	}
	var qs qualitySet
	if err := json.Unmarshal(b, &qs); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	texts := make([]string, len(qs.Memories))
	for i, m := range qs.Memories {
		texts[i] = m.Text
	}
	vecs, err := emb.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]memory.Memory, len(qs.Memories))
	for i, m := range qs.Memories {
		at := now.Add(-time.Duration(m.AgeDays * float64(24*time.Hour))).UnixMilli()
		ms[i] = memory.Memory{ID: m.ID, Text: m.Text, Category: memory.Category(m.Category), Scope: memory.Scope(m.Scope),
			Importance: m.Importance, CreatedAt: at, Vector: vecs[i]}
	}
	res, err := store.PutMany(context.Background(), st, memory.Owner(), ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return qs, now
}

// TestQualityBackendsAgree runs the quality set through the same
// retriever on the SQLite and the PostgreSQL store (text search, the
// vector change feed) and requires recall@10 and MRR within 0.01 of each
// other in every mode, every language included.
func TestQualityBackendsAgree(t *testing.T) {
	url := pgtest.URL(t)
	emb := embedding.NewHash(384)
	lite, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "q.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pg, err := postgres.Open(context.Background(), url, postgres.Options{Command: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	qs, now := loadQuality(t, lite, emb)
	loadQuality(t, pg, emb)
	ms := modes(now)
	check := func(what string, a, b qualityScore) {
		t.Helper()
		if a.n == 0 {
			return
		}
		t.Logf("%-22s n=%3d  sqlite R@10 %.3f MRR %.3f  postgres R@10 %.3f MRR %.3f", what, a.n, a.recall10, a.mrr, b.recall10, b.mrr)
		if math.Abs(a.recall10-b.recall10) > 0.01 || math.Abs(a.mrr-b.mrr) > 0.01 {
			t.Errorf("%s: postgres recall@10 %.4f MRR %.4f, sqlite %.4f %.4f: more than 0.01 apart", what, b.recall10, b.mrr, a.recall10, a.mrr)
		}
	}
	if raceEnabled {
		// The race detector makes a search about ten times slower: a
		// quarter of the queries, in the two modes that matter most.
		var sub []int
		for i := range qs.Queries {
			if i%4 == 0 {
				sub = append(sub, i)
			}
		}
		small := qs
		small.Queries = nil
		for _, i := range sub {
			small.Queries = append(small.Queries, qs.Queries[i])
		}
		for _, mode := range []string{"bm25", "hybrid"} {
			check(mode+" (a quarter)", evaluate(t, New(lite, emb, nil, ms[mode]), small, "", ""), evaluate(t, New(pg, emb, nil, ms[mode]), small, "", ""))
		}
		return
	}
	// The text side per language (stemming, CJK bigrams); the other modes
	// over every query.
	for _, lang := range []string{"en", "de", "zh", "ja"} {
		check("bm25 "+lang, evaluate(t, New(lite, emb, nil, ms["bm25"]), qs, "", lang), evaluate(t, New(pg, emb, nil, ms["bm25"]), qs, "", lang))
	}
	for _, mode := range []string{"vector", "hybrid", "bm25+prf"} {
		check(mode, evaluate(t, New(lite, emb, nil, ms[mode]), qs, "", ""), evaluate(t, New(pg, emb, nil, ms[mode]), qs, "", ""))
	}
	// A caller limited to the query's scopes: bm25 on those scopes'
	// statistics (the SQLite store's scoped search; here the same code as
	// the owner's, on other counts).
	check("bm25 scoped caller", evaluateScoped(t, New(lite, emb, nil, ms["bm25"]), qs), evaluateScoped(t, New(pg, emb, nil, ms["bm25"]), qs))
}

// evaluateScoped is evaluate's recall@10 and MRR for the queries limited
// to scopes, searched by a caller who may read only those scopes.
func evaluateScoped(t testing.TB, r *Retriever, qs qualitySet) qualityScore {
	var s qualityScore
	for _, q := range qs.Queries {
		if len(q.Relevant) == 0 || len(q.Scopes) == 0 {
			continue
		}
		var scopes []memory.Scope
		for _, sc := range q.Scopes {
			scopes = append(scopes, memory.Scope(sc))
		}
		resp, err := r.Search(context.Background(), memory.Scopes(scopes...), Request{Query: q.Query, Limit: 10})
		if err != nil {
			t.Fatalf("query %s: %v", q.ID, err)
		}
		found, rr := 0, 0.0
		for i, res := range resp.Results {
			if slices.Contains(q.Relevant, res.Memory.ID) {
				found++
				if rr == 0 {
					rr = 1 / float64(i+1)
				}
			}
		}
		s.recall10 += float64(found) / float64(min(10, len(q.Relevant)))
		s.mrr += rr
		s.n++
	}
	if s.n > 0 {
		s.recall10, s.mrr = s.recall10/float64(s.n), s.mrr/float64(s.n)
	}
	return s
}
