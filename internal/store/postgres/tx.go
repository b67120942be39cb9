package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trove-memory/trove/internal/lazyre"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// tx implements store.Tx on one PostgreSQL transaction.
type tx struct {
	s   *Store
	tx  pgx.Tx
	ctx context.Context
	acc memory.Access
	now int64
	// seq is the write's change sequence: 0 until stamp takes it at the
	// end of the write (hooks that need it register in atSeq).
	seq   int64
	space *store.Space // read lazily once per transaction
	// The active vector slot (meta embed_slot), read and share-locked once
	// per transaction (vecSlot): a slot switch waits for this write.
	slot     int
	slotRead bool

	// What the commit stamps with the write's seq: rows (by rid) whose
	// content or vector changed, and tombstones (by id) written.
	changed []int64
	tombs   []string
	// Hooks for the parts of the store in other files:
	//   beforeCommit run, in order, after fn returned nil and before the
	//   seq is taken (a hook may append more);
	//   atSeq run after the seq is taken, before COMMIT, holding the
	//   seq lock: keep them to one short statement;
	//   afterCommit run after a successful COMMIT.
	beforeCommit []func() error
	atSeq        []func(seq int64) error
	afterCommit  []func()
	// purged: the write erased a memory (Purge).
	purged bool
	// The facts whose advisory lock this write holds (lockFact).
	factLocks map[int64]bool
}

var _ store.Tx = (*tx)(nil)

func (t *tx) exec(query string, args ...any) (pgconn.CommandTag, error) {
	return t.tx.Exec(t.ctx, query, args...)
}

func (t *tx) queryRow(query string, args ...any) pgx.Row {
	return t.tx.QueryRow(t.ctx, query, args...)
}

// touched records that row rid changed, so the commit stamps its seq.
func (t *tx) touched(rid int64) { t.changed = append(t.changed, rid) }

// Get reads the row and locks it (FOR UPDATE) to the end of the write:
// what fn decides from it holds at commit, as under the SQLite store's
// write lock, so a read-modify-write inside one Write (store.PatchMany)
// never conflicts with another host's write of the row; that write waits,
// then sees this one's revision.
func (t *tx) Get(id string) (memory.Memory, error) {
	if unstorable(id) {
		return memory.Memory{}, &memory.NotFoundError{ID: id}
	}
	if err := t.lockRowFact(id); err != nil {
		return memory.Memory{}, err
	}
	var a args
	q := "SELECT " + cols + " FROM memories WHERE id = " + a.add(id) + " AND " + scopeClause("", t.acc, nil, &a) + " FOR UPDATE"
	m, err := scanMemory(t.queryRow(q, a...), false)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, &memory.NotFoundError{ID: id}
	}
	if err != nil {
		return m, fmt.Errorf("read memory %s: %w", id, err)
	}
	return m, nil
}

// The write statements, for the active slot n (sqlInsertSlot[n]): both
// write the validity columns from the metadata they write (validityArgs)
// and smart_category from the row (memory.SmartCategoryOf); an update that
// changes the text empties the other slot (a target or kept vector of the
// old text). An empty vector (all-zero) is stored as none.
var sqlInsertSlot, sqlUpdateSlot [2]string

