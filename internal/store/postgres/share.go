package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/reembed"
	"github.com/trove-memory/trove/internal/store"
)

// How several hosts share one reembed (or reembed --pending) of a
// database instead of each embedding every row: the claims.
//
// A process embeds only rows it has claimed. A claim is a session-level
// advisory lock on the row's rid (class lockClassEmbedRow), taken with
// pg_try_advisory_lock on the connection the Store keeps for its claims
// (capture.go: claims), the machinery capture jobs are claimed with: it
// is never waited for, and the server frees it the moment the claimant's
// session ends (its process was killed, its host or network went), so
// rows a dead host was embedding are free for the others at once. Claims
// are given up right after the write that stores the rows' vectors
// commits (PutShadow, PutVectors, SwitchEmbedding), so the next claimant
// of a row reads it after that commit and finds it done. One class serves
// both kinds of work: a row another host embeds for the target before the
// switch may be pending after it, and is skipped by the pending pass
// meanwhile.
//
// The switch is made once: the job elects the process that makes it with
// TrySwitch (a TryJob lock), and SwitchEmbedding is guarded (a second
// switch to the same target finds it made and flips nothing). A batch
// embedded for the target that commits after another host switched goes
// into the active slot of the rows still without a vector (putShadow).

var _ reembed.Sharer = (*Store)(nil)

// lockClassEmbedRow is the advisory lock class of a row claimed for
// embedding; the second key is the rid's low 32 bits (two rows whose rids
// differ by a multiple of 2^32 share a key: one of them then waits for a
// later pass, which costs time, never a vector).
const lockClassEmbedRow int32 = 0x7472_6503 // "tre\3"

// SwitchJobName is the TryJob name of the process making a reembed's switch.
const SwitchJobName = "reembed-switch"

func rowKey(rid int64) int32 { return int32(rid) }

// ClaimTodo returns up to limit rows after afterRID, in rid order, that
// have no vector of target yet and that this process claimed; none when
// target is not the reembed in progress (switched, or another target).
func (s *Store) ClaimTodo(ctx context.Context, target store.Space, afterRID int64, limit int) ([]store.EmbedRow, error) {
	cond := vecOther + ` IS NULL AND (SELECT value FROM meta WHERE key = '` + keyTargetModel + `') = $2
		AND (SELECT value FROM meta WHERE key = '` + keyTargetDims + `') = $3`
	return s.claimRows(ctx, afterRID, limit, cond, target.Model, strconv.Itoa(target.Dimensions))
}

// ClaimPending returns up to limit rows after afterRID, in rid order,
// without a vector, that this process claimed.
func (s *Store) ClaimPending(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error) {
	// The slot's column by name (its partial index of rows without a
	// vector serves the scan), for the slot read here: after a switch
	// meanwhile the condition holds for no row, and the next call reads
	// the slot again.
	for range 3 {
		id, err := s.Identity(ctx)
		if err != nil {
			return nil, err
		}
		out, err := s.claimRows(ctx, afterRID, limit, slotColumn(id.Slot)+` IS NULL AND `+slotSQL+` = $2`, strconv.Itoa(id.Slot))
		if err != nil || len(out) > 0 {
			return out, err
		}
		if again, err := s.Identity(ctx); err != nil || again.Slot == id.Slot {
			return out, err
		}
	}
	return nil, errors.New("claim rows without a vector: the vector slot keeps switching: run trove reembed again")
}

// claimRows scans the rows after afterRID that satisfy cond (a condition
// on memories whose parameters start at $2, given in args) and claims
// them until it holds limit or the scan ends. A row is read again after
// its lock is taken: one another process finished (and released) between
// the scan and the lock is given back.
func (s *Store) claimRows(ctx context.Context, afterRID int64, limit int, cond string, args ...any) ([]store.EmbedRow, error) {
	if limit <= 0 {
		return nil, nil
	}
	c := s.jobClaims()
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, err := c.connect(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("claim rows to embed: %w", err)
	}
	scan := `SELECT rid FROM memories WHERE rid > $1 AND ` + cond + ` ORDER BY rid LIMIT ` + strconv.Itoa(2*limit)
	reread := `SELECT rid, id, seq, text FROM memories WHERE rid = ANY($1::bigint[]) AND ` + cond + ` ORDER BY rid`
	var out []store.EmbedRow
	after := afterRID
	for len(out) < limit {
		rows, err := conn.Query(ctx, scan, append([]any{after}, args...)...)
		if err != nil {
			return out, fmt.Errorf("claim rows to embed: %w", s.connErr(err))
		}
		cands, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return out, fmt.Errorf("claim rows to embed: %w", s.connErr(err))
		}
		if len(cands) == 0 {
			break
		}
		after = cands[len(cands)-1]
		var keys []int32
		var rids []int64
		for _, rid := range cands {
			if k := rowKey(rid); !c.rows[k] && !keyIn(keys, k) {
				keys, rids = append(keys, k), append(rids, rid)
			}
		}
		got, err := c.tryLock(ctx, keys)
		if err != nil {
			return out, fmt.Errorf("claim rows to embed: %w", s.connErr(err))
		}
		var mine []int64
		for _, rid := range rids {
			if got[rowKey(rid)] {
				mine = append(mine, rid)
			}
		}
		if len(mine) == 0 {
			continue
		}
		rows, err = conn.Query(ctx, reread, append([]any{mine}, args...)...)
		if err != nil {
			return out, fmt.Errorf("claim rows to embed: %w", s.connErr(err))
		}
		fresh, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.EmbedRow, error) {
			var e store.EmbedRow
			err := r.Scan(&e.RID, &e.ID, &e.Seq, &e.Text)
			return e, err
		})
		if err != nil {
			return out, fmt.Errorf("claim rows to embed: %w", s.connErr(err))
		}
		kept := map[int64]bool{}
		for _, e := range fresh {
			if len(out) < limit {
				out = append(out, e)
				kept[e.RID] = true
			}
		}
		var back []int32
		for _, rid := range mine {
			if !kept[rid] {
				back = append(back, rowKey(rid))
			}
		}
		if err := c.unlockRows(ctx, back); err != nil {
			return out, fmt.Errorf("claim rows to embed: %w", s.connErr(err))
		}
	}
	return out, nil
}

