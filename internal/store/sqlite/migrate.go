package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the embedded migration scripts in order; schema version N
// means the first N have been applied. A variable so tests can add one.
var migrations = loadMigrations

func loadMigrations() []string {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			panic(err)
		}
		out[i] = string(b)
	}
	return out
}

// SchemaVersion is the schema this binary writes.
func SchemaVersion() int { return len(migrations()) }

// migrate brings the store to SchemaVersion under the write lock, exactly
// once even when several processes open a fresh store at the same time.
func (s *Store) migrate(ctx context.Context) error {
	v, err := s.userVersion(ctx)
	if err != nil {
		return err
	}
	want := SchemaVersion()
	if v > want {
		s.newer = s.newerError(ctx, v)
		return nil
	}
	if v == want {
		return nil
	}
	g, err := s.lock.Acquire(ctx, s.opts.LockTimeout)
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	defer g.Release()
	// WAL is a property of the file; set it before the first transaction.
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fmt.Errorf("enable WAL on %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store %s: journal mode is %s, WAL is required", s.path, mode)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > want {
		s.newer = s.newerError(ctx, v)
		return nil
	}
	for i, script := range migrations()[v:] {
		if _, err := tx.ExecContext(ctx, script); err != nil {
			return fmt.Errorf("apply migration %d: %w", v+i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", want)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('schema_written_by', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, s.opts.Version); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) userVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("open store %s: %w", s.path, err)
	}
	return v, nil
}

func (s *Store) newerError(ctx context.Context, v int) error {
	by, need := "a newer trove", "a newer trove"
	var w string
	err := s.rdb.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'schema_written_by'").Scan(&w)
	if err == nil && w != "" {
		by = "trove " + w
		if w != s.opts.Version { // else the record cannot tell us which version is needed
			need = "trove " + w + " or newer"
		}
	}
	return fmt.Errorf("%w: %s has schema version %d (written by %s); this trove %s writes schema %d, so it can read the store but not write to it: install %s to write",
		memory.ErrStoreNewer, s.path, v, by, s.opts.Version, SchemaVersion(), need)
}