func init() {
	for n := range 2 {
		vec, other := slotCols(n)
		sqlInsertSlot[n] = `INSERT INTO memories
			(id, text, category, scope, importance, created_at, updated_at, revision, format, metadata, ` + vec + `,
			fact_key, valid_from, valid_until, invalidated_at, archived_at, smart_category)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, nullif($11::bytea, ''::bytea), $12, $13, $14, $15, $16, $17)
			ON CONFLICT (id) DO NOTHING RETURNING rid`
		sqlUpdateSlot[n] = `UPDATE memories SET
			text = $1, category = $2, scope = $3, importance = $4, updated_at = $5, revision = revision + 1,
			format = $6, metadata = $7::jsonb, ` + vec + ` = nullif(coalesce($8::bytea, ` + vec + `), ''::bytea),
			` + other + ` = CASE WHEN text = $1 THEN ` + other + ` END,
			fact_key = $9, valid_from = $10, valid_until = $11, invalidated_at = $12, archived_at = $13, smart_category = $14
			WHERE rid = $15 AND revision = $16`
	}
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
	slot, err := t.vecSlot()
	if err != nil {
		return fmt.Errorf("insert memory %s: %w", m.ID, err)
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
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	key, from, until, inv, arch := validityArgs(m.Metadata)
	if err := t.lockFact(m.Scope, key); err != nil {
		return err
	}
	var rid int64
	err = t.queryRow(sqlInsertSlot[slot],
		m.ID, m.Text, string(m.Category), string(m.Scope), m.Importance, m.CreatedAt, m.UpdatedAt,
		m.Revision, int32(m.Format), md, rowcodec.EncodeVector(m.Vector), key, from, until, inv, arch, string(memory.SmartCategoryOf(*m))).Scan(&rid)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("memory %s: %w", m.ID, memory.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert memory %s: %w", m.ID, err)
	}
	t.touched(rid)
	return t.indexRow(rid, m)
}

// head is what writes check and keep of a row before changing it: its
// rid, scope and revision, its recall counters (see keepUsage) and tier.
type head struct {
	rid   int64
	scope memory.Scope
	rev   int64
	// metadata access_count and last_accessed_at as stored, and the
	// auto-recall bookkeeping that only grows (Bump): injected_count,
	// last_injected_at, last_confirmed_use_at.
	count, access, injected, injectedAt, confirmedAt any
	tier                                             string // as tierExpr reads it (see keepTier)
}

const sqlCurrent = `SELECT rid, scope, revision, metadata->'access_count', metadata->'last_accessed_at',
	metadata->'injected_count', metadata->'last_injected_at', metadata->'last_confirmed_use_at', ` + tierExpr + `
	FROM memories WHERE id = $1 FOR UPDATE`

// lockRowFact takes the advisory lock of the fact that row id states, if
// it states one the caller reaches, before the write locks the row: every
// write takes a fact's lock before a row lock of the fact (FactRows, then
// Update of its rows; Get or Update of one of its rows), so a supersede on
// one host and an edit of one of the fact's rows on another wait for each
// other instead of deadlocking.
func (t *tx) lockRowFact(id string) error {
	var scope string
	var key *string
	err := t.queryRow("SELECT scope, fact_key FROM memories WHERE id = $1", id).Scan(&scope, &key)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && (key == nil || !t.acc.Allows(memory.Scope(scope))) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read memory %s: %w", id, err)
	}
	return t.lockFact(memory.Scope(scope), key)
}

// current reads and locks (FOR UPDATE, to the end of the write) the head
// of a row the caller may reach: a concurrent write of the row waits,
// then reads the revision this one leaves.
func (t *tx) current(id string) (head, error) {
	if unstorable(id) {
		return head{}, &memory.NotFoundError{ID: id}
	}
	if err := t.lockRowFact(id); err != nil {
		return head{}, err
	}
	var h head
	var sc string
	var raw [5][]byte
	err := t.queryRow(sqlCurrent, id).Scan(&h.rid, &sc, &h.rev, &raw[0], &raw[1], &raw[2], &raw[3], &raw[4], &h.tier)
	h.scope = memory.Scope(sc)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !t.acc.Allows(h.scope) {
		// A row outside the caller's scopes is reported as missing, so its
		// existence does not leak.
		return head{}, &memory.NotFoundError{ID: id}
	}
	if err != nil {
		return head{}, fmt.Errorf("read memory %s: %w", id, err)
	}
	for i, p := range []*any{&h.count, &h.access, &h.injected, &h.injectedAt, &h.confirmedAt} {
		if raw[i] != nil {
			if err := jsonValue(raw[i], p); err != nil {
				return head{}, fmt.Errorf("read memory %s: %w", id, err)
			}
		}
	}
	return h, nil
}

