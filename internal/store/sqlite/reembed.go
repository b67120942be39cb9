package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// The store's side of moving to another embedder (internal/reembed drives
// it; DESIGN.md there). A row has two vector slots, the columns vector
// (slot 0) and vector_b (slot 1); meta embed_slot names the active one,
// whose vectors are the store's model's and the only ones any read sees.
// A reembed writes the target vectors into the other slot; the switch
// flips embed_slot and the recorded identity in one transaction whose
// work does not grow with the row count; the old model's vectors are then
// cleared from the other slot in small batches (ClearOtherSlot), unless
// they are kept for RollbackEmbedding. Nothing here calls a provider: the
// caller embeds before each write.
//
// Where the vectors change model: SwitchEmbedding and RollbackEmbedding
// flip the slot and bump meta embed_generation (Identity.Generation) in
// the same transaction. A vector index or cache is valid for one
// (model, dimensions, generation); the rows' seqs do not move at a switch.

// meta keys of the embedding identity (embed_model and embed_dims date
// from schema 1, the slot keys from schema 12).
const (
	keyModel       = "embed_model"
	keyDims        = "embed_dims"
	keyProbe       = "embed_probe"
	keyPrevModel   = "embed_previous_model"
	keyPrevDims    = "embed_previous_dims"
	keyPrevProbe   = "embed_previous_probe"
	keyTargetModel = "reembed_target_model"
	keyTargetDims  = "reembed_target_dims"
	keyOldKept     = "reembed_old_kept"
	keySlot        = "embed_slot"
	keyClear       = "embed_slot_clear"
	keyGeneration  = "embed_generation"

	identityKeysSQL = `SELECT key, value FROM meta WHERE key IN ('embed_model', 'embed_dims', 'embed_probe',
		'embed_previous_model', 'embed_previous_dims',
		'reembed_target_model', 'reembed_target_dims', 'reembed_old_kept',
		'embed_slot', 'embed_slot_clear', 'embed_generation')`
)

// SQL reading the slots. The slot is read by the same statement as the
// rows, so a read sees one model's vectors whichever switch commits
// meanwhile (SQLite evaluates the uncorrelated subquery once). The
// lengths are read from the record header, without loading the vectors.
const (
	slotSQL      = "(SELECT value FROM meta WHERE key = 'embed_slot')"
	vecActive    = "CASE WHEN " + slotSQL + " = 1 THEN vector_b ELSE vector END"
	vecActiveLen = "CASE WHEN " + slotSQL + " = 1 THEN length(vector_b) ELSE length(vector) END"
	vecOtherLen  = "CASE WHEN " + slotSQL + " = 1 THEN length(vector) ELSE length(vector_b) END"
)

// slotColumn is the column of slot i.
func slotColumn(i int) string {
	if i == 1 {
		return "vector_b"
	}
	return "vector"
}

// slotStatements instantiates a statement template over the slots: index
// i is the statement with slot i active ({vec}) and the other {other}.
func slotStatements(q string) [2]string {
	var out [2]string
	for i := range out {
		out[i] = strings.NewReplacer("{vec}", slotColumn(i), "{other}", slotColumn(1-i)).Replace(q)
	}
	return out
}

var (
	sqlInsertSlot = slotStatements(sqlInsert)
	sqlUpdateSlot = slotStatements(sqlUpdate)
)

// vecSlot returns the active slot, read once per transaction.
func (t *tx) vecSlot() (int, error) {
	if !t.slotRead {
		var v sql.NullInt64
		if err := t.queryRow("SELECT value FROM meta WHERE key = 'embed_slot'").Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("read the vector slot: %w", err)
		}
		t.slot, t.slotRead = int(v.Int64), true
	}
	return t.slot, nil
}

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
			id.Probe, _ = rowcodec.DecodeVector([]byte(s))
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
		case keySlot:
			id.Slot = n
		case keyClear:
			id.Clearing = n == 1
		case keyGeneration:
			id.Generation = int64(n)
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
		// Other writes in this group read the identity and slot afresh: fn
		// may change them.
		defer func() {
			t.space, t.slotRead = nil, false
			holdMS = float64(time.Since(start).Microseconds()) / 1000
		}()
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

// flag is a meta value that is 1 when on and absent when off.
func flag(on bool) any {
	if on {
		return 1
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
		return t.setMeta(keyProbe, rowcodec.EncodeVector(probe))
	})
	return err
}

// BeginReembed records target as the model a reembed moves to. A reembed
// to the same target continues (resumed). One to another starts afresh:
// what the other slot holds (another target's vectors, or vectors kept
// for --rollback, which is then no longer possible) is to be cleared
// first (Identity.Clearing, ClearOtherSlot).
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
		dirty := id.Clearing || id.OldKept || id.Target.Model != ""
		return t.setMeta(keyTargetModel, target.Model, keyTargetDims, target.Dimensions,
			keyOldKept, nil, keyClear, flag(dirty))
	})
	return resumed, err
}

