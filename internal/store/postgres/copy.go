package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The store's side of trove migrate-store (store.Copier): tables read and
// written as they are, in key order (text keys COLLATE "C": bytewise, as
// SQLite orders them). Writes run in the store's own write transactions
// (ownerTx), so the text index, its statistics and the change sequence
// hold what a copy writes; rows keep their ids (history hid, capture
// buffer and tier move ids), and the id sequences move past them.

var _ store.Copier = (*Store)(nil)

// copySerials are the tables whose copied key is a bigserial.
var copySerials = map[string]string{"history": "hid", "capture_buffer": "id", "tier_transitions": "id"}

func copyTable(name string) (store.CopyTable, error) {
	t, ok := store.CopyTableNamed(name)
	if !ok {
		return t, fmt.Errorf("copy: no table %q", name)
	}
	return t, nil
}

// copySelect is the select list: integers as bigint, JSON as its text.
func copySelect(t store.CopyTable) string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		switch c.Kind {
		case store.CopyInt:
			out[i] = c.Name + "::bigint"
		case store.CopyJSON:
			out[i] = c.Name + "::text"
		default:
			out[i] = c.Name
		}
	}
	return strings.Join(out, ", ")
}

// copyOrder is the key columns (every column of a whole table), text
// ones bytewise.
func copyOrder(t store.CopyTable) []string {
	n := t.Key
	if t.Whole {
		n = len(t.Columns)
	}
	out := make([]string, n)
	for i := range n {
		c := t.Columns[i]
		out[i] = c.Name
		if c.Kind == store.CopyText {
			out[i] += ` COLLATE "C"`
		}
	}
	return out
}

// CopyCount counts the rows of table.
func (s *Store) CopyCount(ctx context.Context, table string) (int64, error) {
	t, err := copyTable(table)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+t.Name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", t.Name, err)
	}
	return n, nil
}

// CopyRows returns at most limit rows of table after after's key.
func (s *Store) CopyRows(ctx context.Context, table string, after []any, limit int) ([][]any, error) {
	t, err := copyTable(table)
	if err != nil {
		return nil, err
	}
	order := copyOrder(t)
	q := "SELECT " + copySelect(t) + " FROM " + t.Name
	var args []any
	if after != nil && !t.Whole {
		ph := make([]string, len(order))
		for i := range order {
			ph[i] = "$" + strconv.Itoa(i+1)
			if t.Columns[i].Kind == store.CopyText {
				ph[i] += "::text"
			} else {
				ph[i] += "::bigint"
			}
			args = append(args, after[i])
		}
		q += " WHERE (" + strings.Join(order, ", ") + ") > (" + strings.Join(ph, ", ") + ")"
	}
	q += " ORDER BY " + strings.Join(order, ", ") + " LIMIT " + strconv.Itoa(limit)
	return s.copyQuery(ctx, t, q, args...)
}

// CopyLast returns the row of table with the greatest key.
func (s *Store) CopyLast(ctx context.Context, table string) ([]any, error) {
	t, err := copyTable(table)
	if err != nil {
		return nil, err
	}
	order := copyOrder(t)
	for i := range order {
		order[i] += " DESC"
	}
	rows, err := s.copyQuery(ctx, t, "SELECT "+copySelect(t)+" FROM "+t.Name+" ORDER BY "+strings.Join(order, ", ")+" LIMIT 1")
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

func (s *Store) copyQuery(ctx context.Context, t store.CopyTable, q string, args ...any) ([][]any, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		raw, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.Name, err)
		}
		for i, c := range t.Columns {
			if raw[i], err = store.CopyValue(c.Kind, raw[i]); err != nil {
				return nil, fmt.Errorf("read %s column %s: %w", t.Name, c.Name, err)
			}
		}
		out = append(out, raw)
	}
	return out, rows.Err()
}

// PutCopyRows writes rows into table in one write transaction.
func (s *Store) PutCopyRows(ctx context.Context, table string, rows [][]any) error {
	t, err := copyTable(table)
	if err != nil {
		return err
	}
	_, err = s.ownerTx(ctx, func(tx *tx) error {
		for _, r := range rows {
			if len(r) != len(t.Columns) {
				return fmt.Errorf("copy %s: a row of %d values, expected %d", t.Name, len(r), len(t.Columns))
			}
		}
		if t.Name == "memories" {
			return tx.putCopyMemories(t, rows)
		}
		for _, r := range rows {
			if err := tx.putCopyRow(t, r); err != nil {
				return err
			}
		}
		if col, ok := copySerials[t.Name]; ok && len(rows) > 0 {
			_, err := tx.exec(fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', '%s'), (SELECT max(%s) FROM %s))", t.Name, col, col, t.Name))
			if err != nil {
				return fmt.Errorf("copy %s: move the id sequence: %w", t.Name, err)
			}
		}
		return nil
	})
	return err
}

// copyPlaceholders are $from.. for the columns, cast to their types.
func copyPlaceholders(cs []store.CopyColumn, from int) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = "$" + strconv.Itoa(from+i)
		switch c.Kind {
		case store.CopyJSON:
			out[i] += "::jsonb"
		case store.CopyBytes:
			out[i] += "::bytea"
		}
	}
	return out
}

