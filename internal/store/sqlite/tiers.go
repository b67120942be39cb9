package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// tierExpr is a row's tier as the lifecycle reads it (lifecycle.ParseTier):
// core or peripheral when the metadata says so, else working.
const tierExpr = `CASE json_extract(metadata, '$.tier') WHEN 'core' THEN 'core' WHEN 'peripheral' THEN 'peripheral' ELSE 'working' END`

// A tier move sets the tier only, and only if the tier is still the one
// read: relative to what the row holds now, so no other field (recall
// counters recorded by Touch in the same or an earlier write included) is
// written back from an old read.
const sqlSetTier = `UPDATE memories SET metadata = json_set(metadata, '$.tier', ?) WHERE rid = ? AND ` + tierExpr + ` = ?`

const sqlLogTier = `INSERT INTO tier_transitions(memory_id, from_tier, to_tier, reason, at, revision) VALUES (?, ?, ?, ?, ?, ?)`

// metaMaintain is the meta key holding the last maintenance pass as JSON.
const metaMaintain = "maintain_last"

var (
	_ store.TierTx     = (*tx)(nil)
	_ store.TierReader = (*Store)(nil)
)

// normTier is tierExpr in Go.
func normTier(v any) string {
	if s, _ := v.(string); s == "core" || s == "peripheral" {
		return s
	}
	return "working"
}

func validTier(s string) bool { return s == "core" || s == "working" || s == "peripheral" }

func (t *tx) SetTier(mv store.TierMove) (bool, error) {
	if !validTier(mv.From) || !validTier(mv.To) || mv.From == mv.To {
		return false, memory.Invalidf("tier move of %s from %q to %q: tiers are core, working and peripheral, and must differ", mv.ID, mv.From, mv.To)
	}
	h, err := t.current(mv.ID)
	if err != nil {
		return false, err
	}
	if !stillAsRead(mv, h.rev, h.count) {
		return false, nil
	}
	res, err := t.exec(sqlSetTier, mv.To, h.rid, mv.From)
	if err != nil {
		return false, fmt.Errorf("move memory %s to tier %s: %w", mv.ID, mv.To, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := t.exec(sqlLogTier, mv.ID, mv.From, mv.To, mv.Reason, mv.At, h.rev); err != nil {
		return false, fmt.Errorf("log tier move of memory %s: %w", mv.ID, err)
	}
	return true, nil
}

// The batch form of a tier move (SetTiers): the heads of every row in one
// read, then one conditional update and one log insert for the moves that
// still hold, each over a JSON array of the rows (json_each), instead of
// three statements per move.
const (
	sqlTierHeads = `SELECT id, rid, scope, revision, json_extract(metadata, '$.access_count') FROM memories
		WHERE id IN (SELECT value FROM json_each(?))`
	sqlSetTiers = `UPDATE memories SET metadata = json_set(metadata, '$.tier', j.value ->> 1)
		FROM json_each(?) AS j WHERE memories.rid = j.value ->> 0 AND ` + tierExpr + ` = j.value ->> 2
		RETURNING memories.rid`
	sqlLogTiers = `INSERT INTO tier_transitions(memory_id, from_tier, to_tier, reason, at, revision)
		SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)`
)

// SetTiers applies each move that still holds, as SetTier does, in three
// statements whatever the number of moves; moved[i] says whether mvs[i]
// was applied. A row that is missing or outside the Write's access is not
// moved (and is no error: a batch is not stopped by a row deleted since
// it was read). The lock is held for the tens of µs a move costs, not the
// hundred that three statements each did (BenchmarkMaintain).
func (t *tx) SetTiers(mvs []store.TierMove) ([]bool, error) {
	moved := make([]bool, len(mvs))
	if len(mvs) == 0 {
		return moved, nil
	}
	ids := make([]string, len(mvs))
	for i, mv := range mvs {
		if !validTier(mv.From) || !validTier(mv.To) || mv.From == mv.To {
			return nil, memory.Invalidf("tier move of %s from %q to %q: tiers are core, working and peripheral, and must differ", mv.ID, mv.From, mv.To)
		}
		ids[i] = mv.ID
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	type tierHead struct {
		rid, rev int64
		scope    memory.Scope
		count    any
	}
	st, err := t.prep(sqlTierHeads)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, string(idsJSON))
	if err != nil {
		return nil, fmt.Errorf("read memories to move: %w", err)
	}
	heads := make(map[string]tierHead, len(mvs))
	for rows.Next() {
		var id, sc string
		var h tierHead
		if err := rows.Scan(&id, &h.rid, &sc, &h.rev, &h.count); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read memories to move: %w", err)
		}
		h.scope = memory.Scope(sc)
		heads[id] = h
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read memories to move: %w", err)
	}
	// The moves that still hold, as [rid, to, from]; which move each rid is.
	var set [][3]any
	byRid := make(map[int64]int, len(mvs))
	for i, mv := range mvs {
		h, ok := heads[mv.ID]
		if !ok || !t.acc.Allows(h.scope) || !stillAsRead(mv, h.rev, h.count) {
			continue
		}
		if _, dup := byRid[h.rid]; dup {
			continue // the same row twice: the first move decides
		}
		byRid[h.rid] = i
		set = append(set, [3]any{h.rid, mv.To, mv.From})
	}
	if len(set) == 0 {
		return moved, nil
	}
	setJSON, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	st, err = t.prep(sqlSetTiers)
	if err != nil {
		return nil, err
	}
	rows, err = st.QueryContext(t.ctx, string(setJSON))
	if err != nil {
		return nil, fmt.Errorf("move memories between tiers: %w", err)
	}
	var logs [][6]any
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("move memories between tiers: %w", err)
		}
		i := byRid[rid]
		mv := mvs[i]
		moved[i] = true
		logs = append(logs, [6]any{mv.ID, mv.From, mv.To, mv.Reason, mv.At, heads[mv.ID].rev})
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("move memories between tiers: %w", err)
	}
	if len(logs) == 0 {
		return moved, nil
	}
	logJSON, err := json.Marshal(logs)
	if err != nil {
		return nil, err
	}
	if _, err := t.exec(sqlLogTiers, string(logJSON)); err != nil {
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

func (t *tx) PutMaintainRun(r store.MaintainRun) error {
	if !t.acc.All() {
		return &memory.ScopeDeniedError{Scope: "*"}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, metaMaintain, string(b))
	return err
}

// keepTier carries the stored tier into m when m's tier is one the row was
// moved away from at its current revision: m was read before the move
// (a move bumps no revision, so the revision check passed), and writing it
// must not undo the move. A tier the row never had at this revision is
// the caller's own choice and is written.
func (t *tx) keepTier(h head, m *memory.Memory) error {
	given := normTier(m.Metadata[memory.KeyTier])
	if given == h.tier {
		return nil
	}
	var one int
	err := t.queryRow("SELECT 1 FROM tier_transitions WHERE memory_id = ? AND revision = ? AND from_tier = ? LIMIT 1", m.ID, h.rev, given).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read tier moves of memory %s: %w", m.ID, err)
	}
	m.Metadata = memory.CloneMetadata(m.Metadata)
	m.Metadata[memory.KeyTier] = h.tier
	return nil
}

