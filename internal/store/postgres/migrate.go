package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Advisory lock keys. The fixed ones use the two-int form with class
// lockClass ("trov"); per-fact locks use the one-bigint form (a hash of
// scope and fact key, facts.go), a separate key space.
const (
	lockClass   int32 = 0x74726f76
	lockMigrate int32 = 1
)

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() []migration {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	var out []migration
	for _, e := range entries {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			panic("migration file name without a number: " + e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, migration{n, e.Name(), string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			panic(fmt.Sprintf("migrations are not numbered 1..n: %s", m.name))
		}
	}
	return out
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int { return len(migrations()) }

// NewerSchemaError says the database was migrated by a newer trove.
type NewerSchemaError struct {
	Where        string
	Have, Binary int
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("PostgreSQL store %s has schema version %d, newer than this trove's %d: upgrade trove on this host (reads work, writes are refused)", e.Where, e.Have, e.Binary)
}

// migrate applies pending migrations, each in its own transaction, under
// a session advisory lock held on one connection, so concurrent openers
// apply each migration once. A database whose schema is newer than this
// binary's opens for reading only (s.newer).
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", lockClass, lockMigrate); err != nil {
		return fmt.Errorf("migrate: wait for another host's migration: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, $2)", lockClass, lockMigrate)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version       integer PRIMARY KEY,
		name          text    NOT NULL,
		applied_at    bigint  NOT NULL,
		trove_version text    NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w (the user needs CREATE on the database's schema)", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	ms := migrations()
	if have > len(ms) {
		s.newer = &NewerSchemaError{Where: s.where, Have: have, Binary: len(ms)}
		return nil
	}
	for _, m := range ms[have:] {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", m.version, err)
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("migrate to %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations(version, name, applied_at, trove_version) VALUES ($1, $2, $3, $4)",
			m.version, m.name, s.opts.Clock().UnixMilli(), s.opts.Version); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("migrate to %d: %w", m.version, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("migrate to %d: %w", m.version, err)
		}
	}
	return nil
}

// SchemaLevel reads the database's migration level (for doctor).
func (s *Store) SchemaLevel(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}