func (t *tx) Update(m *memory.Memory) error {
	if err := m.ValidateFields(); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	if !t.acc.Allows(m.Scope) {
		// Checked before the row is read (and locked) only when the row
		// is reachable: otherwise NotFound wins, as in the SQLite store.
		if _, err := t.Get(m.ID); err != nil {
			return err
		}
		return &memory.ScopeDeniedError{Scope: m.Scope}
	}
	key, from, until, inv, arch := validityArgs(m.Metadata)
	if err := t.lockFact(m.Scope, key); err != nil {
		return err
	}
	h, err := t.current(m.ID)
	if err != nil {
		return err
	}
	if h.rev != m.Revision {
		return &memory.ConflictError{ID: m.ID, Expected: m.Revision, Actual: h.rev}
	}
	if err := t.checkVector(m.Vector); err != nil {
		return fmt.Errorf("memory %s: %w", m.ID, err)
	}
	keepUsage(h, m)
	if err := t.keepTier(h, m); err != nil {
		return err
	}
	md, err := encodeMetadata(m.Metadata)
	if err != nil {
		return err
	}
	// The row's old scope's fact is locked too when the update moves it
	// out of a fact (the caller read it under that lock, if it read it).
	updated := max(t.now, m.UpdatedAt+1) // updated_at never goes backwards
	if err := t.unindexRow(h.rid); err != nil {
		return err
	}
	if err := t.keepVersion(h.rid, store.ChangeUpdate); err != nil {
		return fmt.Errorf("update memory %s: %w", m.ID, err)
	}
	slot, err := t.vecSlot()
	if err != nil {
		return fmt.Errorf("update memory %s: %w", m.ID, err)
	}
	tag, err := t.exec(sqlUpdateSlot[slot],
		m.Text, string(m.Category), string(m.Scope), m.Importance, updated,
		int32(m.Format), md, rowcodec.EncodeVector(m.Vector), key, from, until, inv, arch, string(memory.SmartCategoryOf(*m)), h.rid, h.rev)
	if err != nil {
		return fmt.Errorf("update memory %s: %w", m.ID, err)
	}
	if n := tag.RowsAffected(); n != 1 {
		return fmt.Errorf("update memory %s: %d rows changed, expected 1", m.ID, n)
	}
	m.Revision = h.rev + 1
	m.UpdatedAt = updated
	t.touched(h.rid)
	return t.indexRow(h.rid, m)
}

func (t *tx) Delete(id string, expectedRevision int64) error {
	h, err := t.current(id)
	if err != nil {
		return err
	}
	if expectedRevision != 0 && h.rev != expectedRevision {
		return &memory.ConflictError{ID: id, Expected: expectedRevision, Actual: h.rev}
	}
	if err := t.unindexRow(h.rid); err != nil {
		return err
	}
	if err := t.keepVersion(h.rid, store.ChangeDelete); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	if _, err := t.exec("DELETE FROM memories WHERE rid = $1", h.rid); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	if err := t.tombstone(id); err != nil {
		return fmt.Errorf("delete memory %s: %w", id, err)
	}
	return nil
}

// tombstone records that id was deleted by this write (its seq is
// stamped at commit).
func (t *tx) tombstone(id string) error {
	if _, err := t.exec(`INSERT INTO tombstones(id, seq, deleted_at) VALUES ($1, 0, $2)
		ON CONFLICT (id) DO UPDATE SET seq = 0, deleted_at = excluded.deleted_at`, id, t.now); err != nil {
		return err
	}
	t.tombs = append(t.tombs, id)
	return nil
}

// keepUsage carries the stored recall counters into m when they are ahead
// of m's: Touch does not bump the revision, so m may have been read
// before recalls were recorded, and writing it must not undo them. The
// same holds for the auto-recall counters Bump only grows. Only a value
// that reads as a count or a time (memory.MetaNumber, MetaMillis) is
// compared; a given value that does not is left as the caller set it.
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

// keepTier carries the stored tier into m when m's tier is one the row was
// moved away from at its current revision: m was read before the move
// (a move bumps no revision, so the revision check passed), and writing it
// must not undo the move.
func (t *tx) keepTier(h head, m *memory.Memory) error {
	given := normTier(m.Metadata[memory.KeyTier])
	if given == h.tier {
		return nil
	}
	var one int
	err := t.queryRow("SELECT 1 FROM tier_transitions WHERE memory_id = $1 AND revision = $2 AND from_tier = $3 LIMIT 1", m.ID, h.rev, given).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read tier moves of memory %s: %w", m.ID, err)
	}
	m.Metadata = memory.CloneMetadata(m.Metadata)
	m.Metadata[memory.KeyTier] = h.tier
	return nil
}

// sqlTouch grows access_count by n and moves last_accessed_at to at if
// later. A value of the wrong type counts as 0 (trove_int), rather than
// failing the recall being recorded.
const sqlTouch = `UPDATE memories SET metadata = metadata || jsonb_build_object(
	'access_count', coalesce(trove_int(metadata->'access_count'), 0) + $1::bigint,
	'last_accessed_at', greatest(coalesce(trove_int(metadata->'last_accessed_at'), 0), $2::bigint))
	WHERE rid = $3`

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

