package retrieve

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// TestQualityServerVectors runs the quality set's vector and hybrid
// modes on a PostgreSQL store with pgvector (PGlite: see pgtest.PGlite)
// through the retriever, which then searches the server's HNSW index and
// loads no index of its own, and requires recall@10 and MRR within 0.02
// of the SQLite store's in-process index (exact at this size; HNSW is
// approximate).
func TestQualityServerVectors(t *testing.T) {
	url := pgtest.PGlite(t)
	ctx := context.Background()
	emb := embedding.NewHash(384)
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pg, err := postgres.Open(ctx, url, postgres.Options{Command: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	qs, now := loadQuality(t, lite, emb)
	loadQuality(t, pg, emb)
	ms := modes(now)
	if raceEnabled {
		// The race detector makes a search about ten times slower, and
		// PGlite answers one query at a time: every fourth query.
		small := qs
		small.Queries = nil
		for i, q := range qs.Queries {
			if i%4 == 0 {
				small.Queries = append(small.Queries, q)
			}
		}
		qs = small
	}
	for _, mode := range []string{"vector", "hybrid"} {
		server := New(pg, emb, nil, ms[mode])
		a, b := evaluate(t, New(lite, emb, nil, ms[mode]), qs, "", ""), evaluate(t, server, qs, "", "")
		t.Logf("%-7s sqlite R@10 %.3f MRR %.3f  pgvector R@10 %.3f MRR %.3f", mode, a.recall10, a.mrr, b.recall10, b.mrr)
		if math.Abs(a.recall10-b.recall10) > 0.02 || math.Abs(a.mrr-b.mrr) > 0.02 {
			t.Errorf("%s: pgvector recall@10 %.4f MRR %.4f, sqlite %.4f %.4f: more than 0.02 apart", mode, b.recall10, b.mrr, a.recall10, a.mrr)
		}
		if server.server == nil || server.ix != nil {
			t.Errorf("%s: the retriever did not search the server's vectors (server %v, own index %v)", mode, server.server != nil, server.ix != nil)
		}
	}
	// Without the server's search the same store is searched in process.
	own := New(pg, emb, nil, Options{NoServerVectors: true, DisableBM25: true, Now: ms["vector"].Now})
	if _, err := own.Search(ctx, memory.Owner(), Request{Query: qs.Queries[0].Query}); err != nil {
		t.Fatal(err)
	}
	if own.server != nil || own.ix == nil {
		t.Error("NoServerVectors: the retriever should keep its own index")
	}
}
