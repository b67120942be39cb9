package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/store"
)

// The read-only queries `trove doctor` needs of a PostgreSQL store: the
// server and its extensions, the migration level, the indexes the
// migrations create, sessions holding transactions (and locks) open, who
// holds the job locks, and the vector and metadata checks the SQLite
// store offers under the same names. None of them writes.

// SchemaInfo is the migration level of the database and the trove that
// applied its last migration.
type SchemaInfo struct {
	Version   int    `json:"version"`    // the highest migration applied
	Binary    int    `json:"binary"`     // this trove's (SchemaVersion)
	WrittenBy string `json:"written_by"` // the trove version that applied Version
	AppliedAt int64  `json:"applied_at"` // unix ms
}

// SchemaInfo reads the migration level. Version above Binary means a
// newer trove migrated the database: this one reads and does not write.
func (s *Store) SchemaInfo(ctx context.Context) (SchemaInfo, error) {
	si := SchemaInfo{Binary: SchemaVersion()}
	err := s.pool.QueryRow(ctx, `SELECT version, trove_version, applied_at FROM schema_migrations ORDER BY version DESC LIMIT 1`).
		Scan(&si.Version, &si.WrittenBy, &si.AppliedAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return si, fmt.Errorf("read the migration level: %w", s.connErr(err))
	}
	return si, nil
}

// ServerInfo describes the server a store is on.
type ServerInfo struct {
	Where    string `json:"where"` // host:port/database as user, no password
	Version  string `json:"version"`
	VersionN int    `json:"version_num"` // server_version_num, e.g. 150004
	Database string `json:"database"`
	User     string `json:"user"`
	// Extensions installed in the database, by name, with their version.
	Extensions map[string]string `json:"extensions"`
	// VectorAvailable: the server has pgvector (installed here or not).
	VectorAvailable bool `json:"vector_available"`
	// Connections open to this database, and the server's limit.
	Connections    int `json:"connections"`
	MaxConnections int `json:"max_connections"`
	// The pool this process keeps: connections open and its bound.
	PoolConns int32 `json:"pool_conns"`
	PoolMax   int32 `json:"pool_max"`
}

