package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The capture buffer and capture jobs: see store.BufferTx for the
// protocol. The buffer is the SQLite store's, row for row; what differs
// is how runners on several hosts share the jobs (PendingJobs) and how
// one runner per job name is elected (TryJob).

var (
	_ store.Buffer    = (*Store)(nil)
	_ store.JobLocker = (*Store)(nil)
	_ store.BufferTx  = (*tx)(nil)
)

// Advisory lock classes: the first key of the two-int4 form of
// pg_try_advisory_lock. That key space is separate from the one-bigint
// form other parts of the store lock in (migrations, the change
// sequence, facts), so neither can contend with the other; the class
// keeps the job names and the capture job ids apart.
const (
	lockClassJob     int32 = 0x7472_6a00 // TryJob(name): "trj\0"
	lockClassCapture int32 = 0x7472_6301 // a claimed capture job: "trc\1"
	lockClassSession int32 = 0x7472_6202 // appends to a capture session: "trb\2"
)

// lockKey is the second key of an advisory lock on name.
func lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

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
		out[i] = m
	}
	if len(out) == 0 {
		return out, nil
	}
	// Ids only grow within a session in commit order, as under SQLite's
	// write lock: a capture consumes "through the last id it read", so a
	// message of its session committed later must not get a smaller id.
	// Appends to one session therefore serialise on a transaction-level
	// advisory lock, taken in session order (no deadlock between two
	// writes appending to two sessions) and held to the commit.
	sessions := make([]string, 0, 1)
	for _, m := range out {
		if !slices.Contains(sessions, m.Session) {
			sessions = append(sessions, m.Session)
		}
	}
	slices.Sort(sessions)
	for _, sess := range sessions {
		if _, err := t.tx.Exec(t.ctx, "SELECT pg_advisory_xact_lock($1, $2)", lockClassSession, lockKey(sess)); err != nil {
			return nil, fmt.Errorf("buffer messages of session %s: %w", sess, err)
		}
	}
	// One statement for the whole batch: the serial is drawn row by row in
	// input order (WITH ORDINALITY), so sorted ids match the input.
	var sess, scope, agent, role, content []string
	var at []int64
	for _, m := range out {
		sess, scope, agent = append(sess, m.Session), append(scope, string(m.Scope)), append(agent, m.Agent)
		role, content, at = append(role, m.Role), append(content, m.Content), append(at, m.CreatedAt)
	}
	rows, err := t.tx.Query(t.ctx, `INSERT INTO capture_buffer(session, scope, agent, role, content, created_at)
		SELECT s, sc, a, r, c, at FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
			WITH ORDINALITY AS m(s, sc, a, r, c, at, n)
		ORDER BY n RETURNING id`, sess, scope, agent, role, content, at)
	if err != nil {
		return nil, fmt.Errorf("buffer messages of session %s: %w", out[0].Session, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("buffer messages of session %s: %w", out[0].Session, err)
	}
	if len(ids) != len(out) {
		return nil, fmt.Errorf("buffer messages of session %s: %d ids for %d messages", out[0].Session, len(ids), len(out))
	}
	slices.Sort(ids)
	for i := range out {
		out[i].ID = ids[i]
	}
	return out, nil
}

// ConsumeMessages marks a session's pending messages as captured: see
// store.BufferTx. Two consumers of one range serialise on the rows' locks;
// the second re-reads consumed_at after the first commits and counts none
// of them, so it rolls back its decisions.
func (t *tx) ConsumeMessages(session string, through int64, captureID string) (int, error) {
	a := args{t.now, captureID, session, through}
	where := scopeClause("", t.acc, nil, &a)
	tag, err := t.tx.Exec(t.ctx, `UPDATE capture_buffer SET consumed_at = $1, capture_id = $2
		WHERE session = $3 AND id <= $4 AND consumed_at IS NULL AND `+where, a...)
	if err != nil {
		return 0, fmt.Errorf("consume buffered messages of session %s: %w", session, err)
	}
	return int(tag.RowsAffected()), nil
}

