package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/postgres/pgtest"
)

var bg = context.Background()

func metaSeq(t *testing.T, s *Store) int64 {
	t.Helper()
	var v int64
	if err := s.pool.QueryRow(bg, "SELECT value::bigint FROM meta WHERE key = 'seq'").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func rowSeq(t *testing.T, s *Store, table, id string) int64 {
	t.Helper()
	var v int64
	if err := s.pool.QueryRow(bg, "SELECT seq FROM "+table+" WHERE id = $1", id).Scan(&v); err != nil {
		t.Fatalf("seq of %s in %s: %v", id, table, err)
	}
	return v
}

func write(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Write(bg, memory.Owner(), fn); err != nil {
		t.Fatal(err)
	}
}

// Every write takes the next seq; its rows and tombstones carry it;
// bookkeeping (Touch) moves the store's seq but not the row's.
func TestSeqStamps(t *testing.T) {
	s := openTemp(t)
	base := metaSeq(t, s)
	write(t, s, func(tx store.Tx) error {
		return tx.Insert(&memory.Memory{ID: "a", Text: "alpha"})
	})
	write(t, s, func(tx store.Tx) error {
		if err := tx.Insert(&memory.Memory{ID: "b", Text: "beta"}); err != nil {
			return err
		}
		m, err := tx.Get("a")
		if err != nil {
			return err
		}
		m.Text = "alpha 2"
		return tx.Update(&m)
	})
	write(t, s, func(tx store.Tx) error { return tx.Delete("b", 0) })
	write(t, s, func(tx store.Tx) error { return tx.Touch("a", 1, 5) })
	if got := metaSeq(t, s); got != base+4 {
		t.Fatalf("seq %d after 4 writes from %d", got, base)
	}
	if got := rowSeq(t, s, "memories", "a"); got != base+2 {
		t.Errorf("row a seq %d, want %d (its last change; Touch is not one)", got, base+2)
	}
	if got := rowSeq(t, s, "tombstones", "b"); got != base+3 {
		t.Errorf("tombstone b seq %d, want %d", got, base+3)
	}
}

// A reader that saw seq S has seen every change up to S: rows with seq
// <= S never appear later (seq order is commit order), under writers
// racing on two handles.
func TestSeqOrderIsCommitOrder(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	const writers, each = 6, 30
	type seen struct {
		seq   int64
		count int
	}
	var obs []seen
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			var o seen
			// Two statements, as a change-feed reader runs them: the seq
			// first, then the rows up to it.
			if err := a.pool.QueryRow(bg, "SELECT value::bigint FROM meta WHERE key = 'seq'").Scan(&o.seq); err != nil {
				readerDone <- err
				return
			}
			if err := a.pool.QueryRow(bg, "SELECT count(*) FROM memories WHERE seq > 0 AND seq <= $1", o.seq).Scan(&o.count); err != nil {
				readerDone <- err
				return
			}
			obs = append(obs, o)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := s.Write(bg, memory.Owner(), func(tx store.Tx) error {
					return tx.Insert(&memory.Memory{ID: fmt.Sprintf("w%d-%02d", w, i), Text: "row"})
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, o := range obs {
		var now int
		if err := a.pool.QueryRow(bg, "SELECT count(*) FROM memories WHERE seq <= $1", o.seq).Scan(&now); err != nil {
			t.Fatal(err)
		}
		if now != o.count {
			t.Fatalf("at seq %d a reader saw %d rows; %d rows have seq <= %d now (a change committed after a later seq)", o.seq, o.count, now, o.seq)
		}
	}
	var zero int
	if err := a.pool.QueryRow(bg, "SELECT count(*) FROM memories WHERE seq = 0").Scan(&zero); err != nil || zero != 0 {
		t.Fatalf("%d rows left unstamped (%v)", zero, err)
	}
	t.Logf("%d observations", len(obs))
}

func TestMetadataNUL(t *testing.T) {
	s := openTemp(t)
	err := s.Write(bg, memory.Owner(), func(tx store.Tx) error {
		return tx.Insert(&memory.Memory{Text: "x", Metadata: map[string]any{"k": "a\x00b"}})
	})
	if !errors.Is(err, memory.ErrInvalid) {
		t.Fatalf("metadata with NUL: %v, want ErrInvalid", err)
	}
	// A backslash followed by u0000 is text, not a NUL.
	write(t, s, func(tx store.Tx) error {
		return tx.Insert(&memory.Memory{ID: "lit", Text: "x", Metadata: map[string]any{"k": `a\u0000b`, "deep": map[string]any{"x": []any{1.0, "y"}}}})
	})
	m, err := s.Get(bg, memory.Owner(), "lit")
	if err != nil || m.Metadata["k"] != `a\u0000b` {
		t.Fatalf("got %v, %v", m.Metadata, err)
	}
}

// A write that waits for a row another write holds longer than the lock
// timeout ends with *PgWaitError, and saves nothing.
func TestLockTimeout(t *testing.T) {
	url := pgtest.URL(t)
	a := openURL(t, url)
	s, err := Open(bg, url, Options{LockTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, a, func(tx store.Tx) error { return tx.Insert(&memory.Memory{ID: "r", Text: "row"}) })
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.Write(bg, memory.Owner(), func(tx store.Tx) error {
			if err := tx.Touch("r", 1, 1); err != nil { // locks the row
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	err = s.Write(bg, memory.Owner(), func(tx store.Tx) error { return tx.Delete("r", 0) })
	close(release)
	var we *PgWaitError
	if !errors.As(err, &we) || we.Code != "55P03" {
		t.Fatalf("delete of a held row: %v, want a lock timeout", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(bg, memory.Owner(), "r"); err != nil {
		t.Fatalf("row gone after a failed delete: %v", err)
	}
}

func TestWriteAfterClose(t *testing.T) {
	s := openTemp(t)
	s.Close()
	if err := s.Write(bg, memory.Owner(), func(store.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// A database migrated by a newer trove opens for reading; writes are refused.
func TestNewerSchema(t *testing.T) {
	url := pgtest.URL(t)
	a := openURL(t, url)
	if _, err := a.pool.Exec(bg, "INSERT INTO schema_migrations(version, name, applied_at, trove_version) VALUES ($1, 'future', 0, 'v99')", SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	b := openURL(t, url)
	if _, err := b.Count(bg, memory.Owner(), store.Filter{}); err != nil {
		t.Fatal(err)
	}
	var ne *NewerSchemaError
	if err := b.Write(bg, memory.Owner(), func(store.Tx) error { return nil }); !errors.As(err, &ne) {
		t.Fatalf("write on a newer schema: %v", err)
	}
}

// Ids and keys PostgreSQL cannot hold as text (NUL, invalid UTF-8) are
// simply not found, as in the SQLite store, rather than server errors.
func TestUnstorableLookups(t *testing.T) {
	s := openTemp(t)
	write(t, s, func(tx store.Tx) error { return tx.Insert(&memory.Memory{ID: "ok", Text: "x"}) })
	for _, id := range []string{"a\x00b", "bad\xffid"} {
		if _, err := s.Get(bg, memory.Owner(), id); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Get(%q): %v", id, err)
		}
		if _, err := s.Resolve(bg, memory.Owner(), id+"12345678"); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Resolve(%q): %v", id, err)
		}
		if _, err := s.History(bg, memory.Owner(), id, 0); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("History(%q): %v", id, err)
		}
		err := s.Write(bg, memory.Owner(), func(tx store.Tx) error { return tx.Delete(id, 0) })
		if !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("Delete(%q): %v", id, err)
		}
		if rows, err := s.Facts(bg, memory.Owner(), store.FactQuery{FactKey: id}); err != nil || len(rows) != 0 {
			t.Errorf("Facts(%q): %v, %v", id, rows, err)
		}
		if n, err := s.Count(bg, memory.Owner(), store.Filter{Metadata: map[string]string{"k": id}}); err != nil || n != 0 {
			t.Errorf("Count(metadata %q): %d, %v", id, n, err)
		}
	}
}

func TestOpenMissingDatabase(t *testing.T) {
	url := pgtest.URL(t)
	u := url[:strings.LastIndex(url, "/")] + "/trove_no_such_db" + url[strings.Index(url, "?"):]
	_, err := Open(bg, u, Options{})
	if err == nil || !strings.Contains(err.Error(), "no such database") || !strings.Contains(err.Error(), "trove_no_such_db") {
		t.Fatalf("open of a missing database: %v", err)
	}
}

// Update keeps a tier the row was moved to (a tier move bumps no
// revision) when the caller's copy was read before the move.
func TestUpdateKeepsMovedTier(t *testing.T) {
	s := openTemp(t)
	write(t, s, func(tx store.Tx) error {
		return tx.Insert(&memory.Memory{ID: "t", Text: "x", Metadata: map[string]any{memory.KeyTier: "working"}})
	})
	old, err := s.Get(bg, memory.Owner(), "t")
	if err != nil {
		t.Fatal(err)
	}
	// A move as the tier code makes it: the tier in metadata, and the log.
	if _, err := s.pool.Exec(bg, `UPDATE memories SET metadata = metadata || '{"tier":"core"}' WHERE id = 't';
		INSERT INTO tier_transitions(memory_id, from_tier, to_tier, reason, at, revision) VALUES ('t', 'working', 'core', 'test', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	old.Text = "x edited"
	write(t, s, func(tx store.Tx) error { return tx.Update(&old) })
	got, err := s.Get(bg, memory.Owner(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata[memory.KeyTier] != "core" || got.Text != "x edited" {
		t.Fatalf("after update: tier %v text %q, want core and the edit", got.Metadata[memory.KeyTier], got.Text)
	}
	// A tier the row never had at this revision is the caller's choice.
	got.Metadata[memory.KeyTier] = "peripheral"
	write(t, s, func(tx store.Tx) error { return tx.Update(&got) })
	if m, _ := s.Get(bg, memory.Owner(), "t"); m.Metadata[memory.KeyTier] != "peripheral" {
		t.Fatalf("tier %v, want peripheral", m.Metadata[memory.KeyTier])
	}
}
