package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

func TestNewerBinaryMigratesOnceUnderLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(ctx, path, Options{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{{ID: "old", Text: "from schema 1"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A "newer binary": one more migration. Several open at once; the
	// migration must run exactly once (a second ALTER would fail).
	migrations = func() []string {
		return append(loadMigrations(), "ALTER TABLE memories ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;")
	}
	defer func() { migrations = loadMigrations }()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, path, Options{Version: "v2"})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open of an older store: %v", err)
		}
	}
	db, _ := sql.Open("sqlite", path)
	defer db.Close()
	var v, pinned int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 2 {
		t.Fatalf("user_version %d %v", v, err)
	}
	if err := db.QueryRow("SELECT pinned FROM memories WHERE id = 'old'").Scan(&pinned); err != nil {
		t.Fatalf("migrated column: %v", err)
	}
}

func TestOlderBinaryRefusesToWriteNewerStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "n.db")
	s, err := Open(ctx, path, Options{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{{ID: "keep", Text: "stays readable"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, _ := sql.Open("sqlite", path)
	if _, err := db.Exec("PRAGMA user_version = 7; UPDATE meta SET value = 'v9.0.0' WHERE key = 'schema_written_by'"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(ctx, path, Options{Version: "v1"})
	if err != nil {
		t.Fatalf("an older binary should still open (read-only): %v", err)
	}
	defer s.Close()
	if m, err := s.Get(ctx, memory.Owner(), "keep"); err != nil || m.Text != "stays readable" {
		t.Fatalf("read newer store: %v", err)
	}
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return nil })
	if !errors.Is(err, memory.ErrStoreNewer) || !strings.Contains(err.Error(), "schema version 7") || !strings.Contains(err.Error(), "v9.0.0") {
		t.Fatalf("write to newer store: %v", err)
	}
}

func TestRefusesFileThatIsNotSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := writeFile(path, "these are my notes, not a database\n"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path, Options{})
	if !errors.Is(err, memory.ErrInvalid) || !strings.Contains(err.Error(), "not an SQLite database") {
		t.Fatalf("got %v", err)
	}
	if b, _ := readFile(path); b != "these are my notes, not a database\n" {
		t.Fatal("the file was changed")
	}
}
