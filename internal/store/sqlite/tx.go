package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// tx implements store.Tx on the writer's transaction.
type tx struct {
	s     *Store
	tx    *sql.Tx
	ctx   context.Context
	acc   memory.Access
	now   int64
	seq   int64
	space *store.Space // read lazily once per transaction
	// The active vector slot (meta embed_slot, see reembed.go), read
	// lazily once per transaction; slotRead says it was.
	slot     int
	slotRead bool
	stmts    map[string]*sql.Stmt

	// Rows whose FTS entry must be (re)built or dropped before the caller's
	// function ends: see syncFTS.
	ftsAdd, ftsDrop []int64
	// purged: the transaction erased a memory (Purge), so its commit
	// removes the vector index file (Store.removeIndexFile).
	purged bool
	// What the caller's function changed in each scope's text statistics,
	// applied with the FTS index: see syncStats.
	stats textStats
	// meta.text_stats_rid: read with the schema version when the
	// transaction begins, raised by BuildTextStats.
	statMark int64
	// The text index: its version (meta.fts_version), and while the next
	// version is built beside it (memories_fts_next), the highest rid
	// built so far (meta.fts_next_rid, -1 when none is being built).
	// Read with the schema version, changed by BuildTextIndex.
	ftsVer   int
	nextMark int64
}

