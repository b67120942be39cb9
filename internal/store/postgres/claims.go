package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/store"
)

// Row claims of batch jobs shared between hosts (store.RowClaimer): the
// upgrade claims each row before its LLM call, so two hosts upgrading at
// once enrich each row once. A claim is a session-level advisory lock
// (pg_try_advisory_lock) on a connection of the runner's own: the server
// frees it the instant the runner's session ends (its process was
// killed, its host went), and never judges it by age.

var _ store.RowClaimer = (*Store)(nil)

// lockClassClaim is the advisory lock class of row claims: "tru\3".
const lockClassClaim int32 = 0x7472_7503

// claimKey is the second key of the claim on id in job. Two ids may share
// a key (32 bits): a runner then finds one of them held until the other
// is released, and takes it on a later pass; nothing is done twice.
func claimKey(job, id string) int32 {
	h := fnv.New32a()
	h.Write([]byte(job))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return int32(h.Sum32())
}

// ClaimRows opens a runner's claims on the rows of job: see store.RowClaimer.
func (s *Store) ClaimRows(ctx context.Context, job string) (store.Claims, error) {
	if s.newer != nil {
		return nil, s.newer
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout+s.opts.LockTimeout)
	defer cancel()
	pc, err := s.pool.Acquire(cctx)
	if err != nil {
		return nil, fmt.Errorf("open the %s job's row claims: %w", job, s.connErr(err))
	}
	// The connection leaves the pool: it holds the claims until Close.
	return &rowClaims{s: s, job: job, conn: pc.Hijack()}, nil
}

type rowClaims struct {
	s    *Store
	job  string
	mu   sync.Mutex // the connection serves one statement at a time
	conn *pgx.Conn  // nil once closed
}

func (c *rowClaims) Try(ctx context.Context, id string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return false, fmt.Errorf("claim row %s of the %s job: the claims are closed", id, c.job)
	}
	var got bool
	if err := c.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", lockClassClaim, claimKey(c.job, id)).Scan(&got); err != nil {
		return false, fmt.Errorf("claim row %s of the %s job: %w", id, c.job, c.s.connErr(err))
	}
	return got, nil
}

func (c *rowClaims) Release(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([]int32, len(ids))
	for i, id := range ids {
		keys[i] = claimKey(c.job, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil // closing gave them all up
	}
	if _, err := c.conn.Exec(ctx, "SELECT pg_advisory_unlock($1, k) FROM unnest($2::int4[]) k", lockClassClaim, keys); err != nil {
		return fmt.Errorf("release %d row claims of the %s job: %w", len(ids), c.job, c.s.connErr(err))
	}
	return nil
}

func (c *rowClaims) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	conn := c.conn
	c.conn = nil
	// Unlocked before the session closes, so another runner can take the
	// rows at once (a close alone frees them when the server has ended
	// the session, a moment later).
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.LockTimeout)
	defer cancel()
	_, err := conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("release the %s job's row claims: %w", c.job, c.s.connErr(err))
	}
	return nil
}
