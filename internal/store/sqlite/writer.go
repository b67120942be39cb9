package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("store is closed")

// checkpointEvery is how many commits pass between WAL checkpoints. The
// checkpoint runs after the lock is released, so it delays nobody's write.
const checkpointEvery = 256

type writeReq struct {
	ctx   context.Context
	acc   memory.Access
	fn    func(store.Tx) error
	state atomic.Int32 // 0 queued, 1 taken by the writer, 2 abandoned by the caller
	done  chan error
}

// Write runs fn in one transaction under the cross-process write lock.
// Concurrent callers in this process may share one transaction (group
// commit); each fn runs in its own savepoint, so one caller's error undoes
// only its own changes, and each caller gets its own result.
func (s *Store) Write(ctx context.Context, acc memory.Access, fn func(store.Tx) error) error {
	if s.newer != nil {
		return s.newer
	}
	r := &writeReq{ctx: ctx, acc: acc, fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(0, 2) {
			return ctx.Err()
		}
		return <-r.done // already running: its outcome is the truth
	}
}

// writer owns the write connection. It takes one request, gathers the
// ones already waiting, and commits them together.
func (s *Store) writer() {
	defer close(s.done)
	for {
		var first *writeReq
		select {
		case first = <-s.reqs:
		case <-s.quit:
			return
		}
		group := s.gather([]*writeReq{first})
		s.commitGroup(group)
	}
}

