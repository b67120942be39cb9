package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
	"github.com/trove-memory/trove/internal/store/storetest"
)

// fakeClock is a settable clock for Options.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

var seedTombstones = storetest.SeedTombstones

// Old tombstones go in batches; the horizon is the highest seq pruned,
// below every deletion kept; a re-run keeps it; two hosts pruning at once
// share the batches and prune each tombstone once.
func TestPruneTombstones(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	open := func() *Store {
		s, err := Open(ctx, url, Options{Clock: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s, other := open(), open()
	seedTombstones(t, s, "old", 1200) // several batches
	clk.add(20 * 24 * time.Hour)
	seedTombstones(t, s, "new", 10)
	if h, _ := s.TombstoneHorizon(ctx); h != 0 {
		t.Fatalf("horizon %d before any prune", h)
	}
	clk.add(11 * 24 * time.Hour) // old ones are 31 days old, new ones 11
	if total, old, err := s.TombstoneCount(ctx, 30*24*time.Hour); err != nil || total != 1210 || old != 1200 {
		t.Fatalf("count %d %d %v", total, old, err)
	}
	var wg sync.WaitGroup
	reps := make([]PruneReport, 2)
	errs := make([]error, 2)
	for i, st := range []*Store{s, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = st.PruneTombstones(ctx, 30*24*time.Hour)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := reps[0].Pruned + reps[1].Pruned; n != 1200 {
		t.Fatalf("pruned %d in all (%+v), want 1200", n, reps)
	}
	t.Logf("two pruners: %+v", reps)
	if total, _, _ := s.TombstoneCount(ctx, 30*24*time.Hour); total != 10 {
		t.Fatalf("%d tombstones left, want the 10 recent ones", total)
	}
	var minKept int64
	if err := s.pool.QueryRow(ctx, "SELECT min(seq) FROM tombstones").Scan(&minKept); err != nil {
		t.Fatal(err)
	}
	h, err := s.TombstoneHorizon(ctx)
	if err != nil || h <= 0 || h >= minKept || max(reps[0].Horizon, reps[1].Horizon) != h {
		t.Fatalf("horizon %d (reports %+v), want within (0, %d): %v", h, reps, minKept, err)
	}
	again, err := s.PruneTombstones(ctx, 30*24*time.Hour)
	if err != nil || again.Pruned != 0 || again.Horizon != h {
		t.Fatalf("re-run %+v %v", again, err)
	}
	if _, err := s.PruneTombstones(ctx, 0); err == nil {
		t.Fatal("a zero retention was accepted")
	}
}
