// Package postgres is trove's shared store: PostgreSQL behind the same
// contract as the embedded SQLite store (store.Store), for many hosts at
// once. Writes are READ COMMITTED transactions with row-level revision
// checks (no global write lock between hosts); the change sequence is
// stamped at the end of each write so that seq order is commit order
// (see Write). Migrations are embedded and applied under an advisory lock.
//
//	s, err := postgres.Open(ctx, "postgres://trove@db.example/trove", postgres.Options{})
//	defer s.Close()
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trove-memory/trove/internal/dburl"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Options configure a store.
type Options struct {
	// Space is the embedding space this process writes with. It is recorded
	// on the first write with a vector; later writes must match it.
	Space store.Space
	// Command names this process to the server (application_name: the
	// command, with "trove " before it unless it starts so), so doctor and
	// pg_stat_activity show who holds what.
	Command string
	// Version is this trove's version, recorded by migrations.
	Version string
	// LockTimeout bounds every wait for a row or advisory lock inside a
	// write (the server's lock_timeout; default 30 s).
	LockTimeout time.Duration
	// ConnectTimeout bounds opening a connection (default 10 s).
	ConnectTimeout time.Duration
	// MaxConns bounds the pool (default pgxpool's: max(4, CPUs)).
	MaxConns int32
	// Clock returns the time used for created_at/updated_at (default time.Now).
	Clock func() time.Time
}

// Store is the PostgreSQL store. It implements store.Store.
type Store struct {
	pool      *pgxpool.Pool
	opts      Options
	where     string // the server and database, without a password, for messages
	redacted  string // the URL as given, its password masked (Redacted)
	newer     error  // non-nil when the database's schema is newer than this binary's
	closeOnce sync.Once
	closed    atomic.Bool
}

var _ store.Store = (*Store)(nil)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store is closed")

// Open connects to the database named by rawURL (postgres:// or
// postgresql://), checks that the server answers, and applies pending
// migrations under an advisory lock (two hosts opening a new database at
// once do not race).
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 30 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	where, err := checkURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: PostgreSQL URL %s: %v: write it as postgres://user:password@host:port/database, with ?sslmode=MODE if the server needs one", memory.ErrInvalid, where, redact(err, rawURL))
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > opts.ConnectTimeout {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	rp := cfg.ConnConfig.RuntimeParams
	if _, ok := rp["application_name"]; !ok {
		name := appName(opts.Command)
		rp["application_name"] = truncate(name, 63)
	}
	rp["lock_timeout"] = strconv.FormatInt(opts.LockTimeout.Milliseconds(), 10)
	// Times are unix ms and text is UTF-8 whatever the server's defaults.
	rp["client_encoding"] = "UTF8"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL store %s: %v", where, redact(err, rawURL))
	}
	s := &Store{pool: pool, opts: opts, where: where, redacted: dburl.Redact(rawURL)}
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, s.unreachable(err, rawURL)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open PostgreSQL store %s: %w", where, err)
	}
	return s, nil
}

// checkURL validates a store URL and returns it without its password
// (host:port/database as user), for messages.
func checkURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("%w: PostgreSQL URL is not a URL (%v): write it as postgres://user:password@host:port/database", memory.ErrInvalid, redact(err, rawURL))
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("%w: PostgreSQL URL scheme %q: use postgres:// or postgresql://", memory.ErrInvalid, u.Scheme)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		return "", fmt.Errorf("%w: PostgreSQL URL %s names no database: add one, as in postgres://user@host:5432/trove", memory.ErrInvalid, safeURL(u))
	}
	if strings.Contains(db, "/") {
		return "", fmt.Errorf("%w: PostgreSQL URL %s: database %q contains a slash: name one database", memory.ErrInvalid, safeURL(u), db)
	}
	return safeURL(u), nil
}

// safeURL is u without its password and query (which may hold one).
func safeURL(u *url.URL) string {
	host := u.Host
	if host == "" {
		host = "localhost"
	}
	if u.Port() == "" && !strings.HasPrefix(host, "[") && !strings.Contains(host, ",") {
		host += ":5432"
	}
	who := ""
	if u.User != nil && u.User.Username() != "" {
		who = " as user " + u.User.Username()
	}
	return "postgres://" + host + u.Path + who
}

// redact removes the URL's password from an error message.
func redact(err error, rawURL string) string {
	msg := err.Error()
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	if u, perr := url.Parse(rawURL); perr == nil {
		if pw := u.Query().Get("password"); pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// appName is the application_name of a process running command: the
// command as given when it names trove already ("trove store (pid 12)",
// as cmd/trove passes it), else "trove " before it.
func appName(command string) string {
	switch {
	case command == "":
		return "trove"
	case command == "trove" || strings.HasPrefix(command, "trove "):
		return command
	}
	return "trove " + command
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// unreachable explains a failed first connection.
func (s *Store) unreachable(err error, rawURL string) error {
	msg := redact(err, rawURL)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fmt.Errorf("PostgreSQL at %s refused the login (%s): check the user and password in the URL (TROVE_DB or --db), and pg_hba.conf", s.where, msg)
		case "3D000":
			return fmt.Errorf("PostgreSQL at %s has no such database (%s): create it (createdb), or name an existing one in the URL", s.where, msg)
		}
	}
	return fmt.Errorf("cannot reach PostgreSQL at %s (%s): check that the server is running and accepts connections at that host and port (listen_addresses, pg_hba.conf, firewall), and the URL in TROVE_DB or --db", s.where, msg)
}

// Close gives up the store's job claims (so a job this process ran is
// free to resume on another host at once) and closes the pool; writes in
// flight finish first.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.closeClaims()
		s.pool.Close()
	})
	return nil
}

