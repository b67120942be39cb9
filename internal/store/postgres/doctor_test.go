package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

// The doctor's queries: server, migration level, indexes (a dropped one
// is missing), a transaction left open holding a row lock (and the
// session it blocks), the job lock's holder, and the vector census.
func TestDoctorQueries(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	si, err := s.ServerInfo(ctx)
	if err != nil || si.Version == "" || si.VersionNum < 100000 || si.Database == "" || si.User == "" || si.Connections < 1 || si.MaxConnections < 1 {
		t.Fatalf("server: %+v %v", si, err)
	}
	if sc, err := s.SchemaInfo(ctx); err != nil || sc.Version != SchemaVersion() || sc.Binary != SchemaVersion() || sc.WrittenBy != "test" {
		t.Fatalf("schema: %+v %v", sc, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	ixs, err := s.Indexes(ctx)
	if err != nil || len(ixs) < 10 {
		t.Fatalf("indexes: %+v %v", ixs, err)
	}
	for _, ix := range ixs {
		if !ix.Present || !ix.Valid || ix.Table == "" || !strings.HasPrefix(ix.Create, "CREATE INDEX "+ix.Name+" ON "+ix.Table) {
			t.Fatalf("index %+v", ix)
		}
	}
	if _, err := s.pool.Exec(ctx, "DROP INDEX capture_jobs_state"); err != nil {
		t.Fatal(err)
	}
	var gone []string
	if ixs, err = s.Indexes(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ix := range ixs {
		if !ix.Present {
			gone = append(gone, ix.Name+" on "+ix.Table)
		}
	}
	if !slices.Equal(gone, []string{"capture_jobs_state on capture_jobs"}) {
		t.Fatalf("indexes missing after a drop: %v", gone)
	}

	put := []memory.Memory{{ID: "a", Text: "a", Vector: []float32{1, 2}}, {ID: "b", Text: "b"}}
	if _, err := store.PutMany(ctx, s, memory.Owner(), put); err != nil {
		t.Fatal(err)
	}
	if c, err := s.VectorCensus(ctx); err != nil || c.Rows != 2 || c.Missing != 1 || c.ByDims[2] != 1 {
		t.Fatalf("census: %+v %v", c, err)
	}
	if ids, err := s.MissingVectors(ctx, 10); err != nil || !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("missing vectors: %v %v", ids, err)
	}
	if ids, err := s.VectorOutliers(ctx, 3, 10); err != nil || !slices.Equal(ids, []string{"a"}) {
		t.Fatalf("outliers: %v %v", ids, err)
	}
	if n, ids, err := s.BadMetadata(ctx, 10); err != nil || n != 0 || ids != nil {
		t.Fatalf("bad metadata: %d %v %v", n, ids, err)
	}

	// A transaction left open with a row lock, and a writer waiting for it.
	held, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx)
	if _, err := held.Exec(ctx, "SELECT 1 FROM memories WHERE id = 'a' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		waiting <- s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Touch("a", 1, 1) })
	}()
	waitForLockWait(t, s)
	ss, err := s.LongTransactions(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var holder, waiter *store.ServerSession
	for i := range ss {
		if ss[i].Blocking > 0 {
			holder = &ss[i]
		}
		if ss[i].Waiting {
			waiter = &ss[i]
		}
	}
	if holder == nil || holder.Locks == 0 || holder.State != "idle in transaction" || holder.Application != "trove test" {
		t.Fatalf("no idle transaction blocking a writer among %+v", ss)
	}
	if waiter == nil || !slices.Equal(waiter.BlockedBy, []int{holder.PID}) || waiter.State != "active" {
		t.Fatalf("no writer waiting for pid %d among %+v", holder.PID, ss)
	}
	if long, err := s.LongTransactions(ctx, time.Hour); err != nil || len(long) != 0 {
		t.Fatalf("transactions open an hour: %+v %v", long, err)
	}
	held.Rollback(ctx)
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}

	release, ok, err := s.TryJob("maintain")
	if err != nil || !ok {
		t.Fatalf("job lock: %v %v", ok, err)
	}
	hs, err := s.JobHolders(ctx, "capture", "maintain")
	if err != nil || len(hs) != 1 || hs[0].Name != "maintain" || hs[0].PID == 0 {
		t.Fatalf("job holders: %+v %v", hs, err)
	}
	release()
	if hs, err := s.JobHolders(ctx, "capture", "maintain"); err != nil || len(hs) != 0 {
		t.Fatalf("job holders after release: %+v %v", hs, err)
	}
}

// A process names itself to the server as "trove <command>", once: the
// CLI's command already starts with "trove".
func TestAppName(t *testing.T) {
	for in, want := range map[string]string{"": "trove", "test": "trove test", "trove store (pid 12)": "trove store (pid 12)",
		"trove": "trove", "troves": "trove troves"} {
		if got := appName(in); got != want {
			t.Errorf("appName(%q) = %q, want %q", in, got, want)
		}
	}
	ctx := context.Background()
	s, err := Open(ctx, pgtest.URL(t), Options{Command: "trove store (pid 12)"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var name string
	if err := s.pool.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&name); err != nil || name != "trove store (pid 12)" {
		t.Fatalf("application_name %q %v", name, err)
	}
}
