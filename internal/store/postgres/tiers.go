package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Tier moves (store.TierTx), as the SQLite store makes them: bookkeeping
// that sets metadata.tier only, bumps no revision, moves no updated_at or
// change sequence and keeps no history version, applied only if the row
// is still as the caller read it, and logged in tier_transitions.
//
// The PostgreSQL way of "still as read": the rows' heads are read FOR
// UPDATE, so no other transaction changes them between the check and
// the update (a concurrent writer of the row waits for this commit, then
// works from the moved row); the rows are locked in rid order, so two
// batches over the same rows do not deadlock.

var (
	_ store.TierTx     = (*tx)(nil)
	_ store.TierReader = (*Store)(nil)
)

func validTier(s string) bool { return s == "core" || s == "working" || s == "peripheral" }

func checkMove(mv store.TierMove) error {
	if !validTier(mv.From) || !validTier(mv.To) || mv.From == mv.To {
		return memory.Invalidf("tier move of %s from %q to %q: tiers are core, working and peripheral, and must differ", mv.ID, mv.From, mv.To)
	}
	return nil
}

// SetTier applies mv if the row is still as read, and logs it: see
// store.TierTx.
func (t *tx) SetTier(mv store.TierMove) (bool, error) {
	if err := checkMove(mv); err != nil {
		return false, err
	}
	heads, err := t.tierHeads([]string{mv.ID})
	if err != nil {
		return false, err
	}
	h, ok := heads[mv.ID]
	if !ok || !t.acc.Allows(h.scope) {
		// A row outside the caller's scopes is reported as missing, so
		// its existence does not leak.
		return false, &memory.NotFoundError{ID: mv.ID}
	}
	moved, err := t.applyTiers([]store.TierMove{mv}, heads)
	if err != nil {
		return false, err
	}
	return moved[0], nil
}

// SetTiers applies each move that still holds, as SetTier does, in three
// statements whatever the number of moves; moved[i] says whether mvs[i]
// was applied. A row that is missing or outside the Write's access is not
// moved (and is no error: a batch is not stopped by a row deleted since
// it was read). The service's maintenance pass finds it by type assertion.
func (t *tx) SetTiers(mvs []store.TierMove) ([]bool, error) {
	if len(mvs) == 0 {
		return []bool{}, nil
	}
	ids := make([]string, len(mvs))
	for i, mv := range mvs {
		if err := checkMove(mv); err != nil {
			return nil, err
		}
		ids[i] = mv.ID
	}
	heads, err := t.tierHeads(ids)
	if err != nil {
		return nil, err
	}
	return t.applyTiers(mvs, heads)
}

// tierHead is what a tier move checks of a row.
type tierHead struct {
	rid, rev int64
	scope    memory.Scope
	count    any // metadata access_count as stored
	tier     string
}

// tierHeads reads and locks (FOR UPDATE, in rid order) the rows of ids.
func (t *tx) tierHeads(ids []string) (map[string]tierHead, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT id, rid, scope, revision, metadata->'access_count', `+tierExpr+`
		FROM memories WHERE id = ANY($1::text[]) ORDER BY rid FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("read memories to move: %w", err)
	}
	defer rows.Close()
	heads := make(map[string]tierHead, len(ids))
	for rows.Next() {
		var id, sc string
		var h tierHead
		if err := rows.Scan(&id, &h.rid, &sc, &h.rev, &h.count, &h.tier); err != nil {
			return nil, fmt.Errorf("read memories to move: %w", err)
		}
		h.scope = memory.Scope(sc)
		heads[id] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read memories to move: %w", err)
	}
	return heads, nil
}

