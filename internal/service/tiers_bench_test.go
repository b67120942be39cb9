package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// timedStore records how long each Write took (lock wait, which is nil
// here, plus hold and commit).
type timedStore struct {
	*sqlite.Store
	mu     sync.Mutex
	writes []time.Duration
}

func (s *timedStore) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	t0 := time.Now()
	err := s.Store.Write(ctx, acc, fn)
	s.mu.Lock()
	s.writes = append(s.writes, time.Since(t0))
	s.mu.Unlock()
	return err
}

// BenchmarkMaintain times a maintenance pass over 10k and 100k rows
// (SQLite, synchronous=full, 384-dim vectors) in two cases: every row
// moves (created 100 days ago, never recalled: working → peripheral; the
// tiers are put back between passes, untimed), and none does (the steady
// state of an hourly pass). It reports the pass time, and the write-lock
// hold per batch (p99 and max, from the lock's own figures) for the
// default batch (DefaultMaintainBatch) of moves.
//
//	go test -run '^$' -bench Maintain -benchtime 3x ./internal/service/
func BenchmarkMaintain(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, moves := range []bool{true, false} {
			name := fmt.Sprintf("rows=%d/moves=%s", n, map[bool]string{true: "all", false: "none"}[moves])
			b.Run(name, func(b *testing.B) { benchMaintain(b, n, moves) })
		}
	}
}

func benchMaintain(b *testing.B, n int, moves bool) {
	now := time.Now()
	raw := servicetest.Store(b, func() time.Time { return now })
	st := &timedStore{Store: raw}
	svc := service.New(service.Options{Store: st, Embedder: servicetest.Embedder(), Clock: func() time.Time { return now }})
	vec := make([]float32, servicetest.Dims)
	for i := range vec {
		vec[i] = float32(i%7) / 7
	}
	created := now.Add(-100 * 24 * time.Hour).UnixMilli()
	if !moves {
		created = now.Add(-time.Hour).UnixMilli()
	}
	for start := 0; start < n; start += 2000 {
		if err := raw.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			for i := start; i < min(start+2000, n); i++ {
				m := memory.Memory{ID: fmt.Sprintf("row%07d", i), Text: fmt.Sprintf("memory %d about service %d", i, i%97), Scope: memory.GlobalScope,
					Importance: 0.4, CreatedAt: created, Vector: vec, Metadata: map[string]any{memory.KeyTier: "working"}}
				if err := tx.Insert(&m); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	var passes, holds99, holdsMax, writes99 []float64
	for b.Loop() {
		b.StopTimer()
		if moves {
			resetTiers(b, raw, n)
		}
		before := raw.Lock().Stats()
		st.mu.Lock()
		st.writes = st.writes[:0]
		st.mu.Unlock()
		b.StartTimer()
		out, err := svc.Maintain(ctx, service.Caller{}, service.MaintainInput{})
		b.StopTimer()
		if err != nil || out.Scanned != n || moves && out.Transitions != n || !moves && out.Transitions != 0 {
			b.Fatalf("%+v %v", out, err)
		}
		passes = append(passes, float64(out.DurationMS))
		after := raw.Lock().Stats()
		if k := int(after.Acquisitions - before.Acquisitions); len(after.Holds) < 4096 && k <= len(after.Holds) {
			h := slices.Clone(after.Holds[len(after.Holds)-k : len(after.Holds)-1]) // the batches, not the record write
			if len(h) > 0 {
				slices.Sort(h)
				holds99 = append(holds99, ms(h[int(float64(len(h)-1)*0.99)]))
				holdsMax = append(holdsMax, ms(h[len(h)-1]))
			}
		}
		st.mu.Lock()
		if w := slices.Clone(st.writes); len(w) > 1 {
			w = w[:len(w)-1]
			slices.Sort(w)
			writes99 = append(writes99, ms(w[int(float64(len(w)-1)*0.99)]))
		}
		st.mu.Unlock()
		b.StartTimer()
	}
	b.ReportMetric(median(passes), "pass-ms")
	if moves {
		b.ReportMetric(median(holds99), "hold-p99-ms")
		b.ReportMetric(median(holdsMax), "hold-max-ms")
		b.ReportMetric(median(writes99), "write-p99-ms")
	}
}

// resetTiers puts every row back in working, as bookkeeping.
func resetTiers(b *testing.B, st *sqlite.Store, n int) {
	for start := 0; start < n; start += 5000 {
		if err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error {
			for i := start; i < min(start+5000, n); i++ {
				if _, err := tx.(store.TierTx).SetTier(store.TierMove{ID: fmt.Sprintf("row%07d", i), From: "peripheral", To: "working", AccessCount: -1}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	return c[len(c)/2]
}
