package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/trove-memory/trove/internal/store"
)

// Auto-recall bookkeeping: the recall_injections table
// (store.InjectionTx). A session's turn counter is its row with an empty
// memory_id. Two hosts recalling into one session serialise on that row:
// NextTurn's upsert locks it to the commit, so turns are handed out once
// each.

var (
	_ store.InjectionTx     = (*tx)(nil)
	_ store.InjectionPruner = (*Store)(nil)
)

// NextTurn advances the session's turn counter: see store.InjectionTx.
func (t *tx) NextTurn(session, agent string, at int64) (int64, error) {
	var turn int64
	err := t.tx.QueryRow(t.ctx, `INSERT INTO recall_injections(session, agent, memory_id, turn, at) VALUES ($1, $2, '', 1, $3)
		ON CONFLICT (session, agent, memory_id) DO UPDATE SET turn = recall_injections.turn + 1, at = excluded.at
		RETURNING turn`, session, agent, at).Scan(&turn)
	if err != nil {
		return 0, fmt.Errorf("advance recall turn of session %s: %w", session, err)
	}
	return turn, nil
}

// Injected returns the ids injected into the session after a turn: see
// store.InjectionTx.
func (t *tx) Injected(session, agent string, afterTurn int64) (map[string]int64, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT memory_id, turn FROM recall_injections WHERE session = $1 AND agent = $2 AND memory_id <> '' AND turn > $3",
		session, agent, afterTurn)
	if err != nil {
		return nil, fmt.Errorf("read injections of session %s: %w", session, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var turn int64
		if err := rows.Scan(&id, &turn); err != nil {
			return nil, fmt.Errorf("read injections of session %s: %w", session, err)
		}
		out[id] = turn
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read injections of session %s: %w", session, err)
	}
	return out, nil
}

// RecordInjections notes that ids were injected on a turn: see
// store.InjectionTx. One statement for all of them.
func (t *tx) RecordInjections(session, agent string, ids []string, turn, at int64) error {
	var keep []string
	for _, id := range ids {
		if id != "" && !slices.Contains(keep, id) {
			keep = append(keep, id)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	// Sorted, so two writes recording the same ids lock them in one order.
	slices.Sort(keep)
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO recall_injections(session, agent, memory_id, turn, at)
		SELECT $1, $2, id, $4, $5 FROM unnest($3::text[]) AS u(id)
		ON CONFLICT (session, agent, memory_id) DO UPDATE SET turn = excluded.turn, at = excluded.at`,
		session, agent, keep, turn, at); err != nil {
		return fmt.Errorf("record injection in session %s: %w", session, err)
	}
	return nil
}

// LastTurn returns the session's current turn and the ids injected on it:
// see store.InjectionTx.
func (t *tx) LastTurn(session, agent string) (int64, []string, error) {
	var turn int64
	err := t.tx.QueryRow(t.ctx, "SELECT coalesce(max(turn), 0) FROM recall_injections WHERE session = $1 AND agent = $2 AND memory_id = ''",
		session, agent).Scan(&turn)
	if err != nil {
		return 0, nil, fmt.Errorf("read the recall turn of session %s: %w", session, err)
	}
	if turn == 0 {
		return 0, nil, nil
	}
	got, err := t.Injected(session, agent, turn-1)
	if err != nil {
		return 0, nil, err
	}
	return turn, slices.Sorted(maps.Keys(got)), nil
}

// injectionPruneBatch bounds one pruning transaction.
const injectionPruneBatch = 500

// PruneInjections deletes injection entries older than olderThan: see
// store.InjectionPruner. Batches take their rows FOR UPDATE SKIP LOCKED,
// so pruners on two hosts share them.
func (s *Store) PruneInjections(ctx context.Context, olderThan int64, batch int) (int, error) {
	if batch <= 0 {
		batch = injectionPruneBatch
	}
	n, err := s.pruneBatches(ctx, `DELETE FROM recall_injections WHERE (session, agent, memory_id) IN
		(SELECT session, agent, memory_id FROM recall_injections WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, batch)
	if err != nil {
		return n, fmt.Errorf("prune recall injections: %w", err)
	}
	return n, nil
}