// applyTiers writes the moves of mvs that still hold on their locked
// heads: one UPDATE for them all, one INSERT of their log rows.
func (t *tx) applyTiers(mvs []store.TierMove, heads map[string]tierHead) ([]bool, error) {
	moved := make([]bool, len(mvs))
	var rids []int64
	var tos, froms []string
	byRid := make(map[int64]int, len(mvs))
	for i, mv := range mvs {
		h, ok := heads[mv.ID]
		if !ok || !t.acc.Allows(h.scope) || !stillAsRead(mv, h.rev, h.count) || h.tier != mv.From {
			continue
		}
		if _, dup := byRid[h.rid]; dup {
			continue // the same row twice: the first move decides
		}
		byRid[h.rid] = i
		rids, tos, froms = append(rids, h.rid), append(tos, mv.To), append(froms, mv.From)
	}
	if len(rids) == 0 {
		return moved, nil
	}
	rows, err := t.tx.Query(t.ctx, `UPDATE memories SET metadata = jsonb_set(metadata, '{tier}', to_jsonb(v.to_tier))
		FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(rid, to_tier, from_tier)
		WHERE memories.rid = v.rid AND `+tierExpr+` = v.from_tier
		RETURNING memories.rid`, rids, tos, froms)
	if err != nil {
		return nil, fmt.Errorf("move memories between tiers: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("move memories between tiers: %w", err)
	}
	if len(done) == 0 {
		return moved, nil
	}
	var (
		logIDs, logFrom, logTo, logReason []string
		logAt, logRev                     []int64
	)
	for _, rid := range done {
		moved[byRid[rid]] = true
	}
	// Logged in the order of the moves, as SetTier one by one logs them.
	for i, mv := range mvs {
		if !moved[i] {
			continue
		}
		logIDs, logFrom, logTo, logReason = append(logIDs, mv.ID), append(logFrom, mv.From), append(logTo, mv.To), append(logReason, mv.Reason)
		logAt, logRev = append(logAt, mv.At), append(logRev, heads[mv.ID].rev)
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO tier_transitions(memory_id, from_tier, to_tier, reason, at, revision)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])`,
		logIDs, logFrom, logTo, logReason, logAt, logRev); err != nil {
		return nil, fmt.Errorf("log tier moves: %w", err)
	}
	return moved, nil
}

// stillAsRead reports whether a row at revision rev with stored
// access_count count is still as mv read it.
func stillAsRead(mv store.TierMove, rev int64, count any) bool {
	if mv.Revision != 0 && rev != mv.Revision {
		return false
	}
	if mv.AccessCount >= 0 {
		n, ok := memory.MetaNumber(map[string]any{memory.KeyAccessCount: count}, memory.KeyAccessCount)
		if !ok || n < 0 {
			n = 0
		}
		// Read as lifecycle.FromMemory reads it, so the count compared is
		// the one the move was computed from.
		if int(min(n, math.MaxInt32)) != mv.AccessCount {
			return false
		}
	}
	return true
}

// maintainRunsKept is how many maintenance passes maintain_runs keeps
// (the store promises the last; a few more explain a trend).
const maintainRunsKept = 50

// PutMaintainRun records r as the last maintenance pass.
func (t *tx) PutMaintainRun(r store.MaintainRun) error {
	if !t.acc.All() {
		return &memory.ScopeDeniedError{Scope: "*"}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO maintain_runs(started, ended, summary) VALUES ($1, $2, $3)`,
		r.StartedAt, r.StartedAt+r.DurationMS, string(b)); err != nil {
		return fmt.Errorf("record the maintenance pass: %w", err)
	}
	if _, err := t.tx.Exec(t.ctx, `DELETE FROM maintain_runs WHERE id <= (SELECT max(id) FROM maintain_runs) - $1`, maintainRunsKept); err != nil {
		return fmt.Errorf("record the maintenance pass: %w", err)
	}
	return nil
}

const transitionCols = "t.id, t.memory_id, t.from_tier, t.to_tier, t.reason, t.at, t.revision"

// Transitions returns the logged moves of a row acc reaches: see
// store.TierReader.
func (s *Store) Transitions(ctx context.Context, acc memory.Access, id string, limit int) ([]store.TierTransition, error) {
	if _, err := s.Get(ctx, acc, id); err != nil {
		return nil, err
	}
	return s.queryTransitions(ctx, "SELECT "+transitionCols+" FROM tier_transitions t WHERE t.memory_id = $1 ORDER BY t.id DESC LIMIT $2",
		id, limitOrAll(limit))
}

// RecentTransitions returns the moves logged since a time, of rows acc
// reaches: see store.TierReader.
func (s *Store) RecentTransitions(ctx context.Context, acc memory.Access, since int64, limit int) ([]store.TierTransition, error) {
	a := args{since, limitOrAll(limit)}
	where := scopeClause("m.", acc, nil, &a)
	return s.queryTransitions(ctx, "SELECT "+transitionCols+" FROM tier_transitions t JOIN memories m ON m.id = t.memory_id WHERE t.at >= $1 AND "+
		where+" ORDER BY t.id DESC LIMIT $2", a...)
}

// limitOrAll is a LIMIT parameter: NULL (all) for 0 or less.
func limitOrAll(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	l := int64(limit)
	return &l
}

func (s *Store) queryTransitions(ctx context.Context, q string, args ...any) ([]store.TierTransition, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read tier moves: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.TierTransition, error) {
		var tr store.TierTransition
		err := r.Scan(&tr.Seq, &tr.MemoryID, &tr.From, &tr.To, &tr.Reason, &tr.At, &tr.Revision)
		return tr, err
	})
	if err != nil {
		return nil, fmt.Errorf("read tier moves: %w", err)
	}
	return out, nil
}

// LastMaintain returns the last recorded maintenance pass: see
// store.TierReader.
func (s *Store) LastMaintain(ctx context.Context) (store.MaintainRun, bool, error) {
	var r store.MaintainRun
	var v []byte
	err := s.pool.QueryRow(ctx, "SELECT summary FROM maintain_runs ORDER BY id DESC LIMIT 1").Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read the last maintenance pass: %w", err)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("read the last maintenance pass: %w", err)
	}
	return r, true, nil
}
