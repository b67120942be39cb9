package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// sqlKeepVersion copies a row, as stored before the change, into history:
// one statement in the writer's transaction, prepared once per store. It
// runs before Update and Delete (tx.go), never for Touch or a reembed's
// vector writes: vectors and recall counters are not content.
const sqlKeepVersion = `INSERT INTO history
	(id, revision, text, category, scope, importance, format, metadata, created_at, updated_at, replaced_at, replaced_by, change)
	SELECT id, revision, text, category, scope, importance, format, metadata, created_at, updated_at, ?, ?, ?
	FROM memories WHERE rid = ?`

const historyCols = "id, revision, text, category, scope, importance, format, metadata, created_at, updated_at, replaced_at, replaced_by, change"

// keepVersion records the row rid as it is now, replaced by change.
func (t *tx) keepVersion(rid int64, change string) error {
	if _, err := t.exec(sqlKeepVersion, t.now, t.acc.Who(), change, rid); err != nil {
		return fmt.Errorf("keep previous version: %w", err)
	}
	return nil
}

// History returns the kept versions of id that acc may see, newest first.
//
// Visibility is decided in the query, twice: the memory's anchor scope
// (its current scope, or when deleted the scope of its newest version)
// must be one acc reaches, else nothing is returned and the memory is
// not found; and each version is returned only when its own scope is one
// acc reaches. So a row moved out of the caller's scopes shows nothing
// (as Get does), and a row moved into them shows only the versions it had
// there: what it said in a scope the caller could not read stays unread.
func (s *Store) History(ctx context.Context, acc memory.Access, id string, limit int) ([]store.Version, error) {
	if limit <= 0 {
		limit = -1
	}
	hw, hargs := scopeClauseOf("h.", acc, nil)
	aw, aargs := scopeClauseOf("a.", acc, nil)
	q := `SELECT h.` + strings.ReplaceAll(historyCols, ", ", ", h.") + ` FROM history h
		WHERE h.id = ? AND ` + hw + `
		AND EXISTS (SELECT 1 FROM (
			SELECT scope FROM memories WHERE id = ?
			UNION ALL
			SELECT * FROM (SELECT scope FROM history WHERE id = ? AND NOT EXISTS (SELECT 1 FROM memories WHERE id = ?) ORDER BY hid DESC LIMIT 1)
		) AS a WHERE ` + aw + `)
		ORDER BY h.hid DESC LIMIT ?`
	args := append([]any{id}, hargs...)
	args = append(args, id, id, id)
	args = append(args, aargs...)
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", id, err)
	}
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history of %s: %w", id, err)
	}
	if len(out) > 0 {
		return out, nil
	}
	// No visible version: a live row the caller reaches simply has none.
	if _, err := s.Resolve(ctx, acc, id); err != nil {
		var nf *memory.NotFoundError
		if errors.As(err, &nf) {
			return nil, &memory.NotFoundError{ID: id}
		}
		return nil, err
	}
	return []store.Version{}, nil
}

func scanVersion(r rowScanner) (store.Version, error) {
	var v store.Version
	var cat, scope, md string
	if err := r.Scan(&v.ID, &v.Revision, &v.Text, &cat, &scope, &v.Importance, &v.Format, &md,
		&v.CreatedAt, &v.UpdatedAt, &v.ReplacedAt, &v.ReplacedBy, &v.Change); err != nil {
		return v, err
	}
	v.Category, v.Scope = memory.Category(cat), memory.Scope(scope)
	if err := json.Unmarshal([]byte(md), &v.Metadata); err != nil {
		return v, fmt.Errorf("memory %s revision %d: stored metadata is not valid JSON: %w", v.ID, v.Revision, err)
	}
	if v.Metadata == nil {
		v.Metadata = map[string]any{}
	}
	return v, nil
}

// Restore brings back a deleted memory: see store.Tx.
func (t *tx) Restore(m *memory.Memory) error {
	if _, err := t.current(m.ID); err == nil {
		return fmt.Errorf("memory %s: %w", m.ID, memory.ErrExists)
	} else if !errors.As(err, new(*memory.NotFoundError)) {
		return err
	}
	var rev int64
	var change, scope string
	err := t.queryRow("SELECT revision, change, scope FROM history WHERE id = ? ORDER BY hid DESC LIMIT 1", m.ID).Scan(&rev, &change, &scope)
	found := !errors.Is(err, sql.ErrNoRows)
	if err != nil && found {
		return fmt.Errorf("restore memory %s: %w", m.ID, err)
	}
	if err := store.RestoreCheck(t.acc, m, found, rev, change, memory.Scope(scope)); err != nil {
		return err
	}
	if err := t.Insert(m); err != nil {
		return err
	}
	// The row is back with a newer seq: a change-feed reader behind the
	// deletion sees only the row, one past it sees the row again.
	if _, err := t.exec("DELETE FROM tombstones WHERE id = ?", m.ID); err != nil {
		return fmt.Errorf("restore memory %s: %w", m.ID, err)
	}
	return nil
}

