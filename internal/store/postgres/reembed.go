package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/reembed"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// The store's side of moving to another embedder (internal/reembed drives
// it), as the SQLite store does it: a row has two vector slots, vector
// (slot 0) and vector_b (slot 1); meta embed_slot names the active one. A
// reembed writes the target vectors into the other slot; the switch flips
// embed_slot and the recorded identity in one transaction whose work does
// not grow with the row count; the old vectors are then cleared in small
// batches (ClearOtherSlot), unless kept for RollbackEmbedding. Nothing
// here calls a provider.
//
// Across hosts: every write that stores a vector share-locks meta
// embed_slot (tx.vecSlot), and so do PutShadow, PutVectors and
// ClearOtherSlot here; a switch or rollback updates that row, so it waits
// for them and they for it: no vector lands in a slot that was just
// retired. The reembed's own bookkeeping (target, flags) is read FOR
// UPDATE by the steps that change it, so two hosts' steps take turns.

var (
	_ reembed.Backend = (*Store)(nil)
)

// meta keys of the embedding identity (the SQLite store's names).
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
)

var identityKeys = []string{keyModel, keyDims, keyProbe, keyPrevModel, keyPrevDims,
	keyTargetModel, keyTargetDims, keyOldKept, keySlot, keyClear, keyGeneration}

// vecOther is the other slot's vector, read in the same statement as the
// rows, as vecActive is (codec.go).
const vecOther = "CASE WHEN " + slotSQL + " = '1' THEN vector ELSE vector_b END"

// slotColumn is the column of slot i.
func slotColumn(i int) string {
	if i == 1 {
		return "vector_b"
	}
	return "vector"
}

// encodeProbe stores a probe vector in a text meta value: its float32s
// little-endian (the store's vector codec, without the all-zero rule:
// a probe is kept as given), base64.
func encodeProbe(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func decodeProbe(s string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("meta embed_probe is not base64: %w (run trove doctor)", err)
	}
	v, err := rowcodec.DecodeVector(b)
	if v == nil && err == nil {
		v = []float32{}
	}
	return v, err
}

// readIdentity reads the identity on q, without locks (see lockIdentity).
func readIdentity(ctx context.Context, q querier) (store.Identity, error) {
	return scanIdentity(q.Query(ctx, "SELECT key, value FROM meta WHERE key = ANY($1::text[])", identityKeys))
}

