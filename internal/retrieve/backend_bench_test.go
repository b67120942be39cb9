package retrieve

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// BenchmarkBackends puts the two backends side by side on the same rows
// (384-dimension hash vectors, Zipf-distributed words, four scopes): the
// load rate (PutMany, 2,000 rows a write), a single-row store (one Write
// inserting one row with its vector) p50/p99 on the loaded store, and
// the full hybrid search p50/p95 as an agent of one scope (vector + BM25,
// fusion, scoring; no embedding call). 10k rows; 100k too with
// TROVE_BENCH_100K=1. PostgreSQL runs when TROVE_PG_URL is set, and its
// configuration is printed.
//
//	TROVE_PG_URL=postgres://... go test -run '^$' -bench Backends -benchtime 1x -timeout 60m ./internal/retrieve/
func BenchmarkBackends(b *testing.B) {
	sizes := []int{10_000}
	if os.Getenv("TROVE_BENCH_100K") == "1" {
		sizes = append(sizes, 100_000)
	}
	ctx := context.Background()
	backends := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"), sqlite.Options{Synchronous: "normal"})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
	}
	if os.Getenv("TROVE_PG_URL") != "" {
		printPGConfig(b)
		backends = append(backends, struct {
			name string
			open func(b *testing.B) store.Store
		}{"postgres", func(b *testing.B) store.Store {
			st, err := postgres.Open(ctx, pgtest.URL(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}})
	}
	for _, n := range sizes {
		for _, be := range backends {
			b.Run(fmt.Sprintf("%s/n=%d", be.name, n), func(b *testing.B) {
				st := be.open(b)
				defer st.Close()
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				ws := newWordSource(uint64(n))
				hash := embedding.NewHash(384)
				scopes := []memory.Scope{"global", "agent:a", "agent:b", "user:u"}
				row := func(id string) memory.Memory {
					text := ws.sentence(8 + rng.IntN(20))
					v, _ := hash.Embed(ctx, []string{text})
					return memory.Memory{ID: id, Text: text, Category: memory.Categories[rng.IntN(6)],
						Scope: scopes[rng.IntN(4)], Importance: rng.Float64(), Vector: v[0]}
				}
				start := time.Now()
				for lo := 0; lo < n; lo += 2000 {
					ms := make([]memory.Memory, min(2000, n-lo))
					for i := range ms {
						ms[i] = row(fmt.Sprintf("m%07d", lo+i))
					}
					if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
						b.Fatal(err)
					}
				}
				load := time.Since(start)

				// Single-row writes on the loaded store.
				var writes []time.Duration
				for i := range 500 {
					m := row(fmt.Sprintf("w%07d", i))
					t0 := time.Now()
					if err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
						b.Fatal(err)
					}
					writes = append(writes, time.Since(t0))
				}

				queries := make([]string, 300)
				pre := precomputed{}
				for i := range queries {
					queries[i] = ws.sentence(3 + rng.IntN(5))
					v, _ := hash.Embed(ctx, queries[i:i+1])
					pre[queries[i]] = v[0]
				}
				acc := memory.AgentAccess("a")
				r := New(st.(store.Searcher), pre, nil, Options{})
				if _, err := r.Search(ctx, acc, Request{Query: queries[0]}); err != nil { // loads the index
					b.Fatal(err)
				}
				var lat []time.Duration
				b.ResetTimer()
				for _, q := range queries {
					t0 := time.Now()
					if _, err := r.Search(ctx, acc, Request{Query: q, Limit: 10}); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
				b.StopTimer()
				at := func(ds []time.Duration, p int) float64 {
					ds = slices.Clone(ds)
					slices.Sort(ds)
					return float64(ds[len(ds)*p/100].Microseconds()) / 1000
				}
				b.ReportMetric(float64(n)/load.Seconds(), "load-rows/s")
				b.ReportMetric(at(writes, 50), "store-p50-ms")
				b.ReportMetric(at(writes, 99), "store-p99-ms")
				b.ReportMetric(at(lat, 50), "search-p50-ms")
				b.ReportMetric(at(lat, 95), "search-p95-ms")
			})
		}
	}
}

// printPGConfig prints the server's version and the settings that bear
// on the figures.
func printPGConfig(b *testing.B) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("TROVE_PG_URL"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		b.Fatal(err)
	}
	var parts []string
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "work_mem",
		"maintenance_work_mem", "effective_cache_size", "wal_level", "max_connections", "jit"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			b.Fatal(err)
		}
		parts = append(parts, name+"="+v)
	}
	var vec bool
	_ = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')").Scan(&vec)
	fmt.Fprintf(os.Stderr, "PostgreSQL: %s\n  %s pgvector-available=%v\n", version, strings.Join(parts, " "), vec)
}