// ServerInfo asks the server what it is and what it has.
func (s *Store) ServerInfo(ctx context.Context) (ServerInfo, error) {
	si := ServerInfo{Where: s.where, Extensions: map[string]string{}}
	err := s.pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
			current_database(), current_user, current_setting('max_connections')::int,
			(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
			EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')`).
		Scan(&si.Version, &si.VersionN, &si.Database, &si.User, &si.MaxConnections, &si.Connections, &si.VectorAvailable)
	if err != nil {
		return si, fmt.Errorf("ask the server at %s what it is: %w", s.where, s.connErr(err))
	}
	rows, err := s.pool.Query(ctx, "SELECT extname, extversion FROM pg_extension")
	if err != nil {
		return si, fmt.Errorf("list extensions: %w", s.connErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return si, fmt.Errorf("list extensions: %w", err)
		}
		si.Extensions[n] = v
	}
	if err := rows.Err(); err != nil {
		return si, fmt.Errorf("list extensions: %w", err)
	}
	st := s.pool.Stat()
	si.PoolConns, si.PoolMax = st.TotalConns(), st.MaxConns()
	return si, nil
}

// IndexReport compares the indexes the migrations create with the
// database's.
type IndexReport struct {
	Expected int      `json:"expected"`
	Missing  []string `json:"missing,omitempty"` // created by a migration, absent now
	// Invalid indexes exist but the planner does not use them (a CREATE
	// INDEX CONCURRENTLY that failed, say): REINDEX them.
	Invalid []string `json:"invalid,omitempty"`
}

// OK reports whether every index is there and valid.
func (r IndexReport) OK() bool { return len(r.Missing) == 0 && len(r.Invalid) == 0 }

var createIndex = regexp.MustCompile(`(?i)\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)`)

// expectedIndexes are the indexes the embedded migrations create by name.
func expectedIndexes() []string {
	var out []string
	for _, m := range migrations() {
		for _, g := range createIndex.FindAllStringSubmatch(m.sql, -1) {
			if !slices.Contains(out, g[1]) {
				out = append(out, g[1])
			}
		}
	}
	slices.Sort(out)
	return out
}

// CheckIndexes lists the migrations' indexes that are missing or invalid
// in the store's schema (the first of the search path).
func (s *Store) CheckIndexes(ctx context.Context) (IndexReport, error) {
	want := expectedIndexes()
	r := IndexReport{Expected: len(want)}
	rows, err := s.pool.Query(ctx, `SELECT c.relname, i.indisvalid FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relnamespace = current_schema()::regnamespace`)
	if err != nil {
		return r, fmt.Errorf("list indexes: %w", s.connErr(err))
	}
	have := map[string]bool{}
	defer rows.Close()
	for rows.Next() {
		var name string
		var valid bool
		if err := rows.Scan(&name, &valid); err != nil {
			return r, fmt.Errorf("list indexes: %w", err)
		}
		have[name] = true
		if !valid {
			r.Invalid = append(r.Invalid, name)
		}
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("list indexes: %w", err)
	}
	for _, n := range want {
		if !have[n] {
			r.Missing = append(r.Missing, n)
		}
	}
	slices.Sort(r.Invalid)
	return r, nil
}

// Session is a server session of the store's database with a
// transaction open.
type Session struct {
	PID         int32  `json:"pid"`
	Application string `json:"application"` // application_name: trove sets "trove <command>"
	Client      string `json:"client,omitempty"`
	State       string `json:"state"`                // active, idle in transaction, ...
	WaitEvent   string `json:"wait_event,omitempty"` // what it waits for, if it does
	XactMS      int64  `json:"xact_ms"`              // how long its transaction has been open
	Query       string `json:"query"`                // its last statement, cut to 200 characters
	Locks       int    `json:"locks"`                // locks it holds (granted)
	Advisory    int    `json:"advisory_locks"`       // of which advisory
	Blocking    int    `json:"blocking"`             // sessions waiting for it
}

// LongTransactions lists the sessions of the database (other than the one
// asking) whose transaction has been open longer than olderThan, longest
// first, with the locks they hold and how many sessions wait for them. A
// transaction left open (a client paused, or "idle in transaction") holds
// its row locks and keeps vacuum from cleaning up; doctor names it.
func (s *Store) LongTransactions(ctx context.Context, olderThan time.Duration) ([]Session, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, ''),
			coalesce(a.state, ''), coalesce(a.wait_event_type || ':' || a.wait_event, ''),
			(extract(epoch FROM now() - a.xact_start) * 1000)::bigint, left(coalesce(a.query, ''), 200),
			(SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.granted),
			(SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND l.locktype = 'advisory'),
			(SELECT count(*) FROM pg_stat_activity b WHERE a.pid = ANY(pg_blocking_pids(b.pid)))
		FROM pg_stat_activity a
		WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
			AND now() - a.xact_start >= $1::interval
		ORDER BY a.xact_start`, fmt.Sprintf("%d milliseconds", olderThan.Milliseconds()))
	if err != nil {
		return nil, fmt.Errorf("list open transactions: %w", s.connErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) {
		var x Session
		err := r.Scan(&x.PID, &x.Application, &x.Client, &x.State, &x.WaitEvent, &x.XactMS, &x.Query, &x.Locks, &x.Advisory, &x.Blocking)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("list open transactions: %w", err)
	}
	return out, nil
}

// JobHolder is a session holding a job lock (TryJob).
type JobHolder struct {
	Name        string `json:"name"`
	PID         int32  `json:"pid"`
	Application string `json:"application"`
	Client      string `json:"client,omitempty"`
	SinceMS     int64  `json:"since_ms"` // how long the session has been connected
}

// JobHolders says which of the job locks names are held, and by whom.
// (The locks are keyed by a hash of the name, so the names to look for
// are given.)
func (s *Store) JobHolders(ctx context.Context, names ...string) ([]JobHolder, error) {
	keys := make([]int64, len(names))
	for i, n := range names {
		keys[i] = int64(uint32(lockKey(n)))
	}
	rows, err := s.pool.Query(ctx, `SELECT l.objid::bigint, l.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, ''),
			coalesce((extract(epoch FROM now() - a.backend_start) * 1000)::bigint, 0)
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid::bigint = $1 AND l.objid::bigint = ANY($2::bigint[])
		ORDER BY l.pid`, int64(uint32(lockClassJob)), keys)
	if err != nil {
		return nil, fmt.Errorf("list job locks: %w", s.connErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JobHolder, error) {
		var h JobHolder
		var key int64
		err := r.Scan(&key, &h.PID, &h.Application, &h.Client, &h.SinceMS)
		for i, k := range keys {
			if k == key {
				h.Name = names[i]
			}
		}
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("list job locks: %w", err)
	}
	return out, nil
}

// ConfiguredSpace is the embedding space this process was opened to write
// with (Options.Space): what the next vector written must match.
func (s *Store) ConfiguredSpace() store.Space { return s.opts.Space }

// VectorCensus counts rows by the length of their stored vector.
type VectorCensus struct {
	Rows      int
	Missing   int         // rows with no vector (found by keyword search only)
	ByDims    map[int]int // rows per vector length, in float32s
	Malformed int         // vectors whose byte length is not a whole number of float32s
}

// VectorCensus counts every row by the length of its vector (of the active
// slot), in one statement (octet_length reads a stored value's size
// without detoasting it).
func (s *Store) VectorCensus(ctx context.Context) (VectorCensus, error) {
	c := VectorCensus{ByDims: map[int]int{}}
	rows, err := s.pool.Query(ctx, "SELECT octet_length("+vecActive+"), count(*) FROM memories GROUP BY 1")
	if err != nil {
		return c, fmt.Errorf("count vectors: %w", s.connErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var n *int64
		var count int
		if err := rows.Scan(&n, &count); err != nil {
			return c, fmt.Errorf("count vectors: %w", err)
		}
		c.Rows += count
		switch {
		case n == nil:
			c.Missing += count
		case *n%4 != 0:
			c.Malformed += count
		default:
			c.ByDims[int(*n/4)] += count
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("count vectors: %w", err)
	}
	return c, nil
}

// VectorOutliers returns up to limit ids (in id order) of rows that have a
// vector which is not dims float32s long, malformed ones included.
func (s *Store) VectorOutliers(ctx context.Context, dims, limit int) ([]string, error) {
	return s.ids(ctx, "SELECT id FROM memories WHERE "+vecActive+" IS NOT NULL AND octet_length("+vecActive+") <> $1 ORDER BY id LIMIT $2", 4*dims, limit)
}

// MissingVectors returns up to limit ids (in id order) of rows without a vector.
func (s *Store) MissingVectors(ctx context.Context, limit int) ([]string, error) {
	return s.ids(ctx, "SELECT id FROM memories WHERE "+vecActive+" IS NULL ORDER BY id LIMIT $1", limit)
}

// BadMetadata counts the rows whose metadata is not a JSON object (jsonb
// is always valid JSON, but a write outside trove could store an array or
// a scalar, and reads of such a row fail) and returns up to limit of
// their ids.
func (s *Store) BadMetadata(ctx context.Context, limit int) (int, []string, error) {
	const bad = "jsonb_typeof(metadata) NOT IN ('object', 'null')"
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM memories WHERE "+bad).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("check metadata: %w", s.connErr(err))
	}
	if n == 0 {
		return 0, nil, nil
	}
	ids, err := s.ids(ctx, "SELECT id FROM memories WHERE "+bad+" ORDER BY id LIMIT $1", limit)
	return n, ids, err
}

func (s *Store) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, s.connErr(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
