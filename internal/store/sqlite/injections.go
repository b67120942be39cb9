package sqlite

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Auto-recall bookkeeping (schema 9): Tx.Bump and the recall_injections
// table (store.InjectionTx). A session's turn counter is its row with an
// empty memory_id.

var (
	_ store.InjectionTx     = (*tx)(nil)
	_ store.InjectionPruner = (*Store)(nil)
)

// Bump applies bookkeeping to a row: see store.Tx. It changes importance
// and metadata only, in one statement from the stored values, and leaves
// revision, updated_at, seq and history alone, as Touch does.
func (t *tx) Bump(id string, b store.Bump) error {
	h, err := t.current(id)
	if err != nil {
		return err
	}
	imp, args := "importance", []any{}
	switch {
	case b.Importance > 0:
		imp, args = "min(importance + ?, max(importance, ?))", []any{b.Importance, b.Ceil}
	case b.Importance < 0:
		imp, args = "max(importance + ?, min(importance, ?))", []any{b.Importance, b.Floor}
	}
	var sets []string
	for _, k := range slices.Sorted(maps.Keys(b.Add)) {
		if !metaKey.MatchString(k) {
			return memory.Invalidf("bump %s: metadata key %q is not letters, digits and underscores", id, k)
		}
		sets = append(sets, "'$."+k+"', coalesce(CAST(json_extract(metadata, '$."+k+"') AS INTEGER), 0) + ?")
		args = append(args, b.Add[k])
	}
	for _, k := range slices.Sorted(maps.Keys(b.Set)) {
		if !metaKey.MatchString(k) {
			return memory.Invalidf("bump %s: metadata key %q is not letters, digits and underscores", id, k)
		}
		if _, both := b.Add[k]; both {
			return memory.Invalidf("bump %s: metadata key %q is both added to and set", id, k)
		}
		sets = append(sets, "'$."+k+"', ?")
		args = append(args, b.Set[k])
	}
	md := "metadata"
	if len(sets) > 0 {
		md = "json_set(metadata, " + strings.Join(sets, ", ") + ")"
	}
	q := "UPDATE memories SET importance = " + imp + ", metadata = " + md + " WHERE rid = ?"
	if _, err := t.exec(q, append(args, h.rid)...); err != nil {
		return fmt.Errorf("record feedback on memory %s: %w", id, err)
	}
	return nil
}

func (t *tx) NextTurn(session, agent string, at int64) (int64, error) {
	var turn int64
	err := t.queryRow(`INSERT INTO recall_injections(session, agent, memory_id, turn, at) VALUES (?, ?, '', 1, ?)
		ON CONFLICT(session, agent, memory_id) DO UPDATE SET turn = turn + 1, at = excluded.at
		RETURNING turn`, session, agent, at).Scan(&turn)
	if err != nil {
		return 0, fmt.Errorf("advance recall turn of session %s: %w", session, err)
	}
	return turn, nil
}

func (t *tx) Injected(session, agent string, afterTurn int64) (map[string]int64, error) {
	st, err := t.prep("SELECT memory_id, turn FROM recall_injections WHERE session = ? AND agent = ? AND memory_id != '' AND turn > ?")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(t.ctx, session, agent, afterTurn)
	if err != nil {
		return nil, fmt.Errorf("read injections of session %s: %w", session, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var turn int64
		if err := rows.Scan(&id, &turn); err != nil {
			return nil, err
		}
		out[id] = turn
	}
	return out, rows.Err()
}

func (t *tx) RecordInjections(session, agent string, ids []string, turn, at int64) error {
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, err := t.exec(`INSERT INTO recall_injections(session, agent, memory_id, turn, at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT(session, agent, memory_id) DO UPDATE SET turn = excluded.turn, at = excluded.at`, session, agent, id, turn, at); err != nil {
			return fmt.Errorf("record injection in session %s: %w", session, err)
		}
	}
	return nil
}

func (t *tx) LastTurn(session, agent string) (int64, []string, error) {
	var turn int64
	err := t.queryRow("SELECT coalesce(max(turn), 0) FROM recall_injections WHERE session = ? AND agent = ? AND memory_id = ''", session, agent).Scan(&turn)
	if err != nil || turn == 0 {
		return 0, nil, err
	}
	got, err := t.Injected(session, agent, turn-1)
	if err != nil {
		return 0, nil, err
	}
	return turn, slices.Sorted(maps.Keys(got)), nil
}

// injectionPruneBatch bounds one pruning write, as capturePruneBatch does.
const injectionPruneBatch = 500

// PruneInjections deletes injection entries older than olderThan: see
// store.InjectionPruner.
func (s *Store) PruneInjections(ctx context.Context, olderThan int64, batch int) (int, error) {
	if batch <= 0 {
		batch = injectionPruneBatch
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := 0
		err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
			t := stx.(*tx)
			res, err := t.exec(`DELETE FROM recall_injections WHERE (session, agent, memory_id) IN
				(SELECT session, agent, memory_id FROM recall_injections WHERE at < ? LIMIT ?)`, olderThan, batch)
			if err != nil {
				return fmt.Errorf("prune recall injections: %w", err)
			}
			c, _ := res.RowsAffected()
			n = int(c)
			return nil
		})
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
