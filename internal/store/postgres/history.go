package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// sqlKeepVersion copies a row, as stored before the change, into history,
// in the write's transaction (Update and Delete; never Touch, Bump or a
// reembed's vector writes: vectors and counters are not content).
const sqlKeepVersion = `INSERT INTO history
	(id, revision, text, category, scope, importance, format, metadata, created_at, updated_at, replaced_at, replaced_by, change)
	SELECT id, revision, text, category, scope, importance, format, metadata, created_at, updated_at, $1, $2, $3
	FROM memories WHERE rid = $4`

const historyCols = "id, revision, text, category, scope, importance, format, metadata, created_at, updated_at, replaced_at, replaced_by, change"

// keepVersion records the row rid as it is now, replaced by change.
func (t *tx) keepVersion(rid int64, change string) error {
	if _, err := t.exec(sqlKeepVersion, t.now, t.acc.Who(), change, rid); err != nil {
		return fmt.Errorf("keep previous version: %w", err)
	}
	return nil
}

// History returns the kept versions of id that acc may see, newest first.
// As in the SQLite store, the memory's anchor scope (its current scope, or
// once deleted the scope of its newest version) must be one acc reaches,
// and each version is returned only when its own scope is.
func (s *Store) History(ctx context.Context, acc memory.Access, id string, limit int) ([]store.Version, error) {
	if unstorable(id) {
		return nil, &memory.NotFoundError{ID: id}
	}
	var a args
	idp := a.add(id)
	hw := scopeClause("h.", acc, nil, &a)
	aw := scopeClause("x.", acc, nil, &a)
	q := `SELECT h.` + strings.ReplaceAll(historyCols, ", ", ", h.") + ` FROM history h
		WHERE h.id = ` + idp + ` AND ` + hw + `
		AND EXISTS (SELECT 1 FROM (
			SELECT scope FROM memories WHERE id = ` + idp + `
			UNION ALL
			(SELECT scope FROM history WHERE id = ` + idp + ` AND NOT EXISTS (SELECT 1 FROM memories WHERE id = ` + idp + `) ORDER BY hid DESC LIMIT 1)
		) AS x WHERE ` + aw + `)
		ORDER BY h.hid DESC`
	if limit > 0 {
		q += " LIMIT " + a.add(limit)
	}
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", id, err)
	}
	out, err := scanVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", id, err)
	}
	if len(out) > 0 {
		return out, nil
	}
	// No visible version: a live row the caller reaches simply has none.
	if _, err := s.Resolve(ctx, acc, id); err != nil {
		if errors.As(err, new(*memory.NotFoundError)) {
			return nil, &memory.NotFoundError{ID: id}
		}
		return nil, err
	}
	return []store.Version{}, nil
}

