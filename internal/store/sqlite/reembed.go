package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The store's side of moving to another embedder (internal/reembed drives
// it; DESIGN.md there). Target vectors are written to reembed_vectors with
// the seq of the row version whose text they embed; the switch copies the
// current ones into memories.vector in one transaction, and leaves the
// rest without a vector (pending) rather than with a vector of another
// model. Nothing here calls a provider: the caller embeds before each
// write.

// meta keys of the embedding identity (embed_model and embed_dims date
// from schema 1).
const (
	keyModel        = "embed_model"
	keyDims         = "embed_dims"
	keyProbe        = "embed_probe"
	keyPrevModel    = "embed_previous_model"
	keyPrevDims     = "embed_previous_dims"
	keyPrevProbe    = "embed_previous_probe"
	keyTargetModel  = "reembed_target_model"
	keyTargetDims   = "reembed_target_dims"
	keyOldKept      = "reembed_old_kept"
	identityKeysSQL = `SELECT key, value FROM meta WHERE key IN ('embed_model', 'embed_dims', 'embed_probe',
		'embed_previous_model', 'embed_previous_dims',
		'reembed_target_model', 'reembed_target_dims', 'reembed_old_kept')`
)

type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readIdentity(ctx context.Context, q rowsQueryer) (store.Identity, error) {
	var id store.Identity
	rows, err := q.QueryContext(ctx, identityKeysSQL)
	if err != nil {
		return id, fmt.Errorf("read embedding identity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v any
		if err := rows.Scan(&k, &v); err != nil {
			return id, fmt.Errorf("read embedding identity: %w", err)
		}
		var n int
		var s string
		_ = nullInt{&n}.Scan(v)
		_ = nullString{&s}.Scan(v)
		switch k {
		case keyModel:
			id.Model = s
		case keyDims:
			id.Dimensions = n
		case keyProbe:
			id.Probe, _ = decodeVector([]byte(s))
		case keyPrevModel:
			id.Previous.Model = s
		case keyPrevDims:
			id.Previous.Dimensions = n
		case keyTargetModel:
			id.Target.Model = s
		case keyTargetDims:
			id.Target.Dimensions = n
		case keyOldKept:
			id.OldKept = n == 1
		}
	}
	return id, rows.Err()
}

// Identity returns the store's recorded embedding identity.
func (s *Store) Identity(ctx context.Context) (store.Identity, error) {
	return readIdentity(ctx, s.rdb)
}

// ownerTx runs fn on this store's transaction type, as the owner.
func (s *Store) ownerTx(ctx context.Context, fn func(t *tx) error) (holdMS float64, err error) {
	err = s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
		start := time.Now()
		t := stx.(*tx)
		// Other writes in this group read the identity afresh: fn may change it.
		defer func() { t.space, holdMS = nil, float64(time.Since(start).Microseconds())/1000 }()
		return fn(t)
	})
	return holdMS, err
}