// prep returns the statement for query bound to this transaction. The
// fixed statements are prepared once per store (parsing SQL per row would
// cost as much as the insert itself); others once per transaction.
func (t *tx) prep(query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if ps, ok := t.s.prepared[query]; ok {
		st = t.tx.StmtContext(t.ctx, ps)
	} else {
		var err error
		if st, err = t.tx.PrepareContext(t.ctx, query); err != nil {
			return nil, err
		}
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.prep(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// queryRow runs a one-row query; errors surface from Scan.
func (t *tx) queryRow(query string, args ...any) rowScanner {
	st, err := t.prep(query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(t.ctx, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

var _ store.Tx = (*tx)(nil)

// The statements every write uses, prepared once when the store opens.
const (
	// Both write the validity columns from the metadata they write
	// (validityArgs, facts.go) and smart_category from the row they
	// write (memory.SmartCategoryOf: its format, category, text and
	// metadata), so no write leaves either behind what the row says.
	// They are templates over the vector slots: {vec} is the active
	// slot's column, {other} the other's (see slotStatements); an update
	// that changes the text empties the other slot (a target or kept
	// vector of the old text).
	sqlInsert = `INSERT INTO memories
		(id, text, category, scope, importance, created_at, updated_at, revision, format, metadata, {vec}, seq,
		fact_key, valid_from, valid_until, invalidated_at, archived_at, smart_category)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, x''), ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`
	sqlUpdate = `UPDATE memories SET
		text = ?, category = ?, scope = ?, importance = ?, updated_at = ?, revision = revision + 1,
		format = ?, metadata = ?, {vec} = nullif(coalesce(?, {vec}), x''), {other} = CASE WHEN text = ? THEN {other} END, seq = ?,
		fact_key = ?, valid_from = ?, valid_until = ?, invalidated_at = ?, archived_at = ?, smart_category = ?
		WHERE id = ? AND revision = ?`
	sqlCurrent = `SELECT rid, scope, revision, json_extract(metadata, '$.access_count'), json_extract(metadata, '$.last_accessed_at'),
		json_extract(metadata, '$.injected_count'), json_extract(metadata, '$.last_injected_at'), json_extract(metadata, '$.last_confirmed_use_at'),
		` + tierExpr + ` FROM memories WHERE id = ?`
	sqlFTSDrop = "DELETE FROM memories_fts WHERE rowid IN (SELECT value FROM json_each(?))"
	sqlFTSAdd  = `INSERT INTO memories_fts(rowid, text, l0, l1, l2) SELECT rid, ` + ftsPlainCols + `
		FROM memories WHERE rid IN (SELECT value FROM json_each(?))`
	// The stemmed index (version 2), as the index or as the next one.
	sqlFTSAdd2 = `INSERT INTO memories_fts(rowid, text, l0, l1, l2) SELECT rid, ` + ftsStemCols + `
		FROM memories WHERE rid IN (SELECT value FROM json_each(?))`
	sqlNextDrop = "DELETE FROM memories_fts_next WHERE rowid IN (SELECT value FROM json_each(?1)) AND rowid <= ?2"
	sqlNextAdd  = `INSERT INTO memories_fts_next(rowid, text, l0, l1, l2) SELECT rid, ` + ftsStemCols + `
		FROM memories WHERE rid IN (SELECT value FROM json_each(?1)) AND +rid <= ?2`
	sqlDelete = "DELETE FROM memories WHERE id = ?"
	// A value of the wrong type in access_count counts as 0 rather than
	// failing the recall that is being recorded. Only the recall counters
	// change, so smart_category (which reads type and memory_category)
	// stays right.
	sqlTouch = `UPDATE memories SET metadata = json_set(metadata,
		'$.access_count', coalesce(CAST(json_extract(metadata, '$.access_count') AS INTEGER), 0) + ?,
		'$.last_accessed_at', max(coalesce(CAST(json_extract(metadata, '$.last_accessed_at') AS INTEGER), 0), ?))
		WHERE rid = ?`
	sqlTombstone = `INSERT INTO tombstones(id, seq, deleted_at) VALUES (?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, deleted_at = excluded.deleted_at`
	sqlGetAll = "SELECT " + cols + " FROM memories WHERE id = ? AND 1=1" // tx.Get as the owner
)

// prepareWrites prepares the fixed write statements on the writer connection.
// The writer's temporary tables are created first: statements using them
// are among these.
func (s *Store) prepareWrites(ctx context.Context) error {
	for _, q := range statTemp {
		if _, err := s.wdb.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create temporary tables: %w", err)
		}
	}
	for _, q := range append([]string{sqlInsertSlot[0], sqlInsertSlot[1], sqlUpdateSlot[0], sqlUpdateSlot[1], sqlCurrent, sqlDelete, sqlTombstone, sqlGetAll, sqlFTSDrop, sqlFTSAdd, sqlFTSAdd2, sqlTouch, sqlKeepVersion, sqlAppend, sqlFactRows}, statStatements...) {
		st, err := s.wdb.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare write statements: %w", err)
		}
		s.prepared[q] = st
	}
	return nil
}

func (t *tx) Get(id string) (memory.Memory, error) {
	// No vector: nothing under the lock needs it (Update keeps the stored
	// one when m.Vector is nil), and decoding it would lengthen the hold.
	where, args := scopeClause(t.acc, nil)
	row := t.queryRow("SELECT "+cols+" FROM memories WHERE id = ? AND "+where, append([]any{id}, args...)...)
	m, err := scanMemory(row, false)
	if errors.Is(err, sql.ErrNoRows) {
		return m, &memory.NotFoundError{ID: id}
	}
	return m, err
}

func (t *tx) Insert(m *memory.Memory) error {
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.Scope == "" {
		m.Scope = memory.GlobalScope
	}
	if m.Category == "" {
		m.Category = memory.CategoryOther
	}
	if err := m.ValidateFields(); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	if !t.acc.Allows(m.Scope) {
		return &memory.ScopeDeniedError{Scope: m.Scope}
	}
	if err := t.checkVector(m.Vector); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	if m.CreatedAt == 0 {
		m.CreatedAt = t.now
	}
	if m.UpdatedAt == 0 {
		m.UpdatedAt = m.CreatedAt
	}
	if m.Revision <= 0 {
		m.Revision = 1
	}
	if m.Metadata == nil {
		m.Metadata = map[string]any{}
	}
	md, err := rowcodec.EncodeMetadata(m.Metadata)
	if err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	slot, err := t.vecSlot()
	if err != nil {
		return fmt.Errorf("insert memory %s: %w", m.ID, err)
	}
	key, from, until, inv, arch := validityArgs(m.Metadata)
	res, err := t.exec(sqlInsertSlot[slot],
		m.ID, m.Text, string(m.Category), string(m.Scope), m.Importance, m.CreatedAt, m.UpdatedAt,
		m.Revision, int(m.Format), md, rowcodec.EncodeVector(m.Vector), t.seq, key, from, until, inv, arch, string(memory.SmartCategoryOf(*m)))
	if err != nil {
		return fmt.Errorf("insert memory %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("memory %s: %w", m.ID, memory.ErrExists)
	}
	rid, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert memory %s: %w", m.ID, err)
	}
	t.ftsAdd = append(t.ftsAdd, rid)
	t.statInserted(m, rid)
	return nil
}

// head is what writes check and keep of a row before changing it: its
// rowid, scope and revision, and its recall counters (see keepUsage).
type head struct {
	rid           int64
	scope         memory.Scope
	rev           int64
	count, access any    // metadata access_count and last_accessed_at as stored
	tier          string // as tierExpr reads it (see keepTier)
	// Auto-recall bookkeeping that only grows (Bump): injected_count,
	// last_injected_at, last_confirmed_use_at as stored.
	injected, injectedAt, confirmedAt any
}

// current reads the head of a row the caller may reach.
func (t *tx) current(id string) (head, error) {
	var h head
	var sc string
	err := t.queryRow(sqlCurrent, id).Scan(&h.rid, &sc, &h.rev, &h.count, &h.access, &h.injected, &h.injectedAt, &h.confirmedAt, &h.tier)
	h.scope = memory.Scope(sc)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !t.acc.Allows(h.scope) {
		// A row outside the caller's scopes is reported as missing, so its
		// existence does not leak.
		return head{}, &memory.NotFoundError{ID: id}
	}
	if err != nil {
		return head{}, fmt.Errorf("read memory %s: %w", id, err)
	}
	return h, nil
}

func (t *tx) Update(m *memory.Memory) error {
	if err := m.ValidateFields(); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	h, err := t.current(m.ID)
	if err != nil {
		return err
	}
	rid, rev := h.rid, h.rev
	if !t.acc.Allows(m.Scope) {
		return &memory.ScopeDeniedError{Scope: m.Scope}
	}
	if rev != m.Revision {
		return &memory.ConflictError{ID: m.ID, Expected: m.Revision, Actual: rev}
	}
	if err := t.checkVector(m.Vector); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	keepUsage(h, m)
	if err := t.keepTier(h, m); err != nil {
		return err
	}
	md, err := rowcodec.EncodeMetadata(m.Metadata)
	if err != nil {
		return err
	}
	updated := max(t.now, m.UpdatedAt+1) // updated_at never goes backwards
	if err := t.statGone(rid); err != nil {
		return err
	}
	if err := t.keepVersion(rid, store.ChangeUpdate); err != nil {
		return fmt.Errorf("update memory %s: %w", m.ID, err)
	}
	slot, err := t.vecSlot()
	if err != nil {
		return fmt.Errorf("update memory %s: %w", m.ID, err)
	}
	key, from, until, inv, arch := validityArgs(m.Metadata)
	res, err := t.exec(sqlUpdateSlot[slot],
		m.Text, string(m.Category), string(m.Scope), m.Importance, updated,
		int(m.Format), md, rowcodec.EncodeVector(m.Vector), m.Text, t.seq, key, from, until, inv, arch, string(memory.SmartCategoryOf(*m)), m.ID, rev)
	if err != nil {
		return fmt.Errorf("update memory %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("update memory %s: %d rows changed, expected 1", m.ID, n)
	}
	m.Revision = rev + 1
	m.UpdatedAt = updated
	t.ftsDrop = append(t.ftsDrop, rid)
	t.ftsAdd = append(t.ftsAdd, rid)
	t.statAdded(rid)
	return nil
}

func (t *tx) Delete(id string, expectedRevision int64) error {
	h, err := t.current(id)
	if err != nil {
		return err
	}
	if expectedRevision != 0 && h.rev != expectedRevision {
		return &memory.ConflictError{ID: id, Expected: expectedRevision, Actual: h.rev}
	}
	if err := t.statGone(h.rid); err != nil {
		return err
	}
	if err := t.keepVersion(h.rid, store.ChangeDelete); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	if _, err := t.exec(sqlDelete, id); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	if _, err := t.exec(sqlTombstone, id, t.seq, t.now); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	t.ftsDrop = append(t.ftsDrop, h.rid)
	return nil
}

// keepUsage carries the stored recall counters (read with the row's head,
// so no extra statement runs under the lock) into m when they are ahead
// of m's: Touch does not bump the revision, so m may have been read
// before recalls were recorded, and writing it must not undo them. The
// same holds for the auto-recall counters Bump only grows (injected_count,
// last_injected_at, last_confirmed_use_at); those it can lower or clear
// (bad_recall_count, suppressed_until_ms, importance) are the writer's. Only a
// value that reads as a count or a time (memory.MetaNumber, MetaMillis)
// is compared; a given value that does not is left as the caller set it.
func keepUsage(h head, m *memory.Memory) {
	stored := map[string]any{memory.KeyAccessCount: h.count, memory.KeyLastAccessedAt: h.access,
		memory.KeyInjectedCount: h.injected, memory.KeyLastInjectedAt: h.injectedAt, memory.KeyLastConfirmedUseAt: h.confirmedAt}
	cloned := false
	for _, f := range []struct {
		key  string
		read func(map[string]any, string) (float64, bool)
	}{{memory.KeyAccessCount, memory.MetaNumber}, {memory.KeyLastAccessedAt, memory.MetaMillis},
		{memory.KeyInjectedCount, memory.MetaNumber}, {memory.KeyLastInjectedAt, memory.MetaMillis}, {memory.KeyLastConfirmedUseAt, memory.MetaMillis}} {
		was, ok := f.read(stored, f.key)
		if !ok {
			continue
		}
		if _, present := m.Metadata[f.key]; present {
			if given, ok := f.read(m.Metadata, f.key); !ok || given >= was {
				continue
			}
		}
		if !cloned {
			m.Metadata, cloned = memory.CloneMetadata(m.Metadata), true
		}
		m.Metadata[f.key] = stored[f.key]
	}
}

func (t *tx) Touch(id string, n int, at int64) error {
	if n <= 0 {
		return memory.Invalidf("touch %s: count %d is not positive", id, n)
	}
	h, err := t.current(id)
	if err != nil {
		return err
	}
	if _, err := t.exec(sqlTouch, n, at, h.rid); err != nil {
		return fmt.Errorf("record recall of memory %s: %w", id, err)
	}
	return nil
}

// syncFTS brings the FTS index in step with the rows this caller changed,
// in the same transaction. It runs once per Write function rather than per
// row: every statement that opens a statement journal makes FTS5 flush its
// pending index to disk, so per-row index statements cost more than the
// rows themselves (import went from 16k to over 30k rows/s). The
// per-scope text statistics follow in the same step (syncStats).
func (t *tx) syncFTS() error {
	// The statistics first: their multi-row statements open statement
	// journals, and each makes FTS5 flush what it holds pending, so run
	// after the index statements they would add a flush per write.
	if err := t.syncStats(); err != nil {
		return err
	}
	if len(t.ftsDrop) > 0 {
		if _, err := t.exec(sqlFTSDrop, jsonInts(t.ftsDrop)); err != nil {
			return fmt.Errorf("update search index: %w", err)
		}
	}
	add := sqlFTSAdd
	if t.ftsVer >= ftsStemmed {
		add = sqlFTSAdd2
	}
	if len(t.ftsAdd) > 0 {
		if _, err := t.exec(add, jsonInts(dedupe(t.ftsAdd))); err != nil {
			return fmt.Errorf("update search index: %w", err)
		}
	}
	// While the next index is built, the rows it holds already follow
	// every write; rows above its mark are built from what they hold then.
	if t.nextMark >= 0 {
		if len(t.ftsDrop) > 0 {
			if _, err := t.exec(sqlNextDrop, jsonInts(t.ftsDrop), t.nextMark); err != nil {
				return fmt.Errorf("update next search index: %w", err)
			}
		}
		if len(t.ftsAdd) > 0 {
			if _, err := t.exec(sqlNextAdd, jsonInts(dedupe(t.ftsAdd)), t.nextMark); err != nil {
				return fmt.Errorf("update next search index: %w", err)
			}
		}
	}
	t.ftsAdd, t.ftsDrop = t.ftsAdd[:0], t.ftsDrop[:0]
	return nil
}

func jsonInts(xs []int64) string {
	b := make([]byte, 0, 8*len(xs)+2)
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, x, 10)
	}
	return string(append(b, ']'))
}

// dedupe drops repeated rowids (a row updated twice in one function), keeping order.
func dedupe(xs []int64) []int64 {
	seen := make(map[int64]struct{}, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if _, ok := seen[x]; !ok {
			seen[x] = struct{}{}
			out = append(out, x)
		}
	}
	return out
}

// checkVector enforces the store's embedding space, recording it on the
// first vector written.
func (t *tx) checkVector(v []float32) error {
	if rowcodec.ZeroVector(v) { // none, or one that is stored as none
		return nil
	}
	if t.space == nil {
		sp, err := readSpace(t.ctx, t.tx)
		if err != nil {
			return err
		}
		t.space = &sp
	}
	want := t.s.opts.Space
	if t.space.Dimensions == 0 {
		model := want.Model
		if want.Dimensions != 0 && want.Dimensions != len(v) {
			return fmt.Errorf("%w: vector has %d dimensions, but the embedder %s is configured for %d",
				memory.ErrDimensions, len(v), model, want.Dimensions)
		}
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO meta(key, value) VALUES ('embed_model', ?), ('embed_dims', ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, model, len(v)); err != nil {
			return fmt.Errorf("record embedding space: %w", err)
		}
		t.space.Model, t.space.Dimensions = model, len(v)
		return nil
	}
	if len(v) != t.space.Dimensions {
		return fmt.Errorf("%w: vector has %d dimensions, the store uses %d (model %s): embed with that model, or export without vectors and import into a new store",
			memory.ErrDimensions, len(v), t.space.Dimensions, t.space.Model)
	}
	if want.Model != "" && t.space.Model != "" && want.Model != t.space.Model {
		return fmt.Errorf("%w: this trove embeds with model %s, but the store's vectors come from %s: set TROVE_EMBED_MODEL=%s (and its provider), or use another store",
			memory.ErrDimensions, want.Model, t.space.Model, t.space.Model)
	}
	return nil
}
