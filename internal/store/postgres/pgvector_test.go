package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

// The pgvector SQL path is tested on PGlite (PostgreSQL compiled to
// WebAssembly, with its pgvector build) served over the wire protocol by
// integrations/pglite/server.mjs: schema creation (the migrations), the
// extension, the HNSW index and its ranking, through pgx as against any
// server. PGlite is one backend in single-user mode, so the store runs
// with one connection (pool_max_conns=1): what needs two sessions (two
// writers at once, row and advisory locks between hosts) and COPY cannot
// be tested there; the contract suite covers those on a real server.

func randomVectors(r *rand.Rand, n, dims int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dims)
		var norm float64
		for j := range v {
			v[j] = float32(r.NormFloat64())
			norm += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(norm))
		}
		out[i] = v
	}
	return out
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

// bruteForce ranks the rows' vectors by cosine to q (ids of rows in ok).
func bruteForce(ms []memory.Memory, q []float32, k int, ok func(memory.Memory) bool) []string {
	type scored struct {
		id string
		s  float64
	}
	var all []scored
	for _, m := range ms {
		if ok(m) {
			all = append(all, scored{m.ID, cosine(m.Vector, q)})
		}
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.s != b.s {
			if a.s > b.s {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	var ids []string
	for _, s := range all[:min(k, len(all))] {
		ids = append(ids, s.id)
	}
	return ids
}

func hitIDs(hs []VectorHit) []string {
	var ids []string
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	return ids
}

// TestPGliteVectorSearch: on PGlite with pgvector, the migrations run,
// the extension is found and created, memory_vectors and its HNSW index
// are built from the change feed and serve nearest-neighbour queries as
// a brute-force scan ranks them; writes reach it; text search works too.
func TestPGliteVectorSearch(t *testing.T) {
	url := pgtest.PGlite(t)
	ctx := context.Background()
	s := openURL(t, url) // the migrations run on PGlite's PostgreSQL
	ok, reason, err := s.PGVector(ctx)
	if err != nil || !ok {
		t.Fatalf("PGVector on PGlite = %v %q %v, want available", ok, reason, err)
	}
	const n, dims = 300, 32
	r := rand.New(rand.NewPCG(1, 2))
	vecs := randomVectors(r, n, dims)
	ms := make([]memory.Memory, n)
	for i := range ms {
		scope := memory.Scope("global")
		if i%3 == 0 {
			scope = "agent:a"
		}
		ms[i] = memory.Memory{ID: fmt.Sprintf("m%03d", i), Text: fmt.Sprintf("row %d", i), Scope: scope, Vector: vecs[i]}
	}
	if _, err := store.PutMany(ctx, s, memory.Owner(), slices.Clone(ms)); err != nil {
		t.Fatal(err)
	}
	queries := randomVectors(r, 20, dims)
	all := func(memory.Memory) bool { return true }
	recall := func(acc memory.Access, f store.Filter, ok func(memory.Memory) bool) float64 {
		t.Helper()
		found, total := 0, 0
		for _, q := range queries {
			hits, err := s.VectorSearch(ctx, acc, f, q, 10)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(ms, q, 10, ok)
			for i, h := range hits {
				if !ok(ms[slices.IndexFunc(ms, func(m memory.Memory) bool { return m.ID == h.ID })]) {
					t.Fatalf("hit %s is outside the filter", h.ID)
				}
				if i > 0 && h.Score > hits[i-1].Score+1e-6 {
					t.Fatalf("hits not best first: %v", hits)
				}
				if c := cosine(ms[slices.IndexFunc(ms, func(m memory.Memory) bool { return m.ID == h.ID })].Vector, q); math.Abs(c-h.Score) > 1e-4 {
					t.Fatalf("hit %s scored %.6f, its cosine is %.6f", h.ID, h.Score, c)
				}
			}
			for _, id := range want {
				if slices.Contains(hitIDs(hits), id) {
					found++
				}
			}
			total += len(want)
		}
		return float64(found) / float64(total)
	}
	if rc := recall(memory.Owner(), store.Filter{}, all); rc < 0.9 {
		t.Errorf("recall@10 against brute force = %.3f, want ≥ 0.9", rc)
	}
	inA := func(m memory.Memory) bool { return m.Scope == "agent:a" }
	if rc := recall(memory.Scopes("agent:a"), store.Filter{}, inA); rc < 0.9 {
		t.Errorf("recall@10 within a scope = %.3f, want ≥ 0.9", rc)
	}
	// The query is served by the HNSW index.
	var plan []string
	rows, err := s.pool.Query(ctx, "EXPLAIN SELECT id FROM memory_vectors ORDER BY embedding <=> $1::vector LIMIT 10", vectorLiteral(queries[0]))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan = append(plan, line)
	}
	rows.Close()
	if !strings.Contains(strings.Join(plan, "\n"), "memory_vectors_hnsw") {
		t.Errorf("the nearest-neighbour query does not use the HNSW index:\n%s", strings.Join(plan, "\n"))
	}

	// Writes reach the index: a delete, and a vector moved onto a query.
	target := queries[0]
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		if err := tx.Delete("m001", 0); err != nil {
			return err
		}
		m, err := tx.Get("m002")
		if err != nil {
			return err
		}
		m.Vector = target
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := s.VectorSearch(ctx, memory.Owner(), store.Filter{}, target, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].ID != "m002" || hits[0].Score < 0.9999 {
		t.Errorf("after moving m002 onto the query: %v", hits)
	}
	hits, err = s.VectorSearch(ctx, memory.Owner(), store.Filter{}, vecs[1], 5)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(hitIDs(hits), "m001") {
		t.Errorf("deleted m001 still found: %v", hits)
	}
	// A purge leaves no tombstone: the copy is rebuilt past the horizon.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { _, err := tx.Purge("m003"); return err }); err != nil {
		t.Fatal(err)
	}
	hits, err = s.VectorSearch(ctx, memory.Owner(), store.Filter{}, vecs[3], 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || slices.Contains(hitIDs(hits), "m003") {
		t.Errorf("purged m003 still found (or nothing found): %v", hits)
	}
	var copied int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM memory_vectors").Scan(&copied); err != nil {
		t.Fatal(err)
	}
	if copied != n-2 {
		t.Errorf("memory_vectors holds %d rows after a delete and a purge, want %d", copied, n-2)
	}
	// The text index on PGlite's PostgreSQL 17.
	if _, err := store.PutMany(ctx, s, memory.Owner(), slices.Clone(searchCorpus)); err != nil {
		t.Fatal(err)
	}
	th, err := s.SearchText(ctx, memory.Owner(), store.Filter{}, "ERR_CONN_RESET proxy", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(th) < 2 || th[0].ID != "en3" {
		t.Errorf("text search ERR_CONN_RESET proxy: %s", fmtHits(th))
	}
	// A query of other dimensions is refused with a reason.
	if _, err := s.VectorSearch(ctx, memory.Owner(), store.Filter{}, make([]float32, dims+1), 5); !errors.Is(err, memory.ErrInvalid) {
		t.Errorf("a zero query vector of other dimensions: %v, want ErrInvalid", err)
	}
	if _, err := s.VectorSearch(ctx, memory.Owner(), store.Filter{}, randomVectors(r, 1, dims+1)[0], 5); !errors.Is(err, memory.ErrInvalid) {
		t.Errorf("a query vector of other dimensions: %v, want ErrInvalid", err)
	}
}

// TestNoPGVector: on a server without pgvector, the store says so and
// why, and VectorSearch returns ErrNoPGVector (the retriever searches
// vectors itself).
func TestNoPGVector(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	var offered bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')").Scan(&offered); err != nil {
		t.Fatal(err)
	}
	if offered {
		t.Skip("this server has pgvector: TestPGliteVectorSearch covers it")
	}
	ok, reason, err := s.PGVector(ctx)
	if err != nil || ok || !strings.Contains(reason, "pgvector") {
		t.Fatalf("PGVector = %v %q %v", ok, reason, err)
	}
	if _, err := s.VectorSearch(ctx, memory.Owner(), store.Filter{}, []float32{1, 0}, 3); !errors.Is(err, ErrNoPGVector) {
		t.Fatalf("VectorSearch without pgvector: %v", err)
	}
}
