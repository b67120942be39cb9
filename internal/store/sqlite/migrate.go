package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
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

// migrationSteps are the Go parts of migrations, by schema number: each
// runs in the migration's transaction right after its script, for what
// SQL cannot do as the Go code that reads the rows does (parsing metadata
// as memory.MetaMillis does, say).
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	6:  backfillFacts,
	9:  backfillArchive,
	10: backfillSmartCategory,
	11: switchEmptyIndex,
}

// SchemaVersion is the schema this binary writes.
func SchemaVersion() int { return len(migrations()) }

// minWriter is the lowest trove version that may write a store at this
// binary's schema. A migration records it (meta min_writer_version, never
// lowered), and a binary whose version is lower opens such a store
// read-only, even when it knows the schema: raise it with a migration
// after which older binaries' writes would be wrong. A variable so tests
// can play a newer binary.
var minWriter = "0.1.0"

// OlderThan reports whether version v is a release below min. Versions
// are compared as major.minor.patch (a leading "v" and a pre-release or
// build suffix are ignored: 0.2.0-dev is built from the tree that becomes
// 0.2.0). A version that is not such a number (a dev build: "dev", "",
// "(devel)") is never older, and an unreadable min binds nobody: a build
// from source is usually ahead of the releases, and the schema version
// still stops it from writing a schema it does not know.
func OlderThan(v, min string) bool {
	a, ok := parseVersion(v)
	b, okMin := parseVersion(min)
	if !ok || !okMin {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// IsRelease reports whether v is a version OlderThan compares (not a dev build).
func IsRelease(v string) bool {
	_, ok := parseVersion(v)
	return ok
}

func parseVersion(s string) ([3]int, bool) {
	var v [3]int
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

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
		if step := migrationSteps[v+i+1]; step != nil {
			if err := step(ctx, tx); err != nil {
				return fmt.Errorf("apply migration %d: %w", v+i+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", want)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('schema_written_by', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, s.opts.Version); err != nil {
		return err
	}
	var recorded string
	if err := tx.QueryRowContext(ctx, "SELECT coalesce((SELECT value FROM meta WHERE key = 'min_writer_version'), '')").Scan(&recorded); err != nil {
		return err
	}
	if recorded == "" || OlderThan(recorded, minWriter) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('min_writer_version', ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, minWriter); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// checkWriter makes the store read-only for this process when the store
// records a minimum writer version above this binary's.
func (s *Store) checkWriter(ctx context.Context) error {
	var min string
	if err := s.rdb.QueryRowContext(ctx, "SELECT coalesce((SELECT value FROM meta WHERE key = 'min_writer_version'), '')").Scan(&min); err != nil {
		return fmt.Errorf("open store %s: read min_writer_version: %w", s.path, err)
	}
	if OlderThan(s.opts.Version, min) {
		s.newer = s.tooOldError(min)
	}
	return nil
}

func (s *Store) tooOldError(min string) error {
	return fmt.Errorf("%w: %s may only be written by trove %s or newer (a newer trove migrated it), and this trove is %s: it can read the store but not write to it: "+
		"upgrade this binary (go install github.com/trove-memory/trove/cmd/trove@latest), and restart any trove serve an agent host started with the old one",
		memory.ErrStoreNewer, s.path, min, s.opts.Version)
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