// clearBatch is the number of rows ClearOtherSlot empties per write
// when the caller does not say.
const clearBatch = 256

// ClearOtherSlot empties the other slot while the identity says it holds
// leftovers (Identity.Clearing: the old model's vectors after a switch, an
// abandoned target's, or the model rolled back from), batch rows per
// write, and then records it clear. Rows are found on the read pool
// (keyset by rid), so a write holds the lock only to empty its batch.
// Nothing writes the other slot while it is being cleared (PutShadow and
// RollbackEmbedding refuse), so one scan finds every leftover. Stopped at
// any point, a later call scans again from the start. It returns how many
// vectors it cleared; progress hears of each batch: how many it cleared,
// and how long its write held the lock.
func (s *Store) ClearOtherSlot(ctx context.Context, batch int, progress func(cleared int, holdMS float64)) (int, error) {
	if batch <= 0 {
		batch = clearBatch
	}
	id, err := s.Identity(ctx)
	if err != nil || !id.Clearing {
		return 0, err
	}
	cleared := 0
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return cleared, err
		}
		rids, err := s.rids(ctx, "SELECT rid FROM memories WHERE rid > ? AND "+vecOtherLen+" IS NOT NULL ORDER BY rid LIMIT ?", after, batch)
		if err != nil {
			return cleared, fmt.Errorf("find vectors to clear: %w", err)
		}
		n := 0
		hold, err := s.ownerTx(ctx, func(t *tx) error {
			now, err := readIdentity(t.ctx, t.tx)
			if err != nil {
				return err
			}
			if !now.Clearing || now.Slot != id.Slot {
				return nil // another process finished (or moved on) meanwhile
			}
			if len(rids) == 0 {
				return t.setMeta(keyClear, nil)
			}
			res, err := t.exec("UPDATE memories SET "+slotColumn(1-id.Slot)+" = NULL WHERE rid IN (SELECT value FROM json_each(?))", jsonInts(rids))
			if err != nil {
				return fmt.Errorf("clear the old vectors: %w", err)
			}
			k, _ := res.RowsAffected()
			n = int(k)
			return nil
		})
		if err != nil {
			return cleared, err
		}
		if len(rids) == 0 {
			return cleared, nil
		}
		cleared += n
		progress(n, hold)
		after = rids[len(rids)-1]
	}
}

func (s *Store) rids(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			return nil, err
		}
		out = append(out, rid)
	}
	return out, rows.Err()
}

// ReembedTodo returns up to limit rows after afterRID (in rid order)
// without a target vector in the other slot. (A write that changes a
// row's text empties that slot, so a vector there embeds the row's text.)
func (s *Store) ReembedTodo(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error) {
	return s.embedRows(ctx, `SELECT rid, id, seq, text FROM memories
		WHERE rid > ? AND `+vecOtherLen+` IS NULL ORDER BY rid LIMIT ?`, afterRID, limit)
}

