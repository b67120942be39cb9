package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
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
}

var _ store.Tx = (*tx)(nil)

func (t *tx) Get(id string) (memory.Memory, error) {
	where, args := scopeClause(t.acc, nil)
	row := t.tx.QueryRowContext(t.ctx, "SELECT "+colsVec+" FROM memories WHERE id = ? AND "+where, append([]any{id}, args...)...)
	m, err := scanMemory(row, true)
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
	if err := m.Validate(); err != nil {
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
	md, err := encodeMetadata(m.Metadata)
	if err != nil {
		return err
	}
	res, err := t.tx.ExecContext(t.ctx, `INSERT INTO memories
		(id, text, category, scope, importance, created_at, updated_at, revision, format, metadata, vector, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		m.ID, m.Text, string(m.Category), string(m.Scope), m.Importance, m.CreatedAt, m.UpdatedAt,
		m.Revision, int(m.Format), md, encodeVector(m.Vector), t.seq)
	if err != nil {
		return fmt.Errorf("insert memory %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("memory %s: %w", m.ID, memory.ErrExists)
	}
	return nil
}

// current reads the scope and revision of a row the caller may reach.
func (t *tx) current(id string) (memory.Scope, int64, error) {
	var scope string
	var rev int64
	err := t.tx.QueryRowContext(t.ctx, "SELECT scope, revision FROM memories WHERE id = ?", id).Scan(&scope, &rev)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !t.acc.Allows(memory.Scope(scope)) {
		// A row outside the caller's scopes is reported as missing, so its
		// existence does not leak.
		return "", 0, &memory.NotFoundError{ID: id}
	}
	if err != nil {
		return "", 0, fmt.Errorf("read memory %s: %w", id, err)
	}
	return memory.Scope(scope), rev, nil
}

func (t *tx) Update(m *memory.Memory) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	_, rev, err := t.current(m.ID)
	if err != nil {
		return err
	}
	if !t.acc.Allows(m.Scope) {
		return &memory.ScopeDeniedError{Scope: m.Scope}
	}
	if rev != m.Revision {
		return &memory.ConflictError{ID: m.ID, Expected: m.Revision, Actual: rev}
	}
	if err := t.checkVector(m.Vector); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	md, err := encodeMetadata(m.Metadata)
	if err != nil {
		return err
	}
	updated := max(t.now, m.UpdatedAt+1) // updated_at never goes backwards
	res, err := t.tx.ExecContext(t.ctx, `UPDATE memories SET
		text = ?, category = ?, scope = ?, importance = ?, updated_at = ?, revision = revision + 1,
		format = ?, metadata = ?, vector = coalesce(?, vector), seq = ?
		WHERE id = ? AND revision = ?`,
		m.Text, string(m.Category), string(m.Scope), m.Importance, updated,
		int(m.Format), md, encodeVector(m.Vector), t.seq, m.ID, rev)
	if err != nil {
		return fmt.Errorf("update memory %s: %w", m.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("update memory %s: %d rows changed, expected 1", m.ID, n)
	}
	m.Revision = rev + 1
	m.UpdatedAt = updated
	return nil
}

func (t *tx) Delete(id string, expectedRevision int64) error {
	_, rev, err := t.current(id)
	if err != nil {
		return err
	}
	if expectedRevision != 0 && rev != expectedRevision {
		return &memory.ConflictError{ID: id, Expected: expectedRevision, Actual: rev}
	}
	if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM memories WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO tombstones(id, seq) VALUES (?, ?)
		ON CONFLICT(id) DO UPDATE SET seq = excluded.seq`, id, t.seq); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	return nil
}

// checkVector enforces the store's embedding space, recording it on the
// first vector written.
func (t *tx) checkVector(v []float32) error {
	if v == nil {
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