func scanIdentity(rows pgx.Rows, err error) (store.Identity, error) {
	var id store.Identity
	if err != nil {
		return id, fmt.Errorf("read embedding identity: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return id, fmt.Errorf("read embedding identity: %w", err)
		}
		n, _ := strconv.Atoi(v)
		switch k {
		case keyModel:
			id.Model = v
		case keyDims:
			id.Dimensions = n
		case keyProbe:
			if id.Probe, err = decodeProbe(v); err != nil {
				return id, err
			}
		case keyPrevModel:
			id.Previous.Model = v
		case keyPrevDims:
			id.Previous.Dimensions = n
		case keyTargetModel:
			id.Target.Model = v
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
	if err := rows.Err(); err != nil {
		return id, fmt.Errorf("read embedding identity: %w", err)
	}
	return id, nil
}

// How a reembed step locks the identity (lockIdentity).
type identityLock int

const (
	// readsIdentity: a step that writes vectors by the identity it reads
	// (PutShadow, PutVectors): share locks, so such steps run side by
	// side, and no switch or change of target runs under them.
	readsIdentity identityLock = iota
	// changesIdentity: a step that records a new target, flag or probe:
	// the identity rows FOR UPDATE (steps on two hosts take turns), the
	// slot shared.
	changesIdentity
	// flipsSlot: a switch or rollback: embed_slot FOR UPDATE too, so it
	// waits for every write storing a vector (they share-lock it) and
	// they for it.
	flipsSlot
)

// lockIdentity reads the identity in a write, locking its rows as mode
// says, embed_slot first and then the others in key order (one order in
// every mode, so two steps do not deadlock). Rows not yet written cannot
// be locked; the steps write them with upserts, so the last one wins, as
// two reembeds run one after the other would.
func (t *tx) lockIdentity(mode identityLock) (store.Identity, error) {
	slotMode, rowMode := "FOR SHARE", "FOR SHARE"
	switch mode {
	case changesIdentity:
		rowMode = "FOR UPDATE"
	case flipsSlot:
		slotMode, rowMode = "FOR UPDATE", "FOR UPDATE"
	}
	var slot string
	if err := t.queryRow("SELECT value FROM meta WHERE key = 'embed_slot' " + slotMode).Scan(&slot); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return store.Identity{}, fmt.Errorf("lock the vector slot: %w", err)
	}
	t.slotRead = false // vecSlot reads it again, under this lock
	rows, err := t.tx.Query(t.ctx, "SELECT key, value FROM meta WHERE key = ANY($1::text[]) AND key <> 'embed_slot' ORDER BY key "+rowMode, identityKeys)
	id, err := scanIdentity(rows, err)
	if err != nil {
		return id, err
	}
	id.Slot, _ = strconv.Atoi(slot)
	return id, nil
}

// Identity returns the store's recorded embedding identity.
func (s *Store) Identity(ctx context.Context) (store.Identity, error) {
	id, err := readIdentity(ctx, s.pool)
	if err != nil {
		return id, s.connErr(err)
	}
	return id, nil
}

// ownerTx runs fn in a write as the owner, and times it (the last run).
// A write that two hosts' transactions made fail (a deadlock: a reembed
// batch and another host's batch locked rows in opposite orders) saved
// nothing and runs again, a few times: fn must set every result it
// reports on each run.
func (s *Store) ownerTx(ctx context.Context, fn func(t *tx) error) (holdMS float64, err error) {
	for try := 1; ; try++ {
		start := time.Now()
		err = s.Write(ctx, memory.Owner(), func(stx store.Tx) error {
			t := stx.(*tx)
			// The identity may change here: this write reads it afresh.
			t.space, t.slotRead = nil, false
			return fn(t)
		})
		holdMS = float64(time.Since(start).Microseconds()) / 1000
		if err == nil || try == ownerTxTries || !store.IsTransient(err) || ctx.Err() != nil {
			return holdMS, err
		}
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(try) * int64(20*time.Millisecond)))):
		case <-ctx.Done():
			return holdMS, err
		}
	}
}

// ownerTxTries bounds the runs of one ownerTx write.
const ownerTxTries = 8