// PendingRows returns up to limit rows after afterRID without a vector.
func (s *Store) PendingRows(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error) {
	id, err := s.Identity(ctx)
	if err != nil {
		return nil, err
	}
	// Slot 0 has a partial index of its rows without a vector; slot 1
	// none (it would hold every row while slot 0 is active), so the rows
	// are scanned in rid order. PutVectors re-checks the slot.
	q := `SELECT rid, id, seq, text FROM memories INDEXED BY memories_novec WHERE vector IS NULL AND rid > ? ORDER BY rid LIMIT ?`
	if id.Slot == 1 {
		q = `SELECT rid, id, seq, text FROM memories WHERE length(vector_b) IS NULL AND rid > ? ORDER BY rid LIMIT ?`
	}
	return s.embedRows(ctx, q, afterRID, limit)
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

// PutShadow writes target vectors into the other slot of the rows whose
// text is still the one embedded. It returns how many it wrote; the
// others changed their text (or are gone) and are still to do.
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
	if id.Clearing {
		return 0, errors.New("the other vector slot still holds vectors to clear: run trove reembed again")
	}
	q := "UPDATE memories SET " + slotColumn(1-id.Slot) + " = ? WHERE rid = ? AND text = ?"
	n := 0
	for _, r := range rows {
		if len(r.Vector) != target.Dimensions {
			return n, fmt.Errorf("%w: vector of %s has %d dimensions, the target %s has %d",
				memory.ErrDimensions, r.ID, len(r.Vector), target.Model, target.Dimensions)
		}
		res, err := t.exec(q, rowcodec.EncodeVector(r.Vector), r.RID, r.Text)
		if err != nil {
			return n, fmt.Errorf("write target vector of %s: %w", r.ID, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// SwitchEmbedding ends a reembed in one transaction: it writes the last
// target vectors (final), makes the other slot the active one, and
// records target (with its probe) as the store's identity and the old
// model as the previous one. Its work is len(final) row writes and a few
// meta rows, whatever the store's size. Rows without a target vector
// (written in the last moment) have none in the new slot: pending.
// keepOld keeps the old vectors (in the now other slot) for
// RollbackEmbedding; otherwise the slot is marked to clear
// (ClearOtherSlot). Rows, their revisions, seqs and metadata are
// untouched. The counts are read after the commit, outside the lock.
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
		oldProbe, err := t.metaValue(keyProbe)
		if err != nil {
			return err
		}
		return t.setMeta(keyPrevModel, id.Model, keyPrevDims, id.Dimensions, keyPrevProbe, oldProbe,
			keyModel, target.Model, keyDims, target.Dimensions, keyProbe, rowcodec.EncodeVector(probe),
			keyTargetModel, nil, keyTargetDims, nil, keyOldKept, flag(keepOld), keyClear, flag(!keepOld),
			keySlot, 1-id.Slot, keyGeneration, id.Generation+1)
	})
	res.HoldMS = hold
	if err != nil {
		return res, err
	}
	return s.switchCounts(ctx, res, keepOld)
}

// switchCounts fills in what a switch or rollback left, read after it.
func (s *Store) switchCounts(ctx context.Context, res store.SwitchResult, kept bool) (store.SwitchResult, error) {
	c, err := s.ReembedCounts(ctx)
	if err != nil {
		return res, err
	}
	res.Switched, res.Queued = c.Rows-c.Pending, c.Pending
	if kept {
		res.KeptOld = c.Other
	}
	return res, nil
}

// metaValue reads one meta value as stored (nil when absent).
func (t *tx) metaValue(key string) (any, error) {
	var v any
	if err := t.tx.QueryRowContext(t.ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read embedding identity: %w", err)
	}
	return v, nil
}

// RollbackEmbedding undoes the last switch made with keepOld, flipping the
// slot back in one transaction: rows give back their old vector (rows
// whose text changed since the switch have none, and are pending for the
// old model) and the previous model is the store's again. The vectors of
// the model rolled back from are then to clear (ClearOtherSlot).
func (s *Store) RollbackEmbedding(ctx context.Context) (store.SwitchResult, error) {
	var res store.SwitchResult
	hold, err := s.ownerTx(ctx, func(t *tx) error {
		id, err := readIdentity(t.ctx, t.tx)
		if err != nil {
			return err
		}
		if !id.OldKept || id.Previous.Model == "" || id.Clearing {
			return memory.Invalidf("nothing to roll back: the last trove reembed did not keep the old vectors (--keep-old), or a reembed started since")
		}
		prevProbe, err := t.metaValue(keyPrevProbe)
		if err != nil {
			return err
		}
		probe, err := t.metaValue(keyProbe)
		if err != nil {
			return err
		}
		return t.setMeta(keyModel, id.Previous.Model, keyDims, id.Previous.Dimensions, keyProbe, prevProbe,
			keyPrevModel, id.Model, keyPrevDims, id.Dimensions, keyPrevProbe, probe,
			keyTargetModel, nil, keyTargetDims, nil, keyOldKept, nil, keyClear, 1,
			keySlot, 1-id.Slot, keyGeneration, id.Generation+1)
	})
	res.HoldMS = hold
	if err != nil {
		return res, err
	}
	return s.switchCounts(ctx, res, false)
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
		col := slotColumn(id.Slot)
		q := "UPDATE memories SET " + col + " = nullif(?, x''), seq = ? WHERE rid = ? AND " + col + " IS NULL AND text = ?"
		for _, r := range rows {
			if len(r.Vector) != id.Dimensions {
				return fmt.Errorf("%w: vector of %s has %d dimensions, the store uses %d (model %s)",
					memory.ErrDimensions, r.ID, len(r.Vector), id.Dimensions, id.Model)
			}
			res, err := t.exec(q, rowcodec.EncodeVector(r.Vector), t.seq, r.RID, r.Text)
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

// ReembedCounts counts rows, rows with a target vector (during a
// reembed), rows without a vector, and vectors left to clear, in one
// read of the record headers.
func (s *Store) ReembedCounts(ctx context.Context) (store.ReembedCounts, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.ReembedCounts{}, err
	}
	defer tx.Rollback()
	id, err := readIdentity(ctx, tx)
	if err != nil {
		return store.ReembedCounts{}, err
	}
	var c store.ReembedCounts
	var with int
	err = tx.QueryRowContext(ctx, `SELECT count(*), count(`+vecActiveLen+`), count(`+vecOtherLen+`) FROM memories`).Scan(&c.Rows, &with, &c.Other)
	if err != nil {
		return c, fmt.Errorf("count rows to embed: %w", err)
	}
	c.Pending = c.Rows - with
	switch {
	case id.Clearing:
		c.Clear = c.Other
	case id.Target.Model != "":
		c.Shadowed = c.Other
	}
	return c, nil
}