func scanVersions(rows pgx.Rows) ([]store.Version, error) {
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		var v store.Version
		var cat, scope string
		var format int32
		var md []byte
		if err := rows.Scan(&v.ID, &v.Revision, &v.Text, &cat, &scope, &v.Importance, &format, &md,
			&v.CreatedAt, &v.UpdatedAt, &v.ReplacedAt, &v.ReplacedBy, &v.Change); err != nil {
			return nil, err
		}
		v.Category, v.Scope, v.Format = memory.Category(cat), memory.Scope(scope), memory.Format(format)
		var err error
		if v.Metadata, err = decodeMetadata(md); err != nil {
			return nil, fmt.Errorf("memory %s revision %d: %w", v.ID, v.Revision, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Restore brings back a deleted memory: see store.Tx.
func (t *tx) Restore(m *memory.Memory) error {
	if unstorable(m.ID) {
		return &memory.NotFoundError{ID: m.ID}
	}
	// Lock the id's history first: two restores of one memory serialise
	// here, and the second finds the row.
	if _, err := t.exec("SELECT pg_advisory_xact_lock($1, hashtext($2))", lockClass, "restore:"+m.ID); err != nil {
		return fmt.Errorf("restore memory %s: %w", m.ID, err)
	}
	if _, err := t.current(m.ID); err == nil {
		return fmt.Errorf("memory %s: %w", m.ID, memory.ErrExists)
	} else if !errors.As(err, new(*memory.NotFoundError)) {
		return err
	}
	var rev int64
	var change, scope string
	err := t.queryRow("SELECT revision, change, scope FROM history WHERE id = $1 ORDER BY hid DESC LIMIT 1", m.ID).Scan(&rev, &change, &scope)
	found := !errors.Is(err, pgx.ErrNoRows)
	if err != nil && found {
		return fmt.Errorf("restore memory %s: %w", m.ID, err)
	}
	if err := store.RestoreCheck(t.acc, m, found, rev, change, memory.Scope(scope)); err != nil {
		return err
	}
	if err := t.Insert(m); err != nil {
		return err
	}
	// The row is back with this write's seq: a change-feed reader behind
	// the deletion sees only the row, one past it sees the row again.
	if _, err := t.exec("DELETE FROM tombstones WHERE id = $1", m.ID); err != nil {
		return fmt.Errorf("restore memory %s: %w", m.ID, err)
	}
	return nil
}

// Purge erases id for good: see store.Tx. PostgreSQL keeps dead tuples
// until VACUUM reclaims them; the erased content is unreachable by any
// query at once.
func (t *tx) Purge(id string) (store.Erasure, error) {
	e := store.Erasure{ID: id, At: t.now, By: t.acc.Who()}
	if !t.acc.All() {
		return e, &memory.ScopeDeniedError{Scope: "*"}
	}
	if unstorable(id) {
		return e, &memory.NotFoundError{ID: id}
	}
	if err := t.lockRowFact(id); err != nil {
		return e, err
	}
	var rid int64
	err := t.queryRow("SELECT rid FROM memories WHERE id = $1 FOR UPDATE", id).Scan(&rid)
	switch {
	case err == nil:
		e.HadRow = true
		if err := t.unindexRow(rid); err != nil {
			return e, fmt.Errorf("purge memory %s: %w", id, err)
		}
		// Both vector slots go with the row.
		if _, err := t.exec("DELETE FROM memories WHERE rid = $1", rid); err != nil {
			return e, fmt.Errorf("purge memory %s: %w", id, err)
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	if _, err := t.exec("DELETE FROM tier_transitions WHERE memory_id = $1", id); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	tag, err := t.exec("DELETE FROM history WHERE id = $1", id)
	if err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	e.Versions = int(tag.RowsAffected())
	if !e.HadRow && e.Versions == 0 {
		return e, &memory.NotFoundError{ID: id}
	}
	if _, err := t.exec("DELETE FROM tombstones WHERE id = $1", id); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	if _, err := t.exec("INSERT INTO erasures(id, erased_at, erased_by, versions, had_row) VALUES ($1, $2, $3, $4, $5)",
		id, e.At, e.By, e.Versions, e.HadRow); err != nil {
		return e, fmt.Errorf("purge memory %s: %w", id, err)
	}
	// No tombstone is left to tell a change-feed reader the row is gone,
	// so every reader behind this write reloads (the tombstone horizon
	// moves to this write's seq).
	if !t.purged {
		t.purged = true
		t.atSeq = append(t.atSeq, func(seq int64) error {
			if _, err := t.exec(`INSERT INTO meta(key, value) VALUES ('tombstone_horizon', $1)
				ON CONFLICT (key) DO UPDATE SET value = greatest(meta.value::bigint, excluded.value::bigint)::text`, fmt.Sprint(seq)); err != nil {
				return fmt.Errorf("purge: record tombstone horizon: %w", err)
			}
			return nil
		})
	}
	return e, nil
}

// historyPruneBatch bounds one pruning write.
const historyPruneBatch = 500

// PruneHistory deletes versions beyond keep per memory or replaced before
// olderThan (unix ms), at most batch a write (default historyPruneBatch).
// Which versions go is read first; each write then deletes one batch of
// them by key. Versions added meanwhile are newer and kept; it may be
// stopped and re-run at any point.
func (s *Store) PruneHistory(ctx context.Context, keep int, olderThan int64, batch int) (int, error) {
	if batch <= 0 {
		batch = historyPruneBatch
	}
	rows, err := s.pool.Query(ctx, `SELECT hid FROM history WHERE $1::bigint > 0 AND replaced_at < $1::bigint
		UNION
		SELECT hid FROM (SELECT hid, row_number() OVER (PARTITION BY id ORDER BY hid DESC) AS k FROM history) AS r WHERE $2::bigint > 0 AND k > $2::bigint
		ORDER BY 1`, olderThan, keep)
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	hids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	total := 0
	for len(hids) > 0 {
		part := hids[:min(batch, len(hids))]
		hids = hids[len(part):]
		var n int64
		err := s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
			tag, err := stx.(*tx).exec("DELETE FROM history WHERE hid = ANY($1::bigint[])", part)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune history: %w", err)
		}
		total += int(n)
	}
	return total, nil
}
