package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/lock"
	"github.com/trove-memory/trove/internal/store/storetest"
)

// fakeClock is a settable clock for Options.Clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

var seedTombstones = storetest.SeedTombstones

func TestPruneTombstones(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	s, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), Options{Synchronous: "normal", Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seedTombstones(t, s, "old", 1200) // several batches
	clk.now = clk.now.Add(20 * 24 * time.Hour)
	seedTombstones(t, s, "new", 10)
	before, err := s.ChangeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := s.TombstoneHorizon(ctx); h != 0 {
		t.Fatalf("horizon %d before any prune", h)
	}

	clk.now = clk.now.Add(11 * 24 * time.Hour) // old ones are 31 days old, new ones 11
	if total, old, err := s.TombstoneCount(ctx, 30*24*time.Hour); err != nil || total != 1210 || old != 1200 {
		t.Fatalf("count %d %d %v", total, old, err)
	}
	rep, err := s.PruneTombstones(ctx, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pruned != 1200 || rep.Batches != (1200+pruneBatch-1)/pruneBatch {
		t.Fatalf("report %+v", rep)
	}
	if total, _, _ := s.TombstoneCount(ctx, 30*24*time.Hour); total != 10 {
		t.Fatalf("%d tombstones left, want the 10 recent ones", total)
	}
	h, err := s.TombstoneHorizon(ctx)
	if err != nil || h != rep.Horizon || h <= 0 || h >= before {
		t.Fatalf("horizon %d (report %d), want within (0, %d): %v", h, rep.Horizon, before, err)
	}
	// The recent deletions are still in the feed for a reader past the horizon.
	ch, err := s.VectorChanges(ctx, h)
	if err != nil || len(ch.Deleted) != 10 {
		t.Fatalf("feed after the horizon: %d deletions, %v", len(ch.Deleted), err)
	}

	// A re-run finds nothing and keeps the horizon.
	again, err := s.PruneTombstones(ctx, 30*24*time.Hour)
	if err != nil || again.Pruned != 0 || again.Horizon != h {
		t.Fatalf("re-run %+v %v", again, err)
	}
	if _, err := s.PruneTombstones(ctx, 0); err == nil {
		t.Fatal("a zero retention was accepted")
	}
}

// Tombstones written before schema 2 get the migration's time, so they are
// kept for a full retention after the upgrade.
func TestMigratedTombstonesCountFromTheMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	// A store as a schema-1 trove left it, with one tombstone.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(loadMigrations()[0] + "; PRAGMA user_version = 1; INSERT INTO tombstones(id, seq) VALUES ('a', 1)")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if total, old, err := s.TombstoneCount(ctx, time.Hour); err != nil || total != 1 || old != 0 {
		t.Fatalf("after migration: %d tombstones, %d older than an hour, %v", total, old, err)
	}
}

// BenchmarkPruneTombstones prunes 100k tombstones and reports the longest
// write-lock hold of one batch (lock.Stats): live writers wait at most
// that long behind a prune.
//
//	go test -run '^$' -bench PruneTombstones -benchtime 1x ./internal/store/sqlite
func BenchmarkPruneTombstones(b *testing.B) {
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
		s, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"), Options{Clock: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		seedTombstones(b, s, "t", 100_000)
		clk.now = clk.now.Add(31 * 24 * time.Hour)
		seen := len(s.Lock().Stats().Holds)
		b.StartTimer()
		rep, err := s.PruneTombstones(ctx, 30*24*time.Hour)
		b.StopTimer()
		if err != nil || rep.Pruned != 100_000 {
			b.Fatalf("%+v %v", rep, err)
		}
		holds := s.Lock().Stats().Holds[seen:]
		b.ReportMetric(float64(lock.Percentile(holds, 100).Microseconds())/1000, "max-hold-ms")
		b.ReportMetric(float64(lock.Percentile(holds, 99).Microseconds())/1000, "p99-hold-ms")
		b.ReportMetric(float64(lock.Percentile(holds, 50).Microseconds())/1000, "p50-hold-ms")
		b.ReportMetric(float64(rep.Batches), "batches")
		s.Close()
		b.StartTimer()
	}
}