func keyIn(keys []int32, k int32) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// tryLock tries the row locks of keys in one statement; c.mu is held.
func (c *claims) tryLock(ctx context.Context, keys []int32) (map[int32]bool, error) {
	got := map[int32]bool{}
	if len(keys) == 0 {
		return got, nil
	}
	rows, err := c.conn.Query(ctx, `SELECT k FROM unnest($2::int[]) AS k WHERE pg_try_advisory_lock($1, k)`, lockClassEmbedRow, keys)
	if err != nil {
		return got, err
	}
	ks, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return got, err
	}
	for _, k := range ks {
		got[k] = true
		c.rows[k] = true
	}
	return got, nil
}

// unlockRows gives up the row claims of keys this Store holds; c.mu is held.
func (c *claims) unlockRows(ctx context.Context, keys []int32) error {
	var held []int32
	for _, k := range keys {
		if c.rows[k] {
			held = append(held, k)
		}
	}
	if len(held) == 0 || c.conn == nil || c.conn.IsClosed() {
		return nil
	}
	if _, err := c.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, k) FROM unnest($2::int[]) AS k`, lockClassEmbedRow, held); err != nil {
		return err
	}
	for _, k := range held {
		delete(c.rows, k)
	}
	return nil
}

// releaseRows gives up the claims on rows (after their write committed,
// or failed). An error is dropped: the claims then stay until the job
// ends (ReleaseClaims) or the session does; others wait a little longer.
func (s *Store) releaseRows(rows []store.EmbedRow) {
	if len(rows) == 0 {
		return
	}
	keys := make([]int32, len(rows))
	for i, r := range rows {
		keys[i] = rowKey(r.RID)
	}
	c := s.jobClaims()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ConnectTimeout+s.opts.LockTimeout)
	defer cancel()
	_ = c.unlockRows(ctx, keys)
}

// ReleaseClaims gives up every row this Store has claimed for embedding
// (the end of a job: rows claimed but not written, after an error or an
// interruption). Two jobs at once in one process share the Store's
// claims: one ending frees the other's, which may then be embedded twice.
func (s *Store) ReleaseClaims() {
	c := s.jobClaims()
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]int32, 0, len(c.rows))
	for k := range c.rows {
		keys = append(keys, k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ConnectTimeout+s.opts.LockTimeout)
	defer cancel()
	_ = c.unlockRows(ctx, keys)
}

// ClaimedElsewhere counts the rows other sessions (processes, hosts) hold
// claims on: rows being embedded elsewhere right now.
func (s *Store) ClaimedElsewhere(ctx context.Context) (int, error) {
	c := s.jobClaims()
	c.mu.Lock()
	pid := uint32(0)
	if c.conn != nil && !c.conn.IsClosed() {
		pid = c.conn.PgConn().PID()
	}
	c.mu.Unlock()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::bigint::oid AND pid <> $2
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		int64(lockClassEmbedRow), int64(pid)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count rows claimed by other processes: %w", s.connErr(err))
	}
	return n, nil
}

// TrySwitch elects the process that makes a reembed's switch (TryJob).
func (s *Store) TrySwitch() (release func(), ok bool, err error) {
	return s.TryJob(SwitchJobName)
}

// ExistingIDs returns which of ids are rows of the store (any scope): an
// import skips embedding them (their insert would be skipped).
func (s *Store) ExistingIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	look := make([]string, 0, len(ids))
	for _, id := range ids {
		if !unstorable(id) { // no row has it
			look = append(look, id)
		}
	}
	if len(look) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM memories WHERE id = ANY($1::text[])`, look)
	if err != nil {
		return nil, fmt.Errorf("check ids: %w", s.connErr(err))
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("check ids: %w", s.connErr(err))
	}
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}