func (s *Store) gather(group []*writeReq) []*writeReq {
	for len(group) < s.opts.MaxGroup {
		select {
		case r := <-s.reqs:
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

func (s *Store) commitGroup(group []*writeReq) {
	g, err := s.lock.Acquire(context.Background(), s.opts.LockTimeout)
	if err != nil {
		finish(group, err)
		return
	}
	// Requests that arrived while we waited for the lock ride along.
	group = s.gather(group)
	err = explainDisk(s.path, s.runGroup(group), false)
	g.Release()
	if err != nil {
		finish(group, err)
	}
	if s.commits.Add(1)%checkpointEvery == 0 {
		_, _ = s.wdb.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// finish hands err to every request still waiting.
func finish(group []*writeReq, err error) {
	for _, r := range group {
		if r.state.CompareAndSwap(0, 1) || r.state.Load() == 1 {
			select {
			case r.done <- err:
			default:
			}
		}
	}
}

func (s *Store) runGroup(group []*writeReq) error {
	ctx := context.Background()
	sqlTx, err := s.wdb.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer sqlTx.Rollback()
	marks, err := s.checkSchema(ctx, sqlTx)
	if err != nil {
		return err
	}
	// One change-sequence number per transaction, taken outside the
	// savepoints so a rolled-back caller cannot make two commits share it.
	var seq int64
	if err := sqlTx.QueryRowContext(ctx, "UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value").Scan(&seq); err != nil {
		return fmt.Errorf("allocate change sequence: %w", err)
	}
	t := &tx{s: s, tx: sqlTx, ctx: ctx, now: s.opts.Clock().UnixMilli(), seq: seq,
		statMark: marks.stats, ftsVer: marks.ftsVer, nextMark: marks.next}
	results := make([]error, len(group))
	taken := make([]bool, len(group))
	for i, r := range group {
		if !r.state.CompareAndSwap(0, 1) {
			continue // caller gave up before we started
		}
		taken[i] = true
		if r.ctx.Err() != nil {
			results[i] = r.ctx.Err()
			continue
		}
		t.acc = r.acc
		if len(group) == 1 {
			// Alone in the transaction: no savepoint needed (and none is
			// cheaper: FTS5 flushes its pending index at every savepoint).
			if results[i] = explainDisk(s.path, t.run(r.fn), false); results[i] != nil {
				r.done <- results[i]
				return nil // the deferred Rollback undoes it
			}
			continue
		}
		results[i] = explainDisk(s.path, t.runSavepoint(r.fn), false)
	}
	if err := sqlTx.Commit(); err != nil {
		// A full disk inside one caller's savepoint can end the whole
		// transaction; its plain explanation beats "no transaction is active".
		for _, r := range results {
			if de := (*diskError)(nil); errors.As(r, &de) {
				return de
			}
		}
		return fmt.Errorf("commit write: %w", err)
	}
	if t.purged {
		// Before the callers hear of the commit. Under the write lock:
		// two unlinks and a glob, cheaper than moving the delivery.
		s.removeIndexFile()
	}
	for i, r := range group {
		if taken[i] {
			r.done <- results[i]
		}
	}
	return nil
}

// checkSchema re-reads the schema version and the minimum writer version
// inside the transaction: another process may have migrated the store
// since we opened it. It returns the marks of the text index and its
// statistics (see textstats.go, textindex.go), read in the same statement.
func (s *Store) checkSchema(ctx context.Context, q *sql.Tx) (textMarks, error) {
	var v int
	var min string
	var m textMarks
	if err := q.QueryRowContext(ctx, `SELECT user_version, coalesce((SELECT value FROM meta WHERE key = 'min_writer_version'), ''),
		`+sqlTextMarks+` FROM pragma_user_version`).Scan(&v, &min, &m.stats, &m.ftsVer, &m.next); err != nil {
		return m, fmt.Errorf("read schema version: %w", err)
	}
	if v > SchemaVersion() {
		return m, s.newerError(ctx, v)
	}
	if OlderThan(s.opts.Version, min) {
		return m, s.tooOldError(min)
	}
	return m, nil
}

// runSavepoint runs fn inside a savepoint so an error undoes only fn's
// own changes when several callers share the transaction.
func (t *tx) runSavepoint(fn func(store.Tx) error) error {
	if _, err := t.tx.ExecContext(t.ctx, "SAVEPOINT w"); err != nil {
		return err
	}
	err := t.run(fn)
	if err != nil {
		t.space = nil // it may have been recorded inside the undone part
		if _, rerr := t.tx.ExecContext(t.ctx, "ROLLBACK TO w"); rerr != nil {
			return errors.Join(err, rerr)
		}
		// BuildTextStats or BuildTextIndex may have moved a mark inside
		// the undone part.
		if rerr := t.tx.QueryRowContext(t.ctx, "SELECT "+sqlTextMarks).Scan(&t.statMark, &t.ftsVer, &t.nextMark); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if _, rerr := t.tx.ExecContext(t.ctx, "RELEASE w"); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// run calls fn and then brings the FTS index in step with what it changed.
func (t *tx) run(fn func(store.Tx) error) error {
	t.ftsAdd, t.ftsDrop = t.ftsAdd[:0], t.ftsDrop[:0]
	t.stats = textStats{}
	if err := fn(t); err != nil {
		return err
	}
	return t.syncFTS()
}

// diskError is an SQLite error the user can fix outside trove (a read-only
// file or directory, a full disk), told in plain words with what to do.
// It unwraps to the SQLite error.
type diskError struct {
	msg string
	err error
}

func (e *diskError) Error() string { return e.msg }
func (e *diskError) Unwrap() error { return e.err }

// explainDisk turns SQLite's "attempt to write a readonly database (8)",
// "unable to open database file (14)", "database or disk is full (13)"
// and "disk I/O error (778)" into what happened to the store at path and
// what to do; other errors (nil included) pass unchanged. SQLite rolls a
// failed transaction back, so the message can promise that earlier writes
// are safe. opening is true for errors from Open, where the only writes
// are the schema migrations.
func explainDisk(path string, err error, opening bool) error {
	var se *msqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	var de *diskError
	if errors.As(err, &de) {
		return err
	}
	dir := filepath.Dir(path)
	cause := err.Error()
	verb, notSaved := "write", "this write was not saved; earlier writes are safe"
	if opening {
		verb, notSaved = "open", "the store was not changed"
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		if werr := unix.Access(dir, unix.W_OK); werr != nil {
			return &diskError{err: err, msg: fmt.Sprintf("store directory %s is read-only (%v; %s): trove creates %s-wal and %s-shm beside the store, even to read it: make the directory writable, or copy the store to a writable directory and point --db or TROVE_DB at the copy",
				dir, werr, cause, filepath.Base(path), filepath.Base(path))}
		}
		if _, serr := os.Stat(path); serr == nil {
			if werr := unix.Access(path, unix.W_OK); werr != nil && opening {
				return &diskError{err: err, msg: fmt.Sprintf("store file %s is read-only (%v; %s), and this trove must first create or upgrade its schema: make it writable (chmod u+w, or chattr -i if it is immutable) for one run of trove, or copy it and point --db or TROVE_DB at the copy",
					path, werr, cause)}
			} else if werr != nil {
				return &diskError{err: err, msg: fmt.Sprintf("store file %s is read-only (%v; %s): reads work, writes do not: make it writable (chmod u+w, or chattr -i if it is immutable), or copy it and point --db or TROVE_DB at the copy; %s",
					path, werr, cause, notSaved)}
			}
		}
		for _, side := range []string{path + "-wal", path + "-shm"} {
			if _, serr := os.Stat(side); serr == nil {
				if werr := unix.Access(side, unix.W_OK); werr != nil {
					return &diskError{err: err, msg: fmt.Sprintf("%s beside the store is read-only (%v; %s): make it writable like the store file (another user may own it)", side, werr, cause)}
				}
			}
		}
		return err
	case sqlite3.SQLITE_FULL:
		return &diskError{err: err, msg: fmt.Sprintf("the disk holding %s is full (%s): free some space there, or move the store with --db or TROVE_DB, and run the command again; %s",
			path, cause, notSaved)}
	case sqlite3.SQLITE_IOERR:
		return &diskError{err: err, msg: fmt.Sprintf("could not %s the store %s (%s): the disk may be full, a file size limit (ulimit -f) reached, or the disk failing: check free space (df) and the system log, then run the command again; %s",
			verb, path, cause, notSaved)}
	}
	return err
}
