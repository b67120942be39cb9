// Package sqlite is trove's embedded store: one SQLite file in WAL mode,
// one writer connection behind a cross-process flock, a pool of read
// connections, FTS5 for BM25, vectors as float32 BLOBs, and migrations
// embedded in the binary. See DESIGN.md beside this file.
//
//	s, err := sqlite.Open(ctx, "/path/trove.db", sqlite.Options{})
//	defer s.Close()
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/trove-memory/trove/internal/lock"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Options configure a store.
type Options struct {
	// Space is the embedding space this process writes with. It is recorded
	// on the first write with a vector; later writes must match it.
	Space store.Space
	// LockTimeout bounds the wait for the write lock (default 30 s).
	LockTimeout time.Duration
	// Command names this process to others waiting on the lock.
	Command string
	// Synchronous is SQLite's synchronous mode: "full" (default: an
	// acknowledged write survives power loss) or "normal".
	Synchronous string
	// MaxGroup bounds how many concurrent Write calls share one transaction.
	MaxGroup int
	// Version is this trove's version: recorded by migrations, and compared
	// with the store's minimum writer version (see OlderThan).
	Version string
	// Clock returns the time used for created_at/updated_at (default time.Now).
	Clock func() time.Time
}

// Store is the SQLite store. It implements store.Store.
type Store struct {
	path  string
	opts  Options
	rdb   *sql.DB // read pool, query_only
	wdb   *sql.DB // exactly one connection, used only by the writer goroutine
	lock  *lock.Lock
	reqs  chan *writeReq
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
	newer error // non-nil when the store's schema is newer than this binary's

	prepared map[string]*sql.Stmt // on wdb; used only by the writer goroutine

	commits atomic.Int64
	ftsVer  atomic.Int64 // the text index version searches last saw (textVersion)

	// The background BuildTextStats of a store whose statistics are not
	// complete: Close stops it.
	buildStop context.CancelFunc
	buildDone chan struct{}

	dfMu    sync.Mutex
	dfCache map[string]dfEntry // document frequencies for text search, see docFreqs
	dfRows  *dfEntry           // the row count, likewise; nil until read

	lens lengthCache // text index document lengths, see cachedLengths
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store at path and applies pending migrations
// under the write lock.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 30 * time.Second
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 64
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	switch opts.Synchronous {
	case "":
		opts.Synchronous = "full"
	case "full", "normal":
	default:
		return nil, fmt.Errorf("%w: synchronous %q: use full or normal", memory.ErrInvalid, opts.Synchronous)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store path %s: %w", path, err)
	}
	// Memories are private: a directory trove creates is the user's alone,
	// and so is every file in it (see createPrivate).
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("create store directory: %w (choose another place with --db or TROVE_DB)", err)
	}
	if err := checkFile(abs); err != nil {
		return nil, err
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}
	if err := registerFunctions(); err != nil {
		return nil, fmt.Errorf("register SQL functions: %w", err)
	}
	s := &Store{path: abs, opts: opts, prepared: map[string]*sql.Stmt{}, reqs: make(chan *writeReq), quit: make(chan struct{}), done: make(chan struct{})}
	if s.lock, err = lock.Open(abs+".lock", opts.Command); err != nil {
		if werr := unix.Access(filepath.Dir(abs), unix.W_OK); werr != nil {
			return nil, fmt.Errorf("store directory %s is read-only (%v), and trove needs %s.lock there: make the directory writable, or copy the store to a writable directory and point --db or TROVE_DB at the copy: %w",
				filepath.Dir(abs), werr, filepath.Base(abs), err)
		}
		return nil, err
	}
	if s.wdb, err = sql.Open("sqlite", dsn(abs, opts, false)); err != nil {
		s.lock.Close()
		return nil, err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	if s.rdb, err = sql.Open("sqlite", dsn(abs, opts, true)); err != nil {
		s.wdb.Close()
		s.lock.Close()
		return nil, err
	}
	s.rdb.SetMaxOpenConns(8)
	s.rdb.SetMaxIdleConns(8)
	err = s.migrate(ctx)
	if err == nil && s.newer == nil {
		err = s.checkWriter(ctx)
	}
	if err == nil && s.newer == nil {
		err = s.prepareWrites(ctx)
	}
	if err != nil {
		s.rdb.Close()
		s.wdb.Close()
		s.lock.Close()
		return nil, explainDisk(abs, err, true)
	}
	go s.writer()
	s.startTextStats()
	return s, nil
}