var metaKey = lazyre.New(`^[A-Za-z0-9_]{1,64}$`)

// Bump applies bookkeeping (auto-recall feedback) in SQL from the stored
// values: see store.Tx. Not an edit: no revision, seq or history.
func (t *tx) Bump(id string, b store.Bump) error {
	h, err := t.current(id)
	if err != nil {
		return err
	}
	var a args
	imp := "importance"
	switch {
	case b.Importance > 0:
		imp = "least(importance + " + a.add(b.Importance) + "::float8, greatest(importance, " + a.add(b.Ceil) + "::float8))"
	case b.Importance < 0:
		imp = "greatest(importance + " + a.add(b.Importance) + "::float8, least(importance, " + a.add(b.Floor) + "::float8))"
	}
	var sets []string
	for _, k := range slices.Sorted(maps.Keys(b.Add)) {
		if !metaKey.MatchString(k) {
			return memory.Invalidf("bump %s: metadata key %q is not letters, digits and underscores", id, k)
		}
		sets = append(sets, "'"+k+"', coalesce(trove_int(metadata->'"+k+"'), 0) + "+a.add(b.Add[k])+"::bigint")
	}
	for _, k := range slices.Sorted(maps.Keys(b.Set)) {
		if !metaKey.MatchString(k) {
			return memory.Invalidf("bump %s: metadata key %q is not letters, digits and underscores", id, k)
		}
		if _, both := b.Add[k]; both {
			return memory.Invalidf("bump %s: metadata key %q is both added to and set", id, k)
		}
		sets = append(sets, "'"+k+"', "+a.add(b.Set[k])+"::bigint")
	}
	md := "metadata"
	if len(sets) > 0 {
		md = "metadata || jsonb_build_object(" + strings.Join(sets, ", ") + ")"
	}
	q := "UPDATE memories SET importance = " + imp + ", metadata = " + md + " WHERE rid = " + a.add(h.rid)
	if _, err := t.exec(q, a...); err != nil {
		return fmt.Errorf("record feedback on memory %s: %w", id, err)
	}
	return nil
}

// vecSlot returns the active vector slot, reading it once per write with
// a share lock on meta embed_slot: a slot switch (an UPDATE of that row)
// waits for this write to end, and this write for the switch, so no write
// stores a vector in the slot that was just retired.
func (t *tx) vecSlot() (int, error) {
	if !t.slotRead {
		// The embedding space comes in the same round trip (checkVector
		// reads it next).
		var v string
		var model, dims *string
		err := t.queryRow(`SELECT s.value, (SELECT value FROM meta WHERE key = 'embed_model'), (SELECT value FROM meta WHERE key = 'embed_dims')
			FROM meta s WHERE s.key = 'embed_slot' FOR SHARE OF s`).Scan(&v, &model, &dims)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("read the active vector slot: %w", err)
		}
		t.slot, _ = strconv.Atoi(v)
		t.slotRead = true
		if t.space == nil && err == nil {
			sp := store.Space{}
			if model != nil {
				sp.Model = *model
			}
			if dims != nil {
				if sp.Dimensions, err = strconv.Atoi(*dims); err != nil {
					return 0, fmt.Errorf("read embedding space: meta embed_dims %q is not a number (run trove doctor)", *dims)
				}
			}
			t.space = &sp
		}
	}
	return t.slot, nil
}

// checkVector enforces the store's embedding space, recording it on the
// first vector written (a concurrent first writer's record wins: both
// insert-or-nothing, then compare with what is recorded).
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
		if want.Dimensions != 0 && want.Dimensions != len(v) {
			return fmt.Errorf("%w: vector has %d dimensions, but the embedder %s is configured for %d",
				memory.ErrDimensions, len(v), want.Model, want.Dimensions)
		}
		if _, err := t.exec(`INSERT INTO meta(key, value) VALUES ('embed_model', $1), ('embed_dims', $2)
			ON CONFLICT (key) DO NOTHING`, want.Model, strconv.Itoa(len(v))); err != nil {
			return fmt.Errorf("record embedding space: %w", err)
		}
		sp, err := readSpace(t.ctx, t.tx)
		if err != nil {
			return err
		}
		t.space = &sp
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