// EraseSession deletes a session's consumed messages: see store.BufferTx.
func (t *tx) EraseSession(session string) (int, error) {
	a := args{session}
	where := scopeClause("", t.acc, nil, &a)
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM capture_buffer WHERE session = $1 AND consumed_at IS NOT NULL AND `+where, a...)
	if err != nil {
		return 0, fmt.Errorf("erase the buffered messages of session %s: %w", session, err)
	}
	return int(tag.RowsAffected()), nil
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
	var result *string // NULL when unset
	if len(j.Result) > 0 {
		if !json.Valid(j.Result) {
			return memory.Invalidf("capture job %s: the result is not valid JSON", j.ID)
		}
		r := string(j.Result)
		result = &r
	}
	if j.CreatedAt == 0 {
		j.CreatedAt = t.now
	}
	// The replaced job must be one the caller reaches too: the update's
	// WHERE says so, and a job it does not reach is left alone (no row
	// comes back).
	a := args{j.ID, j.Session, string(j.Scope), j.Agent, j.State, j.Flush, result, j.Error, j.Attempts, j.CreatedAt, t.now}
	where := scopeClause("capture_jobs.", t.acc, nil, &a)
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO capture_jobs(id, session, scope, agent, state, flush, result, error, attempts, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET session = excluded.session, scope = excluded.scope, agent = excluded.agent,
			state = excluded.state, flush = excluded.flush, result = excluded.result, error = excluded.error,
			attempts = excluded.attempts, updated_at = excluded.updated_at
		WHERE `+where, a...)
	if err != nil {
		return fmt.Errorf("record capture job %s: %w", j.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("capture job %s: %w", j.ID, memory.ErrExists)
	}
	return nil
}

const bufferCols = "id, session, scope, agent, role, content, created_at"

// PendingMessages returns a session's unconsumed messages within acc, in order.
func (s *Store) PendingMessages(ctx context.Context, acc memory.Access, session string) ([]store.BufferedMessage, error) {
	a := args{session}
	where := scopeClause("", acc, nil, &a)
	rows, err := s.pool.Query(ctx, `SELECT `+bufferCols+` FROM capture_buffer
		WHERE session = $1 AND consumed_at IS NULL AND `+where+` ORDER BY id`, a...)
	if err != nil {
		return nil, fmt.Errorf("read buffered messages of session %s: %w", session, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.BufferedMessage, error) {
		var m store.BufferedMessage
		var scope string
		err := r.Scan(&m.ID, &m.Session, &scope, &m.Agent, &m.Role, &m.Content, &m.CreatedAt)
		m.Scope = memory.Scope(scope)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("read buffered messages of session %s: %w", session, err)
	}
	if out == nil {
		out = []store.BufferedMessage{}
	}
	return out, nil
}

// PendingSessions lists sessions with unconsumed messages: see store.Buffer.
func (s *Store) PendingSessions(ctx context.Context, idleBefore int64, limit int) ([]store.PendingSession, error) {
	var lim *int // NULL: LIMIT ALL
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `SELECT session, scope, agent, count(*), count(*) FILTER (WHERE role = $1),
			min(created_at), max(created_at)
		FROM capture_buffer WHERE consumed_at IS NULL
		GROUP BY session, scope, agent
		HAVING $2::bigint = 0 OR max(created_at) < $2
		ORDER BY min(created_at), session COLLATE "C", scope COLLATE "C", agent COLLATE "C" LIMIT $3`, store.RoleUser, idleBefore, lim)
	if err != nil {
		return nil, fmt.Errorf("list sessions with buffered messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.PendingSession, error) {
		var p store.PendingSession
		var scope string
		err := r.Scan(&p.Session, &scope, &p.Agent, &p.Messages, &p.UserMessages, &p.FirstAt, &p.LastAt)
		p.Scope = memory.Scope(scope)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions with buffered messages: %w", err)
	}
	if out == nil {
		out = []store.PendingSession{}
	}
	return out, nil
}

const jobCols = "id, session, scope, agent, state, flush, result, error, attempts, created_at, updated_at"

func scanJob(r pgx.Row) (store.CaptureJob, error) {
	var j store.CaptureJob
	var scope string
	var result, errText *string
	if err := r.Scan(&j.ID, &j.Session, &scope, &j.Agent, &j.State, &j.Flush, &result, &errText, &j.Attempts, &j.CreatedAt, &j.UpdatedAt); err != nil {
		return j, err
	}
	j.Scope = memory.Scope(scope)
	if errText != nil {
		j.Error = *errText
	}
	if result != nil {
		j.Result = json.RawMessage(*result)
	}
	return j, nil
}

// CaptureJob returns the job id if acc reaches its scope.
func (s *Store) CaptureJob(ctx context.Context, acc memory.Access, id string) (store.CaptureJob, error) {
	a := args{id}
	where := scopeClause("", acc, nil, &a)
	j, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobCols+` FROM capture_jobs WHERE id = $1 AND `+where, a...))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.CaptureJob{}, &memory.NotFoundError{ID: id}
	}
	if err != nil {
		return store.CaptureJob{}, fmt.Errorf("read capture job %s: %w", id, err)
	}
	return j, nil
}