// startTextStats builds, in the background, what a store from before
// the current schema lacks of its text search: the stemmed index (see
// BuildTextIndex), then the per-scope statistics (BuildTextStats).
func (s *Store) startTextStats() {
	var marks textMarks
	if !backgroundBuilds || s.newer != nil || s.rdb.QueryRow("SELECT "+sqlTextMarks).Scan(&marks.stats, &marks.ftsVer, &marks.next) != nil ||
		marks.stats == textStatsDone && marks.ftsVer >= ftsStemmed && !s.oldTextIndexLeft() {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	s.buildStop, s.buildDone = stop, make(chan struct{})
	go func() {
		defer close(s.buildDone)
		// An error (the lock timed out, the store closed) leaves the rest
		// to the next open, or to doctor --repair; search stays correct.
		if s.BuildTextIndex(ctx) == nil {
			_ = s.BuildTextStats(ctx)
		}
	}()
}

// backgroundBuilds is false in tests that run the builds themselves.
var backgroundBuilds = true

// oldTextIndexLeft reports whether a switch to the stemmed index left the
// old one behind (the process stopped before it dropped it).
func (s *Store) oldTextIndexLeft() bool {
	var n int
	return s.rdb.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name IN ('memories_fts_old', 'scope_terms_old')").Scan(&n) == nil && n > 0
}

// checkFile refuses a file that exists but is not an SQLite database, so
// we never write over somebody's other file.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read store %s: %w: give this user read and write access to it (chmod u+rw), or point --db or TROVE_DB at another path", path, err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := f.Read(head)
	if n == 0 {
		return nil // empty file: SQLite initialises it
	}
	if n < 16 || string(head) != "SQLite format 3\x00" {
		return fmt.Errorf("%w: %s is not a trove store (it is not an SQLite database; trove leaves it untouched): point --db or TROVE_DB at a trove store, or at a new path to start one", memory.ErrInvalid, path)
	}
	return nil
}

// createPrivate creates an empty store file with mode 0600 when there is
// none. SQLite would create it 0644, and it creates the -wal and -shm
// files with the mode of the database file, so this one mode covers all
// three. An existing file keeps its mode (trove doctor warns about a loose
// one, and doctor --repair tightens it).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create store %s: %w: choose a writable place with --db or TROVE_DB", path, err)
	}
	return f.Close()
}

func dsn(path string, opts Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+opts.Synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// Checkpoints run after the write lock is released (see writer.go),
		// so a commit never pays for one while others wait.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		// The writer's temporary tables (text statistics) live in memory.
		q.Add("_pragma", "temp_store(2)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Path returns the store's file path.
func (s *Store) Path() string { return s.path }

// Lock exposes the write lock (for holder and wait/hold figures).
func (s *Store) Lock() *lock.Lock { return s.lock }

// Close stops the writer after the queued writes, checkpoints and closes.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		if s.buildStop != nil {
			s.buildStop()
			<-s.buildDone
		}
		close(s.quit)
		<-s.done
		_, _ = s.wdb.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		err = errors.Join(s.rdb.Close(), s.wdb.Close(), s.lock.Close())
	})
	return err
}

// Space returns the recorded embedding space.
func (s *Store) Space(ctx context.Context) (store.Space, error) {
	return readSpace(ctx, s.rdb)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readSpace(ctx context.Context, q queryer) (store.Space, error) {
	var sp store.Space
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'embed_model'),
		(SELECT value FROM meta WHERE key = 'embed_dims')`).Scan(nullString{&sp.Model}, nullInt{&sp.Dimensions})
	if err != nil {
		return sp, fmt.Errorf("read embedding space: %w", err)
	}
	return sp, nil
}

type nullString struct{ p *string }

func (n nullString) Scan(v any) error {
	switch t := v.(type) {
	case nil:
	case string:
		*n.p = t
	case []byte:
		*n.p = string(t)
	default:
		*n.p = fmt.Sprint(t)
	}
	return nil
}

type nullInt struct{ p *int }

func (n nullInt) Scan(v any) error {
	switch t := v.(type) {
	case nil:
	case int64:
		*n.p = int(t)
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}
