package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// benchRows makes n rows of zipfian words in four scopes.
func benchRows(n int) []memory.Memory {
	r := rand.New(rand.NewPCG(7, 8))
	z := rand.NewZipf(r, 1.1, 1, 5000)
	ms := make([]memory.Memory, n)
	for i := range ms {
		words := make([]string, 12+r.IntN(12))
		for j := range words {
			words[j] = fmt.Sprintf("w%d", z.Uint64())
		}
		ms[i] = memory.Memory{Text: strings.Join(words, " "), Scope: memory.Scope(fmt.Sprintf("agent:%d", i%4))}
	}
	return ms
}

// BenchmarkSearchText: text search at 10k rows on both stores, by the
// owner and by a caller of one scope (per-scope statistics).
//
//	TROVE_PG_URL=... go test -run '^$' -bench SearchText ./internal/store/postgres/
func BenchmarkSearchText(b *testing.B) {
	ctx := context.Background()
	rows := benchRows(10_000)
	pg := openTemp(b)
	lite, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "b.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lite.Close() })
	for _, st := range []store.Store{pg, lite} {
		for i := 0; i < len(rows); i += 500 {
			batch := slices.Clone(rows[i:min(i+500, len(rows))])
			if _, err := store.PutMany(ctx, st, memory.Owner(), batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	queries := []string{"w3 w40 w700", "w1 w2", "w1200 w4100", "w9 w17 w33 w65 w129"}
	for _, c := range []struct {
		name string
		st   store.Searcher
		acc  memory.Access
	}{
		{"postgres/owner", pg, memory.Owner()},
		{"postgres/scoped", pg, memory.Scopes("agent:1")},
		{"sqlite/owner", lite, memory.Owner()},
		{"sqlite/scoped", lite, memory.Scopes("agent:1")},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := c.st.SearchText(ctx, c.acc, store.Filter{}, queries[i%len(queries)], 10); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