// PendingJobs lists the jobs pending or running, oldest first, that no
// other live runner has claimed, and claims them for this Store: see
// store.Buffer.
//
// A job's run spans minutes and several transactions (the models are
// called with no transaction open), so a row lock (FOR UPDATE SKIP
// LOCKED) cannot hold it. The claim is a session-level advisory lock on
// the job's id, taken with pg_try_advisory_lock on one connection this
// Store keeps for its claims: atomic, never waited for, and freed by the
// server the moment the claimant's session ends (its process died, or
// its connection was cut), so a job still "running" whose lock is free is
// one whose runner died, to be resumed. After taking a lock the row is
// read again: a job another runner finished (and released) between the
// list and the lock is skipped.
//
// A claim is kept until this Store's next PendingJobs finds the job's
// outcome recorded (not running), or the Store closes; a job claimed
// here and still running is listed again (its runner here stopped before
// recording an outcome), so within one Store calls must not overlap (the
// capture worker holds the job lock, TryJob). Across Stores and hosts no
// job is handed to two runners.
func (s *Store) PendingJobs(ctx context.Context, limit int) ([]store.CaptureJob, error) {
	c := s.jobClaims()
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, err := c.connect(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("list pending capture jobs: %w", err)
	}
	if err := c.releaseFinished(ctx); err != nil {
		return nil, fmt.Errorf("list pending capture jobs: %w", err)
	}
	out := []store.CaptureJob{}
	const page = 100
	var afterAt int64
	afterID := ""
	first := true
	for limit <= 0 || len(out) < limit {
		rows, err := conn.Query(ctx, `SELECT id, created_at FROM capture_jobs
			WHERE state IN ('pending', 'running') AND ($1 OR (created_at, id) > ($2, $3))
			ORDER BY created_at, id LIMIT $4`, first, afterAt, afterID, page)
		if err != nil {
			return nil, fmt.Errorf("list pending capture jobs: %w", err)
		}
		type cand struct {
			id string
			at int64
		}
		cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cand, error) {
			var c cand
			err := r.Scan(&c.id, &c.at)
			return c, err
		})
		if err != nil {
			return nil, fmt.Errorf("list pending capture jobs: %w", err)
		}
		for _, cd := range cands {
			if limit > 0 && len(out) >= limit {
				break
			}
			j, ok, err := c.claim(ctx, cd.id)
			if err != nil {
				return out, fmt.Errorf("claim capture job %s: %w", cd.id, err)
			}
			if ok {
				out = append(out, j)
			}
		}
		if len(cands) < page {
			break
		}
		first, afterAt, afterID = false, cands[len(cands)-1].at, cands[len(cands)-1].id
	}
	return out, nil
}

// claims is the capture jobs a Store has claimed, each by a session-level
// advisory lock on conn (see PendingJobs).
type claims struct {
	mu   sync.Mutex
	conn *pgx.Conn
	held map[string]bool
	rows map[int32]bool // rows claimed for embedding (share.go)
}

// The claims of each open Store, kept beside it (they belong to this
// file, the Store struct to store.go). The map holds the Store weakly: a
// Store that is dropped gives its connection back when it is collected
// (runtime.AddCleanup below), besides closeClaims, which is for Close.
var (
	claimsMu sync.Mutex
	claimsOf = map[weak.Pointer[Store]]*claims{}
)

// jobClaims returns the Store's claims.
func (s *Store) jobClaims() *claims {
	claimsMu.Lock()
	defer claimsMu.Unlock()
	key := weak.Make(s)
	c := claimsOf[key]
	if c == nil {
		c = &claims{held: map[string]bool{}, rows: map[int32]bool{}}
		claimsOf[key] = c
		runtime.AddCleanup(s, func(key weak.Pointer[Store]) {
			claimsMu.Lock()
			c := claimsOf[key]
			delete(claimsOf, key)
			claimsMu.Unlock()
			if c != nil {
				c.close()
			}
		}, key)
	}
	return c
}

// closeClaims gives up the Store's claims and closes their connection:
// for Store.Close, so that a closing server's running jobs are free to
// resume elsewhere at once.
func (s *Store) closeClaims() {
	claimsMu.Lock()
	key := weak.Make(s)
	c := claimsOf[key]
	delete(claimsOf, key)
	claimsMu.Unlock()
	if c != nil {
		c.close()
	}
}

func (c *claims) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		// Unlocked before the session closes, so the jobs are free when
		// this returns (the server ends a closed session a moment later).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
		c.conn.Close(ctx)
		c.conn = nil
	}
	clear(c.held)
	clear(c.rows)
}

// connect opens the claims connection if it is not open. A connection
// that died took its locks with it: the claims are forgotten.
func (c *claims) connect(ctx context.Context, s *Store) (*pgx.Conn, error) {
	if c.conn != nil && !c.conn.IsClosed() {
		if err := c.conn.Ping(ctx); err == nil {
			return c.conn, nil
		}
		c.conn.Close(ctx)
	}
	c.conn = nil
	clear(c.held)
	clear(c.rows)
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.connErr(err)
	}
	c.conn = pc.Hijack()
	return c.conn, nil
}