// Where names the server and database without a password.
func (s *Store) Where() string { return s.where }

// Pool is the connection pool (for tools such as doctor and migrate-store).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Space returns the recorded embedding space.
func (s *Store) Space(ctx context.Context) (store.Space, error) {
	return readSpace(ctx, s.pool)
}

// querier is what reads need of a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func readSpace(ctx context.Context, q querier) (store.Space, error) {
	var sp store.Space
	var model, dims *string
	err := q.QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = 'embed_model'), (SELECT value FROM meta WHERE key = 'embed_dims')`).Scan(&model, &dims)
	if err != nil {
		return sp, fmt.Errorf("read embedding space: %w", err)
	}
	if model != nil {
		sp.Model = *model
	}
	if dims != nil {
		n, err := strconv.Atoi(*dims)
		if err != nil {
			return sp, fmt.Errorf("read embedding space: meta embed_dims %q is not a number (run trove doctor)", *dims)
		}
		sp.Dimensions = n
	}
	return sp, nil
}

// Write runs fn in one READ COMMITTED transaction and commits it. fn is
// never re-run. Row-level locks (a revision-checked update locks its
// row) are the only locks fn's work takes, besides a fact's advisory
// lock (facts.go); the change sequence is taken at the very end (stamp),
// so the lock that orders commits is held for one statement and the
// commit, never while fn runs.
func (s *Store) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	if s.newer != nil {
		return s.newer
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("begin write on %s: %w", s.where, err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	t := &tx{s: s, tx: ptx, ctx: ctx, acc: acc, now: s.opts.Clock().UnixMilli()}
	if err := fn(t); err != nil {
		return explainPg(err)
	}
	for i := 0; i < len(t.beforeCommit); i++ { // a hook may add hooks
		if err := t.beforeCommit[i](); err != nil {
			return explainPg(err)
		}
	}
	// Past this point the outcome no longer depends on the caller's
	// patience: a cancel now would leave it unsure whether the write
	// committed.
	cctx := context.WithoutCancel(ctx)
	t.ctx = cctx
	if err := t.stamp(); err != nil {
		return explainPg(err)
	}
	if err := ptx.Commit(cctx); err != nil {
		return explainPg(fmt.Errorf("commit write on %s: %w (the write was not saved)", s.where, err))
	}
	for _, f := range t.afterCommit {
		f()
	}
	return nil
}

// PgWaitError is a write that ended because of other writes: a deadlock
// (40P01), a serialization failure (40001) or a lock wait longer than
// Options.LockTimeout (55P03). Nothing of the write was saved; running it
// again is safe. It unwraps to the server's error.
type PgWaitError struct {
	Code string
	err  error
}

func (e *PgWaitError) Error() string {
	what := "it waited longer than the lock timeout for a row or fact another write holds (see pg_stat_activity; raise the timeout, or find the long transaction with trove doctor)"
	switch e.Code {
	case "40P01":
		what = "it deadlocked with another write"
	case "40001":
		what = "it conflicted with a concurrent write"
	}
	return fmt.Sprintf("write not saved: %s; run it again: %v", what, e.err)
}

func (e *PgWaitError) Unwrap() error { return e.err }

// Transient is true for a deadlock or serialization failure (store.Transient):
// the bulk helpers run such a write again. A lock timeout is not: the
// holder may hold on.
func (e *PgWaitError) Transient() bool { return e.Code == "40P01" || e.Code == "40001" }

// explainPg wraps a deadlock, serialization failure or lock timeout in a
// *PgWaitError; other errors pass unchanged.
func explainPg(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || errors.As(err, new(*PgWaitError)) {
		return err
	}
	switch pe.Code {
	case "40P01", "40001", "55P03":
		return &PgWaitError{Code: pe.Code, err: err}
	}
	return err
}

// sqlStamp takes the next change sequence and gives it to the rows and
// tombstones the write changed. The UPDATE of meta seq locks that row to
// the commit: a second write's stamp waits there, so seq order is commit
// order, and a reader that saw seq S has seen every change up to S.
const sqlStamp = `WITH s AS (UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'seq' RETURNING value::bigint AS seq),
	m AS (UPDATE memories SET seq = s.seq FROM s WHERE memories.rid = ANY($1::bigint[])),
	d AS (UPDATE tombstones SET seq = s.seq FROM s WHERE tombstones.id = ANY($2::text[]))
	SELECT seq FROM s`

// stamp allocates the write's seq (every write takes one, as with the
// SQLite store), stamps what the write changed, and runs the atSeq hooks.
func (t *tx) stamp() error {
	rids := t.changed
	if rids == nil {
		rids = []int64{}
	}
	tombs := t.tombs
	if tombs == nil {
		tombs = []string{}
	}
	if err := t.tx.QueryRow(t.ctx, sqlStamp, rids, tombs).Scan(&t.seq); err != nil {
		return fmt.Errorf("allocate change sequence: %w (the write was not saved)", err)
	}
	for _, f := range t.atSeq {
		if err := f(t.seq); err != nil {
			return err
		}
	}
	return nil
}