// Purge erases id for good: see store.Tx. SQLite's secure_delete is on
// for its statements, so the freed pages are overwritten in the database
// file; the WAL keeps the old page images until the next checkpoint.
func (t *tx) Purge(id string) (store.Erasure, error) {
	e := store.Erasure{ID: id, At: t.now, By: t.acc.Who()}
	if !t.acc.All() {
		return e, &memory.ScopeDeniedError{Scope: "*"}
	}
	if _, err := t.tx.ExecContext(t.ctx, "PRAGMA secure_delete = ON"); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	defer t.tx.ExecContext(t.ctx, "PRAGMA secure_delete = OFF")
	var rid int64
	err := t.queryRow("SELECT rid FROM memories WHERE id = ?", id).Scan(&rid)
	switch {
	case err == nil:
		e.HadRow = true
		if err := t.statGone(rid); err != nil { // the scope's text statistics lose the row too
			return e, fmt.Errorf("purge memory %s: %w", id, err)
		}
		// Both vector slots go with the row (a reembed's target vector, or
		// one kept for --rollback, included).
		if _, err := t.exec("DELETE FROM memories WHERE rid = ?", rid); err != nil {
			return e, fmt.Errorf("purge memory %s: %w", id, err)
		}
		t.ftsDrop = append(t.ftsDrop, rid)
	case !errors.Is(err, sql.ErrNoRows):
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	if _, err := t.exec("DELETE FROM tier_transitions WHERE memory_id = ?", id); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	res, err := t.exec("DELETE FROM history WHERE id = ?", id)
	if err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	e.Versions = int(n)
	if !e.HadRow && e.Versions == 0 {
		return e, &memory.NotFoundError{ID: id}
	}
	if _, err := t.exec("DELETE FROM tombstones WHERE id = ?", id); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	// No tombstone is left to tell a change-feed reader the row is gone,
	// so every reader behind this write reloads (see TombstoneHorizon):
	// in-memory vector indexes drop the row's vector.
	if _, err := t.exec(`INSERT INTO meta(key, value) VALUES ('tombstone_horizon', ?)
		ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)`, t.seq); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	if _, err := t.exec("INSERT INTO erasures(id, erased_at, erased_by, versions, had_row) VALUES (?, ?, ?, ?, ?)",
		id, e.At, e.By, e.Versions, e.HadRow); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	t.purged = true
	return e, nil
}

// historyPruneBatch bounds one pruning write, like pruneBatch for tombstones.
const historyPruneBatch = 500

// PruneHistory deletes versions beyond keep per memory or replaced before
// olderThan (unix ms), at most batch a write (default historyPruneBatch).
// Which versions go is read from a snapshot on the read pool, outside the
// lock; each write then deletes one batch of them by key, so the lock is
// held for deletes only. Versions added meanwhile are newer and kept; it
// may be stopped and re-run at any point.
func (s *Store) PruneHistory(ctx context.Context, keep int, olderThan int64, batch int) (int, error) {
	if batch <= 0 {
		batch = historyPruneBatch
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT hid FROM history WHERE ? > 0 AND replaced_at < ?
		UNION
		SELECT hid FROM (SELECT hid, row_number() OVER (PARTITION BY id ORDER BY hid DESC) AS k FROM history) WHERE ? > 0 AND k > ?
		ORDER BY 1`, olderThan, olderThan, keep, keep)
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	var hids []int64
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune history: %w", err)
		}
		hids = append(hids, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	total := 0
	for len(hids) > 0 {
		part := hids[:min(batch, len(hids))]
		hids = hids[len(part):]
		var n int64
		err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
			t := stx.(*tx)
			res, err := t.exec("DELETE FROM history WHERE hid IN (SELECT value FROM json_each(?))", jsonInts(part))
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune history: %w", err)
		}
		total += int(n)
	}
	return total, nil
}
