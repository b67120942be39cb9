package integration

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// BenchmarkMaintainLiveWriter runs `trove maintain` (the built binary)
// over a store of aged rows, every working one of which moves a tier,
// while a live-writer process stores or updates a memory every 20 ms. It
// measures in rounds, each an idle window (the live writer alone, 10 s)
// then a pass (the live writer during it), so idle and busy figures are
// taken alternately under the same machine load; between rounds the
// tiers are put back (untimed, followed by a checkpoint and a pause). It
// prints every round and reports the medians over rounds: the live
// writer's latency p50/p99 idle and during the pass, its lock wait and
// hold p99 (what a slow write waited on: the lock, or its own commit),
// failed writes, and the pass's time and per-write lock hold. Defaults:
// 100,000 rows, 3 rounds (MAINTAIN_BENCH_ROWS, MAINTAIN_BENCH_ROUNDS;
// MAINTAIN_BENCH_BATCH sets the moves per write).
//
//	go test -run '^$' -bench MaintainLiveWriter -benchtime 1x -timeout 60m ./tests/integration/
func BenchmarkMaintainLiveWriter(b *testing.B) {
	rows, rounds := 100_000, 3
	if v := os.Getenv("MAINTAIN_BENCH_ROWS"); v != "" {
		fmt.Sscan(v, &rows)
	}
	if v := os.Getenv("MAINTAIN_BENCH_ROUNDS"); v != "" {
		fmt.Sscan(v, &rounds)
	}
	var args []string
	if v := os.Getenv("MAINTAIN_BENCH_BATCH"); v != "" {
		args = append(args, "--batch", v)
	}
	const idleFor = 10 * time.Second
	for range b.N {
		b.StopTimer()
		e := newEnv(b)
		seedAged(b, e, rows)
		var fig map[string][]float64 = map[string][]float64{}
		add := func(k string, v float64) { fig[k] = append(fig[k], v) }
		failed := 0
		for r := range rounds {
			if r > 0 {
				resetAged(b, e, rows)
			}
			settle(b, e)

			stop := startLiveRun(b, e, 20*time.Millisecond)
			time.Sleep(idleFor)
			idle := stop()

			stop = startLiveRun(b, e, 20*time.Millisecond)
			time.Sleep(200 * time.Millisecond)
			b.StartTimer()
			out := maintainJSON(b, e, args...)
			b.StopTimer()
			during := stop()
			if out.Transitions == 0 || out.Error != "" {
				b.Fatalf("the pass moved nothing, or failed: %+v", out)
			}
			failed += idle.failed + during.failed
			add("idle-p50-ms", pct(idle.lat, 50))
			add("idle-p99-ms", pct(idle.lat, 99))
			add("during-p50-ms", pct(during.lat, 50))
			add("during-p99-ms", pct(during.lat, 99))
			add("during-max-ms", pct(during.lat, 100))
			add("idle-wait-p99-ms", pct(idle.waits, 99))
			add("during-wait-p99-ms", pct(during.waits, 99))
			add("idle-hold-p99-ms", pct(idle.holds, 99))
			add("during-hold-p99-ms", pct(during.holds, 99))
			add("pass-s", float64(out.DurationMS)/1000)
			add("max-batch-ms", out.MaxBatchMS)
			add("moves", float64(out.Transitions))
			fmt.Fprintf(os.Stderr, "round %d, %d rows: %d moves in %d ms, %d writes, lock %.0f ms total, max batch %.1f ms; live writer (%d/%d writes) idle p50 %.1f p99 %.1f ms (lock wait p99 %.1f, hold p99 %.1f), during p50 %.1f p99 %.1f max %.1f ms (lock wait p99 %.1f, hold p99 %.1f), %d failed\n",
				r, rows, out.Transitions, out.DurationMS, out.Batches, out.LockMS, out.MaxBatchMS,
				len(idle.lat), len(during.lat), pct(idle.lat, 50), pct(idle.lat, 99), pct(idle.waits, 99), pct(idle.holds, 99),
				pct(during.lat, 50), pct(during.lat, 99), pct(during.lat, 100), pct(during.waits, 99), pct(during.holds, 99), idle.failed+during.failed)
		}
		keys := make([]string, 0, len(fig))
		for k := range fig {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.ReportMetric(medianOf(fig[k]), k)
		}
		b.ReportMetric(float64(failed), "failed-writes")
	}
}

// resetAged puts the aged rows seedAged made working back in working, as
// bookkeeping (a tier move: no revision, no history), so the next pass
// moves them again.
func resetAged(b *testing.B, e *env, n int) {
	b.Helper()
	s, err := sqlite.Open(context.Background(), e.db, sqlite.Options{Command: "bench reset"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for start := 0; start < n; start += 5000 {
		err := s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
			for i := start; i < min(start+5000, n); i++ {
				if i%5 == 0 {
					continue
				}
				mv := store.TierMove{ID: fmt.Sprintf("age%05d", i), From: "peripheral", To: "working", AccessCount: -1, Reason: "bench reset"}
				if _, err := tx.(store.TierTx).SetTier(mv); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// settle empties the WAL and lets the disk quieten before a round.
func settle(b *testing.B, e *env) {
	b.Helper()
	s, err := sqlite.Open(context.Background(), e.db, sqlite.Options{Command: "bench settle"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Checkpoint(context.Background(), true); err != nil {
		b.Fatal(err)
	}
	s.Close()
	time.Sleep(2 * time.Second)
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	return c[len(c)/2]
}
