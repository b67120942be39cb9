package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/store"
)

// The read-only queries `trove doctor` needs of a PostgreSQL store
// (doctor.ServerStore): the server and its extensions, the migration
// level, the indexes the migrations create, sessions holding transactions
// (and locks) open, who holds the job locks, and the vector and metadata
// checks the SQLite store offers under the same names, with the report
// types of package store. None of them writes. The text index's check and
// repair are textindex.go's.

// SchemaInfo reads the migration level. Version above Binary means a
// newer trove migrated the database: this one reads and does not write.
// A PostgreSQL store records no minimum writer version (MinWriter ""): a
// trove refuses to write a schema newer than its own.
func (s *Store) SchemaInfo(ctx context.Context) (store.SchemaInfo, error) {
	si := store.SchemaInfo{Binary: SchemaVersion()}
	err := s.pool.QueryRow(ctx, `SELECT version, trove_version FROM schema_migrations ORDER BY version DESC LIMIT 1`).
		Scan(&si.Version, &si.WrittenBy)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return si, fmt.Errorf("read the migration level: %w", s.connErr(err))
	}
	return si, nil
}

// Redacted is the database's URL as given, its password masked: what
// reports and messages name the store by.
func (s *Store) Redacted() string { return s.redacted }

// Ping makes one round trip to the server on a pooled connection.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.connErr(s.pool.Ping(ctx))
}

// ServerInfo asks the server what it is and what it has. VectorInUse is
// true when pgvector is installed in the database: every trove process's
// retriever then searches vectors on the server (ServerVectors), unless
// configured not to. Asking creates nothing.
func (s *Store) ServerInfo(ctx context.Context) (store.ServerInfo, error) {
	var si store.ServerInfo
	err := s.pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
			current_database(), current_user, current_setting('max_connections')::int,
			(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
			EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')`).
		Scan(&si.Version, &si.VersionNum, &si.Database, &si.User, &si.MaxConnections, &si.Connections, &si.VectorAvailable)
	if err != nil {
		return si, fmt.Errorf("ask the server at %s what it is: %w", s.where, s.connErr(err))
	}
	rows, err := s.pool.Query(ctx, "SELECT extname, extversion FROM pg_extension ORDER BY extname")
	if err != nil {
		return si, fmt.Errorf("list extensions: %w", s.connErr(err))
	}
	si.Extensions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Extension, error) {
		var e store.Extension
		err := r.Scan(&e.Name, &e.Version)
		return e, err
	})
	if err != nil {
		return si, fmt.Errorf("list extensions: %w", err)
	}
	for _, e := range si.Extensions {
		if e.Name == "vector" {
			si.VectorInUse = true
		}
	}
	return si, nil
}

// createIndex finds the migrations' CREATE INDEX statements: the index's
// name, its table, and (the whole match) the statement.
var createIndex = regexp.MustCompile(`(?i)\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)\s+ON\s+(?:ONLY\s+)?([a-z_][a-z0-9_]*)[^;]*`)

// vectorIndex is the index of the pgvector copy (pgvector.go makes it).
var vectorIndex = store.IndexStatus{Name: "memory_vectors_hnsw", Table: "memory_vectors",
	Create: "CREATE INDEX memory_vectors_hnsw ON memory_vectors USING hnsw (embedding vector_cosine_ops)"}

// expectedIndexes are the indexes the embedded migrations create by name,
// by name, each with the statement that creates it.
func expectedIndexes() []store.IndexStatus {
	var out []store.IndexStatus
	for _, m := range migrations() {
		for _, g := range createIndex.FindAllStringSubmatch(m.sql, -1) {
			if !slices.ContainsFunc(out, func(ix store.IndexStatus) bool { return ix.Name == g[1] }) {
				out = append(out, store.IndexStatus{Name: g[1], Table: g[2], Create: strings.Join(strings.Fields(g[0]), " ")})
			}
		}
	}
	slices.SortFunc(out, func(a, b store.IndexStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Indexes lists the indexes the schema expects (the migrations', and the
// pgvector copy's when the store keeps one) and whether each is present
// and valid, then any other index of the store's schema that is invalid
// (a failed CREATE INDEX CONCURRENTLY leaves one, which every write still
// updates). The schema is the first of the search path.
func (s *Store) Indexes(ctx context.Context) ([]store.IndexStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname, t.relname, i.indisvalid FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		WHERE c.relnamespace = current_schema()::regnamespace ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", s.connErr(err))
	}
	type have struct {
		table string
		valid bool
	}
	found := map[string]have{}
	var names []string
	var vectors bool
	for rows.Next() {
		var name string
		var h have
		if err := rows.Scan(&name, &h.table, &h.valid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list indexes: %w", err)
		}
		found[name] = h
		names = append(names, name)
		vectors = vectors || h.table == vectorIndex.Table
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list indexes: %w", s.connErr(err))
	}
	want := expectedIndexes()
	if vectors {
		want = append(want, vectorIndex)
	}
	out := make([]store.IndexStatus, 0, len(want))
	for _, ix := range want {
		h, ok := found[ix.Name]
		ix.Present, ix.Valid = ok, ok && h.valid
		out = append(out, ix)
	}
	for _, n := range names {
		if h := found[n]; !h.valid && !slices.ContainsFunc(want, func(ix store.IndexStatus) bool { return ix.Name == n }) {
			out = append(out, store.IndexStatus{Name: n, Table: h.table, Present: true})
		}
	}
	return out, nil
}

// LongTransactions lists the client sessions of the database (other than
// the one asking) whose transaction has been open longer than olderThan
// and that hold a lock (besides their own transaction's id) or wait for
// one, oldest first, with who blocks them and how many they block. A
// transaction left open (a client paused, or "idle in transaction") holds
// its row locks, so writers of those rows wait for it, and keeps vacuum
// from cleaning up; doctor names it. Session-level advisory locks held
// outside a transaction (a job's claim) are not transactions and are not
// listed.
func (s *Store) LongTransactions(ctx context.Context, olderThan time.Duration) ([]store.ServerSession, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''),
			coalesce(host(a.client_addr), ''), coalesce(a.state, ''), a.xact_start,
			(extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::bigint, left(coalesce(a.query, ''), 200),
			(SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.granted AND l.locktype <> 'virtualxid'),
			pg_blocking_pids(a.pid),
			(SELECT count(*) FROM pg_stat_activity b WHERE a.pid = ANY(pg_blocking_pids(b.pid)))
		FROM pg_stat_activity a
		WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
			AND a.xact_start IS NOT NULL AND a.xact_start <= clock_timestamp() - make_interval(secs => $1)
			AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND (l.locktype <> 'virtualxid' OR NOT l.granted))
		ORDER BY a.xact_start, a.pid`, max(olderThan, 0).Seconds())
	if err != nil {
		return nil, fmt.Errorf("list open transactions: %w", s.connErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ServerSession, error) {
		var x store.ServerSession
		var ageMS int64
		var blockedBy []int32
		err := r.Scan(&x.PID, &x.User, &x.Application, &x.Client, &x.State, &x.XactStart, &ageMS, &x.Query, &x.Locks, &blockedBy, &x.Blocking)
		x.Age = time.Duration(ageMS) * time.Millisecond
		for _, p := range blockedBy {
			x.BlockedBy = append(x.BlockedBy, int(p))
		}
		x.Waiting = len(x.BlockedBy) > 0
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("list open transactions: %w", s.connErr(err))
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
type VectorCensus = store.VectorCensus

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
