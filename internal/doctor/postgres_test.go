package doctor

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

var _ ServerStore = (*postgres.Store)(nil)

// openPG opens a PostgreSQL store on a fresh database (skipped without
// TROVE_PG_URL) holding rows; it returns the database's URL too.
func openPG(t *testing.T, rows ...row) (*postgres.Store, string) {
	t.Helper()
	url := pgtest.URL(t)
	s, err := postgres.Open(context.Background(), url, postgres.Options{Space: space, Command: "doctor test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
		for _, r := range rows {
			m := memory.Memory{ID: r.id, Text: r.text, Scope: memory.Scope(r.scope), Category: memory.CategoryFact, Importance: 0.5, Vector: r.vec}
			if err := tx.Insert(&m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, url
}

func pgExec(t *testing.T, s *postgres.Store, q string) {
	t.Helper()
	if _, err := s.Pool().Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// A sound PostgreSQL store: every check of a server store runs and none
// fails; none of a file store's does.
func TestPostgresHealthy(t *testing.T) {
	s, url := openPG(t, healthyRows()...)
	rep := Run(context.Background(), s, Options{})
	if !rep.OK {
		t.Fatalf("a sound PostgreSQL store failed: %+v", rep.Failed())
	}
	want := []string{CheckConnection, CheckServer, CheckExtensions, CheckSchema, CheckFTS, CheckMetadata, CheckVectors,
		CheckEmbedder, CheckScopes, CheckTombstones, CheckIndexes, CheckTransaction}
	if got := names(rep); !slices.Equal(got, want) {
		t.Fatalf("checks %v, want %v", got, want)
	}
	for _, c := range rep.Checks {
		// extensions warns on a server offering pgvector that this
		// database has not installed: not the store's fault.
		if c.Status != OK && c.Name != CheckExtensions {
			t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
	if rep.DB != s.Redacted() || !strings.HasPrefix(url, rep.DB) {
		t.Errorf("report db %q, want the store's URL %q (it has no password to mask)", rep.DB, url)
	}
	if c, _ := rep.Check(CheckSchema); c.Figures["store"] != postgres.SchemaVersion() || !strings.Contains(c.Detail, "migrated by trove test") {
		t.Errorf("schema: %s %v", c.Detail, c.Figures)
	}
	if c, _ := rep.Check(CheckFTS); c.Figures["rows"] != len(healthyRows()) || c.Figures["stale"] != 0 {
		t.Errorf("fts: %s %v", c.Detail, c.Figures)
	}
	if c, _ := rep.Check(CheckServer); !strings.Contains(c.Detail, "PostgreSQL ") || !strings.Contains(c.Detail, "connections in use") {
		t.Errorf("server: %s", c.Detail)
	}
	// Nothing to repair: the repair touches nothing and reports so.
	rep = Run(context.Background(), s, Options{Repair: true})
	for _, r := range rep.Repairs {
		if r.Status != "skipped" {
			t.Errorf("repair on a sound store: %+v", r)
		}
	}
}

// A dropped index is named with the statement that makes it again, and
// that statement (run as the fix says) makes the check pass.
func TestPostgresDroppedIndex(t *testing.T) {
	s, _ := openPG(t, healthyRows()...)
	pgExec(t, s, "DROP INDEX memories_seq")
	rep := Run(context.Background(), s, Options{})
	c, _ := rep.Check(CheckIndexes)
	if rep.OK || c.Status != Fail || !strings.Contains(c.Detail, "missing: memories_seq on memories") {
		t.Fatalf("indexes after a drop: %+v", c)
	}
	const create = "CREATE INDEX CONCURRENTLY memories_seq ON memories(seq)"
	if !strings.Contains(c.Fix, `-c "`+create+`"`) || strings.Contains(c.Fix, "pw") {
		t.Fatalf("indexes fix %q, want it to run %q", c.Fix, create)
	}
	pgExec(t, s, create)
	if c, _ := Run(context.Background(), s, Options{}).Check(CheckIndexes); c.Status != OK {
		t.Fatalf("indexes after the fix: %+v", c)
	}
}

// A transaction on another connection that holds a row lock, with a
// writer waiting for it, is reported once older than the threshold (1 ms
// here, so the test does not wait), naming its pid, its application and
// the writer it holds up; under a threshold it has not reached, or once
// it ended, the check is OK.
func TestPostgresLongTransaction(t *testing.T) {
	ctx := context.Background()
	s, url := openPG(t, healthyRows()...)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "stuck client"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	held, err := conn.Begin(ctx)
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

	// Run until the writer is seen waiting (it starts in its goroutine).
	var c Check
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, _ = Run(ctx, s, Options{LongTransaction: time.Millisecond}).Check(CheckTransaction)
		if strings.Contains(c.Detail, "1 session waiting for it") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.Status != Warn || !strings.Contains(c.Detail, "pid "+strconv.Itoa(pid)+" (stuck client, ") || !strings.Contains(c.Detail, "idle in transaction") ||
		!strings.Contains(c.Detail, "1 session waiting for it") || !strings.Contains(c.Fix, "pg_terminate_backend(PID) (pids "+strconv.Itoa(pid)) {
		t.Fatalf("transactions with a stuck lock holder: %+v", c)
	}
	sessions, _ := c.Figures["sessions"].([]store.ServerSession)
	var writer *store.ServerSession
	for i := range sessions {
		if slices.Equal(sessions[i].BlockedBy, []int{pid}) {
			writer = &sessions[i]
		}
	}
	if writer == nil || !writer.Waiting || !strings.HasPrefix(writer.Application, "trove doctor test") {
		t.Fatalf("the waiting writer is not among %+v", sessions)
	}
	if c, _ := Run(ctx, s, Options{LongTransaction: time.Hour}).Check(CheckTransaction); c.Status != OK {
		t.Fatalf("transactions under an hour old, threshold an hour: %+v", c)
	}

	if err := held.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	if c, _ := Run(ctx, s, Options{LongTransaction: time.Millisecond}).Check(CheckTransaction); c.Status != OK {
		t.Fatalf("transactions after the holder ended: %+v", c)
	}
}

// Text index damage (a row indexed otherwise than the tokeniser indexes
// it, a row not indexed, statistics off) is found, and --repair rebuilds
// it without changing a row: keyword search finds the row again.
func TestPostgresTextIndexRepair(t *testing.T) {
	ctx := context.Background()
	s, _ := openPG(t, healthyRows()...)
	find := func() []store.TextHit {
		hits, err := s.SearchText(ctx, memory.Owner(), store.Filter{}, "dark mode", 5)
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	if hits := find(); len(hits) == 0 || hits[0].ID != "a" {
		t.Fatalf("search before the damage: %+v", hits)
	}
	before, err := s.Get(ctx, memory.Owner(), "a")
	if err != nil {
		t.Fatal(err)
	}
	pgExec(t, s, "UPDATE memories SET tokens = 'unrelated:1A'::tsvector WHERE id = 'a'")
	pgExec(t, s, "UPDATE memories SET tokens = NULL WHERE id = 'b'")
	if hits := find(); len(hits) != 0 {
		t.Fatalf("search after the damage found %+v", hits)
	}

	rep := Run(ctx, s, Options{})
	c, _ := rep.Check(CheckFTS)
	if rep.OK || c.Status != Fail || !c.Repairable() || !strings.Contains(c.Detail, "1 of 3 rows are not indexed") ||
		!strings.Contains(c.Detail, "1 of 3 rows' index is not what this trove's tokeniser makes of the row") ||
		!strings.Contains(c.Detail, "statistics") || !strings.Contains(c.Fix, "--repair") {
		t.Fatalf("fts after the damage: %+v", c)
	}

	rep = Run(ctx, s, Options{Repair: true})
	c, _ = rep.Check(CheckFTS)
	if !rep.OK || c.Status != OK {
		t.Fatalf("after the repair: fts %+v, failed %+v", c, rep.Failed())
	}
	var fts *Repair
	for i := range rep.Repairs {
		if rep.Repairs[i].Name == RepairFTS {
			fts = &rep.Repairs[i]
		}
	}
	if fts == nil || fts.Status != "done" || !strings.Contains(fts.Detail, "in short transactions") {
		t.Fatalf("fts repair: %+v", fts)
	}
	if hits := find(); len(hits) == 0 || hits[0].ID != "a" {
		t.Fatalf("search after the repair: %+v", hits)
	}
	after, err := s.Get(ctx, memory.Owner(), "a")
	if err != nil || after.Revision != before.Revision || after.UpdatedAt != before.UpdatedAt || after.Text != before.Text {
		t.Fatalf("the repair changed the row: %+v → %+v (%v)", before, after, err)
	}
}

// On a server with pgvector (PGlite: one connection, so no session
// checks beyond the doctor's own), the extension is reported in use and,
// once a search has made the server's vector copy, its HNSW index is one
// the schema expects.
func TestPostgresPGVector(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.PGlite(t), postgres.Options{Space: space, Command: "doctor test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		for _, r := range healthyRows() {
			m := memory.Memory{ID: r.id, Text: r.text, Scope: memory.Scope(r.scope), Category: memory.CategoryFact, Importance: 0.5, Vector: r.vec}
			if err := tx.Insert(&m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why, err := s.ServerVectors(ctx); err != nil || !ok {
		t.Fatalf("pgvector on PGlite: %v %s %v", ok, why, err)
	}
	if _, err := s.VectorSearch(ctx, memory.Owner(), store.Filter{}, vec4(1), 2); err != nil {
		t.Fatal(err)
	}
	rep := Run(ctx, s, Options{})
	if c, _ := rep.Check(CheckExtensions); c.Status != OK || !strings.Contains(c.Detail, "vector search uses its index") {
		t.Errorf("extensions: %+v", c)
	}
	c, _ := rep.Check(CheckIndexes)
	if missing, _ := c.Figures["missing"].([]string); c.Status != OK || len(missing) != 0 {
		t.Fatalf("indexes: %+v", c)
	}
	ixs, err := s.Indexes(ctx)
	if err != nil || !slices.ContainsFunc(ixs, func(ix store.IndexStatus) bool { return ix.Name == "memory_vectors_hnsw" && ix.Present && ix.Valid }) {
		t.Fatalf("the HNSW index is not among %+v (%v)", ixs, err)
	}
	if !rep.OK {
		t.Fatalf("a sound store on PGlite: %+v", rep.Failed())
	}
}