func (t *tx) setMeta(kv ...any) error {
	for i := 0; i < len(kv); i += 2 {
		var err error
		if kv[i+1] == nil {
			_, err = t.exec("DELETE FROM meta WHERE key = ?", kv[i])
		} else {
			_, err = t.exec(`INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, kv[i], kv[i+1])
		}
		if err != nil {
			return fmt.Errorf("record embedding identity: %w", err)
		}
	}
	return nil
}

// RecordProbe records the probe vector of the store's model, if the
// store's model is sp's and it has none yet (stores from before schema 3,
// or whose first vector was written without one).
func (s *Store) RecordProbe(ctx context.Context, sp store.Space, probe []float32) error {
	_, err := s.ownerTx(ctx, func(t *tx) error {
		id, err := readIdentity(t.ctx, t.tx)
		if err != nil || id.Model != sp.Model || id.Probe != nil || len(probe) != id.Dimensions {
			return err
		}
		return t.setMeta(keyProbe, encodeVector(probe))
	})
	return err
}

// BeginReembed records target as the model a reembed moves to. A reembed
// to the same target continues (resumed); one to another starts afresh.
func (s *Store) BeginReembed(ctx context.Context, target store.Space) (resumed bool, err error) {
	_, err = s.ownerTx(ctx, func(t *tx) error {
		id, err := readIdentity(t.ctx, t.tx)
		if err != nil {
			return err
		}
		if id.Target == target {
			resumed = true
			return nil
		}
		if _, err := t.exec("DELETE FROM reembed_vectors"); err != nil {
			return fmt.Errorf("clear an earlier reembed: %w", err)
		}
		return t.setMeta(keyTargetModel, target.Model, keyTargetDims, target.Dimensions)
	})
	return resumed, err
}

// ReembedTodo returns up to limit rows after afterRID (in rid order) that
// have no current target vector: none yet, or one of an older version.
func (s *Store) ReembedTodo(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error) {
	return s.embedRows(ctx, `SELECT m.rid, m.id, m.seq, m.text FROM memories m
		LEFT JOIN reembed_vectors r ON r.rid = m.rid
		WHERE m.rid > ? AND (r.rid IS NULL OR r.seq < m.seq) ORDER BY m.rid LIMIT ?`, afterRID, limit)
}

// PendingRows returns up to limit rows after afterRID without a vector.
func (s *Store) PendingRows(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error) {
	return s.embedRows(ctx, `SELECT rid, id, seq, text FROM memories INDEXED BY memories_novec
		WHERE vector IS NULL AND rid > ? ORDER BY rid LIMIT ?`, afterRID, limit)
}

func (s *Store) embedRows(ctx context.Context, q string, args ...any) ([]store.EmbedRow, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read rows to embed: %w", err)
	}
	defer rows.Close()
	var out []store.EmbedRow
	for rows.Next() {
		var r store.EmbedRow
		if err := rows.Scan(&r.RID, &r.ID, &r.Seq, &r.Text); err != nil {
			return nil, fmt.Errorf("read rows to embed: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// errTargetMoved is a reembed's write after another reembed took over.
var errTargetMoved = errors.New("another trove reembed changed the target model meanwhile")

// PutShadow writes target vectors of rows whose text is still the one
// embedded, recording the row's seq as it is now. It returns how many it
// wrote; the others changed their text (or are gone) and are still to do.
func (s *Store) PutShadow(ctx context.Context, target store.Space, rows []store.EmbedRow) (int, error) {
	var n int
	_, err := s.ownerTx(ctx, func(t *tx) error {
		var err error
		n, err = t.putShadow(target, rows)
		return err
	})
	return n, err
}

func (t *tx) putShadow(target store.Space, rows []store.EmbedRow) (int, error) {
	id, err := readIdentity(t.ctx, t.tx)
	if err != nil {
		return 0, err
	}
	if id.Target != target {
		return 0, fmt.Errorf("%w (now %q)", errTargetMoved, id.Target.Model)
	}
	n := 0
	for _, r := range rows {
		if len(r.Vector) != target.Dimensions {
			return n, fmt.Errorf("%w: vector of %s has %d dimensions, the target %s has %d",
				memory.ErrDimensions, r.ID, len(r.Vector), target.Model, target.Dimensions)
		}
		res, err := t.exec(`INSERT INTO reembed_vectors(rid, seq, vector)
			SELECT rid, seq, ? FROM memories WHERE rid = ? AND text = ?
			ON CONFLICT(rid) DO UPDATE SET seq = excluded.seq, vector = excluded.vector`,
			encodeVector(r.Vector), r.RID, r.Text)
		if err != nil {
			return n, fmt.Errorf("write target vector of %s: %w", r.ID, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// SwitchEmbedding ends a reembed in one transaction: it writes the last
// target vectors (final), gives every row whose target vector is current
// that vector, leaves every other row without one (pending: a row written
// in the last moment), and records target (with its probe) as the store's
// identity and the old model as the previous one. keepOld keeps the old
// vectors for RollbackEmbedding. Revisions, updated_at and metadata are
// untouched, and so is the seq of each row that got its new vector.
func (s *Store) SwitchEmbedding(ctx context.Context, target store.Space, probe []float32, final []store.EmbedRow, keepOld bool) (store.SwitchResult, error) {
	var res store.SwitchResult
	hold, err := s.ownerTx(ctx, func(t *tx) error {
		if _, err := t.putShadow(target, final); err != nil {
			return err
		}
		id, err := readIdentity(t.ctx, t.tx)
		if err != nil {
			return err
		}
		var oldProbe any
		if err := t.tx.QueryRowContext(t.ctx, "SELECT value FROM meta WHERE key = ?", keyProbe).Scan(&oldProbe); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := t.exec("DELETE FROM reembed_old"); err != nil {
			return err
		}
		if keepOld {
			r, err := t.exec("INSERT INTO reembed_old(rid, seq, vector) SELECT rid, seq, vector FROM memories WHERE vector IS NOT NULL")
			if err != nil {
				return fmt.Errorf("keep the old vectors: %w", err)
			}
			k, _ := r.RowsAffected()
			res.KeptOld = int(k)
		}
		if res.Queued, res.Switched, err = t.takeVectors("reembed_vectors"); err != nil {
			return fmt.Errorf("switch vectors: %w", err)
		}
		if _, err := t.exec("DELETE FROM reembed_vectors"); err != nil {
			return err
		}
		var kept any
		if keepOld {
			kept = 1
		}
		return t.setMeta(keyPrevModel, id.Model, keyPrevDims, id.Dimensions, keyPrevProbe, oldProbe,
			keyModel, target.Model, keyDims, target.Dimensions, keyProbe, encodeVector(probe),
			keyTargetModel, nil, keyTargetDims, nil, keyOldKept, kept)
	})
	res.HoldMS = hold
	return res, err
}

// takeVectors gives every row the vector table (reembed_vectors or
// reembed_old: a name from this file, never input) holds for it at its
// current seq. Rows changed since that vector was written lose their
// vector (pending: embedded again later) with a new seq, so indexes drop
// it; the others keep their seq: moving all of them would rewrite the seq
// index under the lock, and no process holds an index of the model it
// leaves (see DESIGN.md).
func (t *tx) takeVectors(table string) (queued, switched int, err error) {
	r, err := t.exec(`UPDATE memories SET vector = NULL, seq = ? WHERE NOT EXISTS
		(SELECT 1 FROM `+table+` v WHERE v.rid = memories.rid AND v.seq = memories.seq)`, t.seq)
	if err != nil {
		return 0, 0, err
	}
	q, _ := r.RowsAffected()
	if r, err = t.exec(`UPDATE memories SET vector = v.vector
		FROM ` + table + ` v WHERE v.rid = memories.rid AND v.seq = memories.seq`); err != nil {
		return 0, 0, err
	}
	s, _ := r.RowsAffected()
	return int(q), int(s), nil
}

// RollbackEmbedding undoes the last switch made with keepOld: rows give
// back their old vector (rows written since the switch have none that
// matches their text and are left pending) and the previous model is the
// store's again.
func (s *Store) RollbackEmbedding(ctx context.Context) (store.SwitchResult, error) {
	var res store.SwitchResult
	hold, err := s.ownerTx(ctx, func(t *tx) error {
		id, err := readIdentity(t.ctx, t.tx)
		if err != nil {
			return err
		}
		if !id.OldKept || id.Previous.Model == "" {
			return memory.Invalidf("nothing to roll back: the last trove reembed did not keep the old vectors (--keep-old)")
		}
		var prevProbe, probe any
		_ = t.tx.QueryRowContext(t.ctx, "SELECT value FROM meta WHERE key = ?", keyPrevProbe).Scan(&prevProbe)
		_ = t.tx.QueryRowContext(t.ctx, "SELECT value FROM meta WHERE key = ?", keyProbe).Scan(&probe)
		if res.Queued, res.Switched, err = t.takeVectors("reembed_old"); err != nil {
			return fmt.Errorf("restore the old vectors: %w", err)
		}
		if _, err := t.exec("DELETE FROM reembed_old"); err != nil {
			return err
		}
		if _, err := t.exec("DELETE FROM reembed_vectors"); err != nil {
			return err
		}
		return t.setMeta(keyModel, id.Previous.Model, keyDims, id.Previous.Dimensions, keyProbe, prevProbe,
			keyPrevModel, id.Model, keyPrevDims, id.Dimensions, keyPrevProbe, probe,
			keyTargetModel, nil, keyTargetDims, nil, keyOldKept, nil)
	})
	res.HoldMS = hold
	return res, err
}

// PutVectors gives rows without a vector one of the store's model sp,
// if the row still has no vector and the same text. It returns how many
// it wrote. Revision, updated_at and metadata are untouched.
func (s *Store) PutVectors(ctx context.Context, sp store.Space, rows []store.EmbedRow) (int, error) {
	var n int
	_, err := s.ownerTx(ctx, func(t *tx) error {
		id, err := readIdentity(t.ctx, t.tx)
		if err != nil {
			return err
		}
		if id.Model != sp.Model {
			return fmt.Errorf("%w: the store's model is now %s, not %s", memory.ErrDimensions, id.Model, sp.Model)
		}
		for _, r := range rows {
			if len(r.Vector) != id.Dimensions {
				return fmt.Errorf("%w: vector of %s has %d dimensions, the store uses %d (model %s)",
					memory.ErrDimensions, r.ID, len(r.Vector), id.Dimensions, id.Model)
			}
			res, err := t.exec("UPDATE memories SET vector = nullif(?, x''), seq = ? WHERE rid = ? AND vector IS NULL AND text = ?",
				encodeVector(r.Vector), t.seq, r.RID, r.Text)
			if err != nil {
				return fmt.Errorf("write vector of %s: %w", r.ID, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// ReembedCounts counts rows, rows with a current target vector, and rows
// without a vector.
func (s *Store) ReembedCounts(ctx context.Context) (store.ReembedCounts, error) {
	var c store.ReembedCounts
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM memories),
		(SELECT count(*) FROM reembed_vectors r JOIN memories m ON m.rid = r.rid AND m.seq = r.seq),
		(SELECT count(*) FROM memories INDEXED BY memories_novec WHERE vector IS NULL)`).Scan(&c.Rows, &c.Shadowed, &c.Pending)
	if err != nil {
		return c, fmt.Errorf("count rows to embed: %w", err)
	}
	return c, nil
}
