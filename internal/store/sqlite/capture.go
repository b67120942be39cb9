package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/trove-memory/trove/internal/lock"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The capture buffer and capture jobs (schema 0007): see store.BufferTx
// for the protocol, and DESIGN.md.

var (
	_ store.Buffer    = (*Store)(nil)
	_ store.JobLocker = (*Store)(nil)
	_ store.BufferTx  = (*tx)(nil)
)

// sqlAppend adds one buffered message; prepared once per store, since
// every captured turn runs it.
const sqlAppend = `INSERT INTO capture_buffer(session, scope, agent, role, content, created_at) VALUES (?, ?, ?, ?, ?, ?)`

const bufferCols = "id, session, scope, agent, role, content, created_at"

// AppendMessages appends msgs to their sessions' buffers: see store.BufferTx.
func (t *tx) AppendMessages(msgs []store.BufferedMessage) ([]store.BufferedMessage, error) {
	out := make([]store.BufferedMessage, len(msgs))
	for i, m := range msgs {
		if m.Scope == "" {
			m.Scope = memory.GlobalScope
		}
		if m.Session == "" {
			return nil, memory.Invalidf("capture message %d: the session is empty: give the id of the conversation it belongs to", i)
		}
		if m.Role == "" {
			return nil, memory.Invalidf("capture message %d of session %s: the role is empty: give user, assistant, ...", i, m.Session)
		}
		if _, err := memory.ParseScope(string(m.Scope)); err != nil {
			return nil, fmt.Errorf("capture message %d of session %s: %w", i, m.Session, err)
		}
		if !t.acc.Allows(m.Scope) {
			return nil, &memory.ScopeDeniedError{Scope: m.Scope}
		}
		if m.CreatedAt == 0 {
			m.CreatedAt = t.now
		}
		res, err := t.exec(sqlAppend, m.Session, string(m.Scope), m.Agent, m.Role, m.Content, m.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("buffer message of session %s: %w", m.Session, err)
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return nil, fmt.Errorf("buffer message of session %s: %w", m.Session, err)
		}
		out[i] = m
	}
	return out, nil
}

