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
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() {
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
	if _, err := db.Exec("PRAGMA user_version = 99; UPDATE meta SET value = 'v9.0.0' WHERE key = 'schema_written_by'"); err != nil {
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
	if !errors.Is(err, memory.ErrStoreNewer) || !strings.Contains(err.Error(), "schema version 99") || !strings.Contains(err.Error(), "v9.0.0") {
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

// Two binaries on one store: once a newer trove has migrated it and
// raised the minimum writer version, an older one (even one that knows the
// schema) reads but does not write, and says which versions and what to do.
func TestMinimumWriterVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	old, err := Open(ctx, path, Options{Version: "0.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := store.PutMany(ctx, old, memory.Owner(), []memory.Memory{{ID: "keep", Text: "written by 0.2.0"}}); err != nil {
		t.Fatal(err)
	}

	// trove 0.3.0 adds a migration older binaries must not write through.
	migrations = func() []string { return append(loadMigrations(), "CREATE TABLE pins(id TEXT PRIMARY KEY);") }
	minWriter = "0.3.0"
	defer func() { migrations, minWriter = loadMigrations, "0.1.0" }()
	s3, err := Open(ctx, path, Options{Version: "0.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Write(ctx, memory.Owner(), func(store.Tx) error { return nil }); err != nil {
		t.Fatalf("the migrating binary cannot write: %v", err)
	}
	si, err := s3.SchemaInfo(ctx)
	if err != nil || si.MinWriter != "0.3.0" || si.Version != SchemaVersion() {
		t.Fatalf("schema info %+v %v", si, err)
	}
	s3.Close()

	wantRefused := func(t *testing.T, s *Store) {
		t.Helper()
		err := s.Write(ctx, memory.Owner(), func(store.Tx) error { return nil })
		if !errors.Is(err, memory.ErrStoreNewer) {
			t.Fatalf("older binary wrote: %v", err)
		}
		for _, want := range []string{"0.2.0", "0.3.0", path, "upgrade this binary"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
		if m, err := s.Get(ctx, memory.Owner(), "keep"); err != nil || m.Text != "written by 0.2.0" {
			t.Fatalf("older binary cannot read: %v", err)
		}
	}
	// Back to a binary that knows this schema but is older than its floor.
	minWriter = "0.1.0"
	t.Run("already open when the newer one migrated", func(t *testing.T) { wantRefused(t, old) })
	t.Run("opened after", func(t *testing.T) {
		s, err := Open(ctx, path, Options{Version: "v0.2.0"})
		if err != nil {
			t.Fatalf("an older binary must still open to read: %v", err)
		}
		defer s.Close()
		wantRefused(t, s)
	})
	t.Run("the floor is never lowered", func(t *testing.T) {
		s, err := Open(ctx, path, Options{Version: "0.3.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if si, _ := s.SchemaInfo(ctx); si.MinWriter != "0.3.0" {
			t.Fatalf("min writer %q", si.MinWriter)
		}
		if err := s.Write(ctx, memory.Owner(), func(store.Tx) error { return nil }); err != nil {
			t.Fatalf("a newer binary cannot write: %v", err)
		}
	})
	for _, dev := range []string{"", "dev", "(devel)", "0.3.0-dev"} {
		t.Run("dev build "+dev, func(t *testing.T) {
			s, err := Open(ctx, path, Options{Version: dev})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Write(ctx, memory.Owner(), func(store.Tx) error { return nil }); err != nil {
				t.Fatalf("dev build %q refused: %v", dev, err)
			}
		})
	}
}

func TestOlderThan(t *testing.T) {
	for _, c := range []struct {
		v, min string
		want   bool
	}{
		{"0.1.0", "0.2.0", true},
		{"v0.1.9", "0.1.10", true},
		{"1.0.0", "0.9.9", false},
		{"0.2.0", "0.2.0", false},
		{"0.2.0-dev", "0.2.0", false},
		{"0.1.0-dev", "0.2.0", true},
		{"1", "1.0.1", true},
		{"dev", "9.9.9", false},
		{"", "9.9.9", false},
		{"0.1.0", "", false},
		{"0.1.0", "garbage", false},
	} {
		if got := OlderThan(c.v, c.min); got != c.want {
			t.Errorf("OlderThan(%q, %q) = %v, want %v", c.v, c.min, got, c.want)
		}
	}
}