const transitionCols = "t.id, t.memory_id, t.from_tier, t.to_tier, t.reason, t.at, t.revision"

func (s *Store) Transitions(ctx context.Context, acc memory.Access, id string, limit int) ([]store.TierTransition, error) {
	if _, err := s.Get(ctx, acc, id); err != nil {
		return nil, err
	}
	q := "SELECT " + transitionCols + " FROM tier_transitions t WHERE t.memory_id = ? ORDER BY t.id DESC"
	args := []any{id}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	return s.queryTransitions(ctx, q, args...)
}

func (s *Store) RecentTransitions(ctx context.Context, acc memory.Access, since int64, limit int) ([]store.TierTransition, error) {
	where, args := scopeClauseOf("m.", acc, nil)
	q := "SELECT " + transitionCols + " FROM tier_transitions t JOIN memories m ON m.id = t.memory_id WHERE t.at >= ? AND " + where + " ORDER BY t.id DESC"
	args = append([]any{since}, args...)
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	return s.queryTransitions(ctx, q, args...)
}

func (s *Store) queryTransitions(ctx context.Context, q string, args ...any) ([]store.TierTransition, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read tier moves: %w", err)
	}
	defer rows.Close()
	var out []store.TierTransition
	for rows.Next() {
		var tr store.TierTransition
		if err := rows.Scan(&tr.Seq, &tr.MemoryID, &tr.From, &tr.To, &tr.Reason, &tr.At, &tr.Revision); err != nil {
			return nil, err
		}
		out = append(out, tr)
	}
	return out, rows.Err()
}

func (s *Store) LastMaintain(ctx context.Context) (store.MaintainRun, bool, error) {
	var r store.MaintainRun
	var v string
	err := s.rdb.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", metaMaintain).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read the last maintenance pass: %w", err)
	}
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return r, false, fmt.Errorf("read the last maintenance pass: %w", err)
	}
	return r, true, nil
}
