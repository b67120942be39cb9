package sqlite

import (
	"context"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// benchVocab is the text benchmarks' vocabulary: 100 domain words (the
// most frequent) and 5,000 rarer made-up ones, drawn with a Zipf
// distribution as in internal/retrieve's BenchmarkHybridSearch.
var benchVocab = func() []string {
	v := strings.Fields(`deploy database postgres redis kafka queue worker cron backup restore token auth session
	cookie header proxy nginx gateway timeout retry latency cache index shard replica migration schema column table
	editor vim emacs vscode theme dark light font keyboard layout coffee tea lunch meeting standup review release branch
	merge rebase commit tag version build test lint format docker image registry cluster node pod secret config yaml
	json parser error panic trace log metric alert dashboard budget invoice customer ticket sprint roadmap design api`)
	for i := range 5000 {
		v = append(v, fmt.Sprintf("term%04dx", i))
	}
	return v
}()

type benchWords struct{ z *mrand.Zipf }

func newBenchWords(seed int64) benchWords {
	return benchWords{mrand.NewZipf(mrand.New(mrand.NewSource(seed)), 1.07, 2, uint64(len(benchVocab)-1))}
}

func (w benchWords) sentence(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = benchVocab[w.z.Uint64()]
	}
	return strings.Join(out, " ")
}

// textBenchStore opens a store of n rows of Zipf text (with 384-dim
// vectors, so rows take the room they do in use) in four scopes. With
// TROVE_BENCH_DIR set, the store is built there once and reused.
func textBenchStore(b *testing.B, n int) *Store {
	b.Helper()
	ctx := context.Background()
	dir := os.Getenv("TROVE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("text%d.db", n))
	_, statErr := os.Stat(path)
	s, err := Open(ctx, path, Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if statErr == nil {
		return s
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	ws := newBenchWords(int64(n))
	for lo := 0; lo < n; lo += 2000 {
		ms := make([]memory.Memory, min(2000, n-lo))
		for i := range ms {
			ms[i] = memory.Memory{ID: fmt.Sprintf("m%07d", lo+i), Text: ws.sentence(8 + rng.IntN(20)),
				Scope:  []memory.Scope{"global", "agent:a", "agent:b", "user:u"}[rng.IntN(4)],
				Vector: benchVec(lo + i)}
		}
		if _, err := store.PutMany(ctx, s, memory.Owner(), ms); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkScopedSearchText measures SearchText alone at 100k rows (10k
// with -short) for an agent (global and its own scope) and the owner,
// over the queries once (as BenchmarkHybridSearch does), again (counts
// cached), and "cold", with every cached count dropped before each query
// (what the first queries after some writes see).
//
//	TROVE_BENCH_DIR=/tmp/bench go test -run '^$' -bench ScopedSearchText -benchtime 1x ./internal/store/sqlite/
func BenchmarkScopedSearchText(b *testing.B) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	s := textBenchStore(b, n)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2, uint64(n)))
	ws := newBenchWords(int64(n) + 1)
	queries := make([]string, 300)
	for i := range queries {
		queries[i] = ws.sentence(3 + rng.IntN(5))
	}
	for _, c := range []struct {
		name string
		acc  memory.Access
		cold bool
	}{
		{"agent", memory.AgentAccess("a"), false},
		{"agent-again", memory.AgentAccess("a"), false},
		{"agent-cold", memory.AgentAccess("a"), true},
		{"owner", memory.Owner(), false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			for range b.N {
				qs := queries
				if c.cold {
					qs = queries[:50] // each one recounts everything
				}
				for _, q := range qs {
					if c.cold {
						s.dfMu.Lock()
						s.dfCache, s.dfRows = nil, nil
						s.dfMu.Unlock()
					}
					start := time.Now()
					if _, err := s.SearchText(ctx, c.acc, store.Filter{}, q, 20); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