// releaseFinished unlocks the claims on jobs whose outcome is recorded
// (or that are gone): their commit came before this read, so a runner
// that takes the lock next reads the outcome.
func (c *claims) releaseFinished(ctx context.Context) error {
	if len(c.held) == 0 {
		return nil
	}
	ids := make([]string, 0, len(c.held))
	for id := range c.held {
		ids = append(ids, id)
	}
	rows, err := c.conn.Query(ctx, `SELECT h.id FROM unnest($1::text[]) AS h(id)
		WHERE NOT EXISTS (SELECT 1 FROM capture_jobs j WHERE j.id = h.id AND j.state = 'running')`, ids)
	if err != nil {
		return err
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, id := range done {
		if err := c.unlock(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (c *claims) unlock(ctx context.Context, id string) error {
	var ok bool
	if err := c.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1, $2)", lockClassCapture, lockKey(id)).Scan(&ok); err != nil {
		return err
	}
	delete(c.held, id)
	return nil
}

// claim takes the job id unless another session holds it, and reads it
// afresh; ok is false (and the lock given back) when it is claimed
// elsewhere or no longer pending or running.
func (c *claims) claim(ctx context.Context, id string) (store.CaptureJob, bool, error) {
	if !c.held[id] {
		var got bool
		if err := c.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", lockClassCapture, lockKey(id)).Scan(&got); err != nil {
			return store.CaptureJob{}, false, err
		}
		if !got {
			return store.CaptureJob{}, false, nil
		}
		c.held[id] = true
	}
	j, err := scanJob(c.conn.QueryRow(ctx, `SELECT `+jobCols+` FROM capture_jobs WHERE id = $1`, id))
	if err == nil && (j.State == store.JobPending || j.State == store.JobRunning) {
		return j, true, nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return j, false, err
	}
	return store.CaptureJob{}, false, c.unlock(ctx, id)
}

// capturePruneBatch bounds one pruning write.
const capturePruneBatch = 500

// PruneCapture deletes buffered messages consumed before olderThan (unix
// ms) and jobs done or failed before it (by their last update), at most
// batch rows a transaction (default capturePruneBatch). Pending messages
// and jobs are never pruned. Each batch takes its rows with FOR UPDATE
// SKIP LOCKED, so two hosts pruning at once share the rows instead of
// waiting on each other. It may be stopped (ctx) and re-run at any
// point; it returns how many rows went.
func (s *Store) PruneCapture(ctx context.Context, olderThan int64, batch int) (int, error) {
	if batch <= 0 {
		batch = capturePruneBatch
	}
	total := 0
	for _, q := range []string{
		`DELETE FROM capture_buffer WHERE id IN
			(SELECT id FROM capture_buffer WHERE consumed_at IS NOT NULL AND consumed_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		`DELETE FROM capture_jobs WHERE id IN
			(SELECT id FROM capture_jobs WHERE state IN ('done', 'failed') AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
	} {
		n, err := s.pruneBatches(ctx, q, olderThan, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("prune capture buffer: %w", err)
		}
	}
	return total, nil
}

// TryJob takes the lock that elects one runner of the job name among every
// process sharing the database, without waiting: see store.JobLocker. It
// is a session-level advisory lock (pg_try_advisory_lock) on a connection
// of its own, held until release: the server frees it the instant the
// holder's session ends (its process died, its host or network went), and
// never judges it by age. Another holder in this process has another
// session, so it is refused too.
func (s *Store) TryJob(name string) (release func(), ok bool, err error) {
	if s.newer != nil {
		return nil, false, s.newer
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ConnectTimeout+s.opts.LockTimeout)
	defer cancel()
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("take the %s job lock: %w", name, s.connErr(err))
	}
	var got bool
	if err := pc.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", lockClassJob, lockKey(name)).Scan(&got); err != nil {
		pc.Hijack().Close(ctx) // its state is unknown: never back to the pool
		return nil, false, fmt.Errorf("take the %s job lock: %w", name, err)
	}
	if !got {
		pc.Release() // holds nothing
		return nil, false, nil
	}
	// The connection leaves the pool: it holds the lock until release
	// closes it, and the pool neither lends it out nor waits for it.
	conn := pc.Hijack()
	var once sync.Once
	key := lockKey(name)
	return func() {
		once.Do(func() {
			// Unlocked before the session closes: a close alone frees the
			// lock only when the server has ended the session, a moment
			// later, and a TryJob right after release must succeed. (If
			// the session is already gone, so is the lock.)
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.LockTimeout)
			defer cancel()
			conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", lockClassJob, key)
			conn.Close(ctx)
		})
	}, true, nil
}