// ConsumeMessages marks a session's pending messages as captured: see
// store.BufferTx.
func (t *tx) ConsumeMessages(session string, through int64, captureID string) (int, error) {
	where, args := scopeClause(t.acc, nil)
	res, err := t.exec(`UPDATE capture_buffer SET consumed_at = ?, capture_id = ?
		WHERE session = ? AND id <= ? AND consumed_at IS NULL AND `+where,
		append([]any{t.now, captureID, session, through}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("consume buffered messages of session %s: %w", session, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("consume buffered messages of session %s: %w", session, err)
	}
	return int(n), nil
}

// EraseSession deletes a session's consumed messages: see store.BufferTx.
func (t *tx) EraseSession(session string) (int, error) {
	where, args := scopeClause(t.acc, nil)
	res, err := t.exec(`DELETE FROM capture_buffer WHERE session = ? AND consumed_at IS NOT NULL AND `+where, append([]any{session}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("erase the buffered messages of session %s: %w", session, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("erase the buffered messages of session %s: %w", session, err)
	}
	return int(n), nil
}

// PutCaptureJob inserts or replaces a job: see store.BufferTx.
func (t *tx) PutCaptureJob(j store.CaptureJob) error {
	if j.ID == "" {
		return memory.Invalidf("capture job: the id is empty")
	}
	if j.Session == "" {
		return memory.Invalidf("capture job %s: the session is empty", j.ID)
	}
	switch j.State {
	case store.JobPending, store.JobRunning, store.JobDone, store.JobFailed:
	default:
		return memory.Invalidf("capture job %s: state %q is unknown: use pending, running, done or failed", j.ID, j.State)
	}
	if j.Scope == "" {
		j.Scope = memory.GlobalScope
	}
	if _, err := memory.ParseScope(string(j.Scope)); err != nil {
		return fmt.Errorf("capture job %s: %w", j.ID, err)
	}
	if !t.acc.Allows(j.Scope) {
		return &memory.ScopeDeniedError{Scope: j.Scope}
	}
	var result any // NULL when unset
	if len(j.Result) > 0 {
		if !json.Valid(j.Result) {
			return memory.Invalidf("capture job %s: the result is not valid JSON", j.ID)
		}
		result = string(j.Result)
	}
	if j.CreatedAt == 0 {
		j.CreatedAt = t.now
	}
	// The replaced job must be one the caller reaches too: the update's
	// WHERE says so in SQL, and a job it does not reach is left alone.
	where, args := scopeClauseOf("capture_jobs.", t.acc, nil)
	res, err := t.exec(`INSERT INTO capture_jobs(id, session, scope, agent, state, flush, result, error, attempts, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, ''), ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET session = excluded.session, scope = excluded.scope, agent = excluded.agent,
			state = excluded.state, flush = excluded.flush, result = excluded.result, error = excluded.error,
			attempts = excluded.attempts, updated_at = excluded.updated_at
		WHERE `+where,
		append([]any{j.ID, j.Session, string(j.Scope), j.Agent, j.State, j.Flush, result, j.Error, j.Attempts, j.CreatedAt, t.now}, args...)...)
	if err != nil {
		return fmt.Errorf("record capture job %s: %w", j.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("capture job %s: %w", j.ID, memory.ErrExists)
	}
	return nil
}

// PendingMessages returns a session's unconsumed messages within acc, in order.
func (s *Store) PendingMessages(ctx context.Context, acc memory.Access, session string) ([]store.BufferedMessage, error) {
	where, args := scopeClause(acc, nil)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+bufferCols+` FROM capture_buffer
		WHERE session = ? AND consumed_at IS NULL AND `+where+` ORDER BY id`,
		append([]any{session}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("read buffered messages of session %s: %w", session, err)
	}
	defer rows.Close()
	out := []store.BufferedMessage{}
	for rows.Next() {
		var m store.BufferedMessage
		var scope string
		if err := rows.Scan(&m.ID, &m.Session, &scope, &m.Agent, &m.Role, &m.Content, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("read buffered messages of session %s: %w", session, err)
		}
		m.Scope = memory.Scope(scope)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read buffered messages of session %s: %w", session, err)
	}
	return out, nil
}

// PendingSessions lists sessions with unconsumed messages: see store.Buffer.
// It reads the covering index capture_buffer_sessions alone.
func (s *Store) PendingSessions(ctx context.Context, idleBefore int64, limit int) ([]store.PendingSession, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT session, scope, agent, count(*), count(*) FILTER (WHERE role = ?),
			min(created_at), max(created_at)
		FROM capture_buffer WHERE consumed_at IS NULL
		GROUP BY session, scope, agent
		HAVING ? = 0 OR max(created_at) < ?
		ORDER BY 6, 1, 2, 3 LIMIT ?`, store.RoleUser, idleBefore, idleBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("list sessions with buffered messages: %w", err)
	}
	defer rows.Close()
	out := []store.PendingSession{}
	for rows.Next() {
		var p store.PendingSession
		var scope string
		if err := rows.Scan(&p.Session, &scope, &p.Agent, &p.Messages, &p.UserMessages, &p.FirstAt, &p.LastAt); err != nil {
			return nil, fmt.Errorf("list sessions with buffered messages: %w", err)
		}
		p.Scope = memory.Scope(scope)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions with buffered messages: %w", err)
	}
	return out, nil
}

const jobCols = "id, session, scope, agent, state, flush, result, error, attempts, created_at, updated_at"

func scanJob(r rowScanner) (store.CaptureJob, error) {
	var j store.CaptureJob
	var scope string
	var result, errText sql.NullString
	if err := r.Scan(&j.ID, &j.Session, &scope, &j.Agent, &j.State, &j.Flush, &result, &errText, &j.Attempts, &j.CreatedAt, &j.UpdatedAt); err != nil {
		return j, err
	}
	j.Scope, j.Error = memory.Scope(scope), errText.String
	if result.Valid {
		j.Result = json.RawMessage(result.String)
	}
	return j, nil
}

// CaptureJob returns the job id if acc reaches its scope.
func (s *Store) CaptureJob(ctx context.Context, acc memory.Access, id string) (store.CaptureJob, error) {
	where, args := scopeClause(acc, nil)
	j, err := scanJob(s.rdb.QueryRowContext(ctx, `SELECT `+jobCols+` FROM capture_jobs WHERE id = ? AND `+where, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.CaptureJob{}, &memory.NotFoundError{ID: id}
	}
	if err != nil {
		return store.CaptureJob{}, fmt.Errorf("read capture job %s: %w", id, err)
	}
	return j, nil
}

// PendingJobs lists jobs pending or running, oldest first: see store.Buffer.
func (s *Store) PendingJobs(ctx context.Context, limit int) ([]store.CaptureJob, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+jobCols+` FROM capture_jobs
		WHERE state IN (?, ?) ORDER BY created_at, id LIMIT ?`, store.JobPending, store.JobRunning, limit)
	if err != nil {
		return nil, fmt.Errorf("list pending capture jobs: %w", err)
	}
	defer rows.Close()
	out := []store.CaptureJob{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list pending capture jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending capture jobs: %w", err)
	}
	return out, nil
}

// capturePruneBatch bounds one pruning write, as historyPruneBatch does.
const capturePruneBatch = 500

// PruneCapture deletes buffered messages consumed before olderThan (unix
// ms) and jobs done or failed before it (by their last update), at most
// batch rows a write (default capturePruneBatch), releasing the lock
// between writes. Pending messages and jobs are never pruned. It may be
// stopped (ctx) and re-run at any point; it returns how many rows went.
func (s *Store) PruneCapture(ctx context.Context, olderThan int64, batch int) (int, error) {
	if batch <= 0 {
		batch = capturePruneBatch
	}
	total := 0
	for _, q := range []string{
		`DELETE FROM capture_buffer WHERE id IN
			(SELECT id FROM capture_buffer WHERE consumed_at IS NOT NULL AND consumed_at < ? LIMIT ?)`,
		`DELETE FROM capture_jobs WHERE id IN
			(SELECT id FROM capture_jobs WHERE state IN ('done', 'failed') AND updated_at < ? LIMIT ?)`,
	} {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			var n int64
			err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
				res, err := stx.(*tx).exec(q, olderThan, batch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, fmt.Errorf("prune capture buffer: %w", err)
			}
			total += int(n)
			if n < int64(batch) {
				break
			}
		}
	}
	return total, nil
}

// TryJob takes the lock that elects one runner of the job name among every
// process sharing the store, without waiting: see store.JobLocker. It is a
// kernel lock on a byte of <store>.jobs.lock, separate from the write lock
// (a job holds it for minutes; writes take the write lock as usual). A
// store this binary may not write (see Write) gives that error: a job here
// could not commit.
func (s *Store) TryJob(name string) (release func(), ok bool, err error) {
	if s.newer != nil {
		return nil, false, s.newer
	}
	select {
	case <-s.quit:
		return nil, false, ErrClosed
	default:
	}
	h, err := lock.TryExclusive(s.path+".jobs.lock", name)
	if err != nil || h == nil {
		return nil, false, err
	}
	return h.Release, true, nil
}