// putCopyMemories inserts copied memories as they are, with their text
// index (TextColumns), in one round trip: what Insert does for a row,
// without its second statement per row (indexRow) and with the stored
// columns of the source (both vector slots, the derived columns) instead
// of values derived again. Each row is stamped by the commit (touched) and
// counted into its scope's size; a row stating a fact takes the fact's
// lock first, as every write of one does.
func (t *tx) putCopyMemories(tb store.CopyTable, rows [][]any) error {
	if _, err := t.vecSlot(); err != nil { // share-locked against a slot switch
		return fmt.Errorf("copy memories: %w", err)
	}
	names := make([]string, len(tb.Columns))
	for i, c := range tb.Columns {
		names[i] = c.Name
	}
	factCol := slices.Index(names, "fact_key")
	q := "INSERT INTO memories(" + strings.Join(names, ", ") + ", tokens, doc_len) VALUES (" +
		strings.Join(copyPlaceholders(tb.Columns, 1), ", ") + fmt.Sprintf(", $%d::tsvector, $%d) ON CONFLICT (id) DO NOTHING RETURNING rid", len(names)+1, len(names)+2)
	var b pgx.Batch
	ms := make([]memory.Memory, len(rows))
	lens := make([]int, len(rows))
	for i, r := range rows {
		m, err := copyMemory(r)
		if err != nil {
			return err
		}
		if err := m.ValidateFields(); err != nil {
			return fmt.Errorf("copy memory %s: %w", m.ID, err)
		}
		if key, ok := r[factCol].(string); ok {
			if err := t.lockFact(m.Scope, &key); err != nil {
				return err
			}
		}
		tokens, n := TextColumns(&m)
		ms[i], lens[i] = m, n
		b.Queue(q, append(slices.Clone(r), tokens, n)...)
	}
	res := t.tx.SendBatch(t.ctx, &b)
	defer res.Close()
	for i, m := range ms {
		var rid int64
		err := res.QueryRow().Scan(&rid)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("copy memory %s: %w", m.ID, memory.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("copy memory %s: %w", m.ID, err)
		}
		t.touched(rid)
		t.countIndexed(m.Scope, lens[i])
	}
	return res.Close()
}

func (t *tx) putCopyRow(tb store.CopyTable, r []any) error {
	switch tb.Name {
	case "tombstones":
		if _, err := t.exec("INSERT INTO tombstones(id, seq, deleted_at) VALUES ($1, 0, $2)", r...); err != nil {
			return fmt.Errorf("copy tombstone %v: %w", r[0], err)
		}
		t.tombs = append(t.tombs, r[0].(string))
		return nil
	}
	names := make([]string, len(tb.Columns))
	for i, c := range tb.Columns {
		names[i] = c.Name
	}
	q := "INSERT INTO " + tb.Name + "(" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(copyPlaceholders(tb.Columns, 1), ", ") + ")"
	if _, err := t.exec(q, r...); err != nil {
		return fmt.Errorf("copy %s: %w", tb.Name, err)
	}
	return nil
}

// copyMemory is a copied memories row as a memory without vector.
func copyMemory(r []any) (memory.Memory, error) {
	str := func(i int) string { s, _ := r[i].(string); return s }
	num := func(i int) int64 { n, _ := r[i].(int64); return n }
	m := memory.Memory{ID: str(0), Text: str(1), Category: memory.Category(str(2)), Scope: memory.Scope(str(3)),
		CreatedAt: num(5), UpdatedAt: num(6), Revision: num(7), Format: memory.Format(num(8))}
	m.Importance, _ = r[4].(float64)
	md, err := decodeMetadata([]byte(str(9)))
	if err != nil {
		return m, fmt.Errorf("copy memory %s: %w", m.ID, err)
	}
	m.Metadata = md
	return m, nil
}

const keyMaintain = "maintain_last"

// CopyMeta returns the store-wide values a copy carries.
func (s *Store) CopyMeta(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	rows, err := s.pool.Query(ctx, "SELECT key, value FROM meta WHERE key = ANY($1::text[])", store.CopyMetaKeys)
	if err != nil {
		return nil, fmt.Errorf("read meta: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read meta: %w", err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read meta: %w", err)
	}
	if out[keySlot] == "0" { // absent is slot 0, on both backends alike
		delete(out, keySlot)
	}
	r, ok, err := s.LastMaintain(ctx)
	if err != nil {
		return nil, err
	}
	if ok {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		out[keyMaintain] = string(b)
	}
	return out, nil
}

// PutCopyMeta records the store-wide values of a copy.
func (s *Store) PutCopyMeta(ctx context.Context, meta map[string]string) error {
	_, err := s.ownerTx(ctx, func(t *tx) error {
		for _, k := range store.CopyMetaKeys {
			v, ok := meta[k]
			switch {
			case k == keyMaintain:
				if !ok {
					continue
				}
				var r store.MaintainRun
				if err := json.Unmarshal([]byte(v), &r); err != nil {
					return fmt.Errorf("copy meta %s: %w", k, err)
				}
				if last, had, err := t.s.LastMaintain(t.ctx); err != nil || (had && last == r) {
					if err != nil {
						return err
					}
					continue
				}
				if err := t.PutMaintainRun(r); err != nil {
					return err
				}
				continue
			case k == keySlot && !ok:
				v, ok = "0", true // the row every vector write share-locks
			}
			var val any
			if ok {
				val = v
			}
			if err := t.setMeta(k, val); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}