// setMeta upserts the key/value pairs (nil deletes the key).
func (t *tx) setMeta(kv ...any) error {
	for i := 0; i < len(kv); i += 2 {
		var err error
		switch v := kv[i+1].(type) {
		case nil:
			_, err = t.exec("DELETE FROM meta WHERE key = $1", kv[i])
		default:
			_, err = t.exec(`INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, kv[i], metaText(v))
		}
		if err != nil {
			return fmt.Errorf("record embedding identity: %w", err)
		}
	}
	return nil
}

func metaText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

// flag is a meta value that is 1 when on and absent when off.
func flag(on bool) any {
	if on {
		return 1
	}
	return nil
}

// metaValue reads one meta value as stored (nil when absent).
func (t *tx) metaValue(key string) (any, error) {
	var v string
	err := t.queryRow("SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read embedding identity: %w", err)
	}
	return v, nil
}

// RecordProbe records the probe vector of the store's model, if the
// store's model is sp's and it has none yet.
func (s *Store) RecordProbe(ctx context.Context, sp store.Space, probe []float32) error {
	_, err := s.ownerTx(ctx, func(t *tx) error {
		id, err := t.lockIdentity(changesIdentity)
		if err != nil || id.Model != sp.Model || id.Probe != nil || len(probe) != id.Dimensions {
			return err
		}
		// Two processes recording at once: the first one's probe stays.
		_, err = t.exec("INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", keyProbe, encodeProbe(probe))
		return err
	})
	return err
}

// BeginReembed records target as the model a reembed moves to. A reembed
// to the same target continues (resumed). One to another starts afresh:
// what the other slot holds is to be cleared first (Identity.Clearing,
// ClearOtherSlot).
func (s *Store) BeginReembed(ctx context.Context, target store.Space) (resumed bool, err error) {
	_, err = s.ownerTx(ctx, func(t *tx) error {
		resumed = false
		id, err := t.lockIdentity(changesIdentity)
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
// leftovers (Identity.Clearing), batch rows per write, and then records
// it clear. Rows are found outside the write (keyset by rid), so a write
// locks only its batch's rows. Nothing writes the other slot while it is
// being cleared (PutShadow and RollbackEmbedding refuse; an update only
// empties it), so one scan finds every leftover. Stopped at any point, a
// later call scans again from the start. Two hosts clearing at once both
// scan; the second finds its batches already empty.
func (s *Store) ClearOtherSlot(ctx context.Context, batch int, progress func(cleared int, holdMS float64)) (int, error) {
	if batch <= 0 {
		batch = clearBatch
	}
	id, err := s.Identity(ctx)
	if err != nil || !id.Clearing {
		return 0, err
	}
	col := slotColumn(1 - id.Slot)
	cleared := 0
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return cleared, err
		}
		rows, err := s.pool.Query(ctx, "SELECT rid FROM memories WHERE rid > $1 AND "+col+" IS NOT NULL ORDER BY rid LIMIT $2", after, batch)
		if err != nil {
			return cleared, fmt.Errorf("find vectors to clear: %w", s.connErr(err))
		}
		rids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return cleared, fmt.Errorf("find vectors to clear: %w", s.connErr(err))
		}
		n := 0
		hold, err := s.ownerTx(ctx, func(t *tx) error {
			n = 0
			now, err := t.lockIdentity(changesIdentity)
			if err != nil {
				return err
			}
			if !now.Clearing || now.Slot != id.Slot {
				return nil // another process finished (or moved on) meanwhile
			}
			if len(rids) == 0 {
				return t.setMeta(keyClear, nil)
			}
			tag, err := t.exec("UPDATE memories SET "+col+" = NULL WHERE rid = ANY($1::bigint[]) AND "+col+" IS NOT NULL", rids)
			if err != nil {
				return fmt.Errorf("clear the old vectors: %w", err)
			}
			n = int(tag.RowsAffected())
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

// ReembedTodo returns up to limit rows after afterRID (in rid order)
// without a target vector in the other slot. (A write that changes a
// row's text empties that slot, so a vector there embeds the row's text.)
func (s *Store) ReembedTodo(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error) {
	return s.embedRows(ctx, `SELECT rid, id, seq, text FROM memories
		WHERE rid > $1 AND `+vecOther+` IS NULL ORDER BY rid LIMIT $2`, afterRID, limit)
}

// PendingRows returns up to limit rows after afterRID without a vector.
func (s *Store) PendingRows(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error) {
	// Slot 0 has a partial index of its rows without a vector
	// (memories_novec), which a CASE over the slots could not use: the
	// query names the column, and says which slot it expects, so a switch
	// committed between reading the slot and the rows yields no rows
	// rather than the wrong ones (the caller then reads the slot again).
	for range 3 {
		id, err := s.Identity(ctx)
		if err != nil {
			return nil, err
		}
		col := slotColumn(id.Slot)
		out, err := s.embedRows(ctx, `SELECT rid, id, seq, text FROM memories
			WHERE `+col+` IS NULL AND rid > $1 AND `+slotSQL+` = $3 ORDER BY rid LIMIT $2`, afterRID, limit, strconv.Itoa(id.Slot))
		if err != nil || len(out) > 0 {
			return out, err
		}
		if again, err := s.Identity(ctx); err != nil || again.Slot == id.Slot {
			return out, err
		}
	}
	return nil, errors.New("read rows without a vector: the vector slot keeps switching: run trove reembed again")
}

func (s *Store) embedRows(ctx context.Context, q string, args ...any) ([]store.EmbedRow, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read rows to embed: %w", s.connErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.EmbedRow, error) {
		var e store.EmbedRow
		err := r.Scan(&e.RID, &e.ID, &e.Seq, &e.Text)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read rows to embed: %w", s.connErr(err))
	}
	return out, nil
}

// errTargetMoved is a reembed's write after another reembed took over.
var errTargetMoved = errors.New("another trove reembed changed the target model meanwhile")

// PutShadow writes target vectors into the other slot of the rows whose
// text is still the one embedded. It returns how many it wrote; the
// others changed their text (or are gone) and are still to do.
func (s *Store) PutShadow(ctx context.Context, target store.Space, rows []store.EmbedRow) (int, error) {
	var n int
	_, err := s.ownerTx(ctx, func(t *tx) error {
		id, err := t.lockIdentity(readsIdentity)
		if err != nil {
			return err
		}
		n, err = t.putShadow(id, target, rows)
		return err
	})
	s.releaseRows(rows)
	return n, err
}

// putShadow writes the target vectors of rows into the other slot of id,
// in one statement, for the rows whose text is still the one embedded.
//
// A batch that commits after another process switched the store to
// target (two hosts sharing the reembed) goes into the active slot of
// its rows still without a vector: those rows were left pending by the
// switch, and the vectors are the store's model's now.
func (t *tx) putShadow(id store.Identity, target store.Space, rows []store.EmbedRow) (int, error) {
	if id.Target != target {
		if switchedTo(id, target) {
			return t.putActive(id, rows)
		}
		return 0, fmt.Errorf("%w (now %q)", errTargetMoved, id.Target.Model)
	}
	if id.Clearing {
		return 0, errors.New("the other vector slot still holds vectors to clear: run trove reembed again")
	}
	if len(rows) == 0 {
		return 0, nil
	}
	rids, texts, vecs := make([]int64, len(rows)), make([]string, len(rows)), make([][]byte, len(rows))
	for i, r := range rows {
		if len(r.Vector) != target.Dimensions {
			return 0, fmt.Errorf("%w: vector of %s has %d dimensions, the target %s has %d",
				memory.ErrDimensions, r.ID, len(r.Vector), target.Model, target.Dimensions)
		}
		rids[i], texts[i], vecs[i] = r.RID, r.Text, rowcodec.EncodeVector(r.Vector)
	}
	col := slotColumn(1 - id.Slot)
	tag, err := t.exec(`UPDATE memories SET `+col+` = nullif(v.vec, ''::bytea)
		FROM (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS u(rid, text, vec) ORDER BY rid) AS v
		WHERE memories.rid = v.rid AND memories.text = v.text`, rids, texts, vecs)
	if err != nil {
		return 0, fmt.Errorf("write target vectors: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// SwitchEmbedding ends a reembed in one transaction: it writes the last
// target vectors (final), makes the other slot the active one, and
// records target (with its probe) as the store's identity and the old
// model as the previous one. Its work is len(final) row writes and a few
// meta rows, whatever the store's size; it waits for the writes storing
// a vector that are in flight (they share-lock embed_slot), and the ones
// that begin meanwhile wait for it. Rows, their revisions, seqs and
// metadata are untouched. keepOld keeps the old vectors for
// RollbackEmbedding; otherwise the slot is marked to clear. The counts
// are read after the commit.
func (s *Store) SwitchEmbedding(ctx context.Context, target store.Space, probe []float32, final []store.EmbedRow, keepOld bool) (store.SwitchResult, error) {
	var res store.SwitchResult
	defer s.releaseRows(final)
	hold, err := s.ownerTx(ctx, func(t *tx) error {
		res.Already = false
		id, err := t.lockIdentity(flipsSlot)
		if err != nil {
			return err
		}
		if switchedTo(id, target) {
			// Another process (host) switched to target first: the switch
			// is made once; the last rows go where its pending ones go.
			res.Already = true
			_, err := t.putActive(id, final)
			return err
		}
		if _, err := t.putShadow(id, target, final); err != nil {
			return err
		}
		oldProbe, err := t.metaValue(keyProbe)
		if err != nil {
			return err
		}
		return t.setMeta(keyPrevModel, id.Model, keyPrevDims, id.Dimensions, keyPrevProbe, oldProbe,
			keyModel, target.Model, keyDims, target.Dimensions, keyProbe, encodeProbe(probe),
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

// RollbackEmbedding undoes the last switch made with keepOld, flipping the
// slot back in one transaction: rows give back their old vector (rows
// whose text changed since the switch have none, and are pending for the
// old model) and the previous model is the store's again. The vectors of
// the model rolled back from are then to clear (ClearOtherSlot).
func (s *Store) RollbackEmbedding(ctx context.Context) (store.SwitchResult, error) {
	var res store.SwitchResult
	hold, err := s.ownerTx(ctx, func(t *tx) error {
		id, err := t.lockIdentity(flipsSlot)
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
// it wrote. Revision, updated_at and metadata are untouched; the rows get
// the write's change sequence (a vector index sees them change).
func (s *Store) PutVectors(ctx context.Context, sp store.Space, rows []store.EmbedRow) (int, error) {
	var n int
	defer s.releaseRows(rows)
	_, err := s.ownerTx(ctx, func(t *tx) error {
		n = 0
		id, err := t.lockIdentity(readsIdentity)
		if err != nil {
			return err
		}
		if id.Model != sp.Model {
			return fmt.Errorf("%w: the store's model is now %s, not %s", memory.ErrDimensions, id.Model, sp.Model)
		}
		n, err = t.putActive(id, rows)
		return err
	})
	return n, err
}

// switchedTo reports whether id is the identity a switch to target left,
// with no reembed in progress since.
func switchedTo(id store.Identity, target store.Space) bool {
	return id.Target.Model == "" && id.Model == target.Model && id.Dimensions == target.Dimensions
}

// putActive writes vectors of the store's model (id) into the active slot
// of rows that still have none and the same text, and returns how many
// it wrote; the rows get the write's change sequence.
func (t *tx) putActive(id store.Identity, rows []store.EmbedRow) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	rids, texts, vecs := make([]int64, len(rows)), make([]string, len(rows)), make([][]byte, len(rows))
	for i, r := range rows {
		if len(r.Vector) != id.Dimensions {
			return 0, fmt.Errorf("%w: vector of %s has %d dimensions, the store uses %d (model %s)",
				memory.ErrDimensions, r.ID, len(r.Vector), id.Dimensions, id.Model)
		}
		rids[i], texts[i], vecs[i] = r.RID, r.Text, rowcodec.EncodeVector(r.Vector)
	}
	col := slotColumn(id.Slot)
	got, err := t.tx.Query(t.ctx, `UPDATE memories SET `+col+` = nullif(v.vec, ''::bytea)
			FROM (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[]) AS u(rid, text, vec) ORDER BY rid) AS v
			WHERE memories.rid = v.rid AND memories.`+col+` IS NULL AND memories.text = v.text
			RETURNING memories.rid`, rids, texts, vecs)
	if err != nil {
		return 0, fmt.Errorf("write vectors: %w", err)
	}
	done, err := pgx.CollectRows(got, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("write vectors: %w", err)
	}
	for _, rid := range done {
		t.touched(rid)
	}
	return len(done), nil
}

// ReembedCounts counts rows, rows with a target vector (during a
// reembed), rows without a vector, and vectors left to clear, in one
// snapshot (a read-only REPEATABLE READ transaction) with the identity.
func (s *Store) ReembedCounts(ctx context.Context) (store.ReembedCounts, error) {
	var c store.ReembedCounts
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(ptx pgx.Tx) error {
		id, err := readIdentity(ctx, ptx)
		if err != nil {
			return err
		}
		active, other := slotColumn(id.Slot), slotColumn(1-id.Slot)
		var with int
		if err := ptx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE `+active+` IS NOT NULL), count(*) FILTER (WHERE `+other+` IS NOT NULL)
			FROM memories`).Scan(&c.Rows, &with, &c.Other); err != nil {
			return fmt.Errorf("count rows to embed: %w", err)
		}
		c.Pending = c.Rows - with
		switch {
		case id.Clearing:
			c.Clear = c.Other
		case id.Target.Model != "":
			c.Shadowed = c.Other
		}
		return nil
	})
	if err != nil {
		return c, s.connErr(err)
	}
	return c, nil
}
