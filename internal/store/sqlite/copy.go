package sqlite

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
)

// The store's side of trove migrate-store (store.Copier): tables read and
// written as they are, in key order. Writes run in the store's own write
// transactions (ownerTx), so the text index, its statistics and the
// change sequence hold what a copy writes.

var _ store.Copier = (*Store)(nil)

func copyTable(name string) (store.CopyTable, error) {
	t, ok := store.CopyTableNamed(name)
	if !ok {
		return t, fmt.Errorf("copy: no table %q", name)
	}
	return t, nil
}

func copyColumns(t store.CopyTable) string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// copyOrder is the key order (every column for a whole table).
func copyOrder(t store.CopyTable) []string {
	n := t.Key
	if t.Whole {
		n = len(t.Columns)
	}
	out := make([]string, n)
	for i := range n {
		out[i] = t.Columns[i].Name
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
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM "+t.Name).Scan(&n); err != nil {
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
	q := "SELECT " + copyColumns(t) + " FROM " + t.Name
	var args []any
	if after != nil && !t.Whole {
		q += " WHERE (" + strings.Join(order, ", ") + ") > (" + strings.Repeat("?, ", len(order)-1) + "?)"
		args = append(args, after[:len(order)]...)
	}
	q += " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	args = append(args, limit)
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
	rows, err := s.copyQuery(ctx, t, "SELECT "+copyColumns(t)+" FROM "+t.Name+" ORDER BY "+strings.Join(order, ", ")+" LIMIT 1")
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

func (s *Store) copyQuery(ctx context.Context, t store.CopyTable, q string, args ...any) ([][]any, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		raw := make([]any, len(t.Columns))
		dest := make([]any, len(raw))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
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

// sqliteValue is v as this store writes it (booleans as 0/1).
func sqliteValue(v any) any {
	if b, ok := v.(bool); ok {
		if b {
			return int64(1)
		}
		return int64(0)
	}
	return v
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
			if err := tx.putCopyRow(t, r); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func (t *tx) putCopyRow(tb store.CopyTable, r []any) error {
	args := make([]any, len(r))
	for i, v := range r {
		args[i] = sqliteValue(v)
		if s, ok := v.(string); ok && tb.Columns[i].Kind == store.CopyJSON {
			// As this store writes metadata (keys sorted, no spaces),
			// whatever spacing the source kept (jsonb's).
			var md map[string]any
			if err := json.Unmarshal([]byte(s), &md); err != nil {
				return fmt.Errorf("copy %s %v: %s is not a JSON object: %w", tb.Name, r[0], tb.Columns[i].Name, err)
			}
			enc, err := rowcodec.EncodeMetadata(md)
			if err != nil {
				return fmt.Errorf("copy %s %v: %w", tb.Name, r[0], err)
			}
			args[i] = enc
		}
	}
	switch tb.Name {
	case "memories":
		m, err := copyMemory(r)
		if err != nil {
			return err
		}
		// Inserted by the write path (text index, statistics, seq), then
		// given the source row's columns as stored.
		if err := t.Insert(&m); err != nil {
			return fmt.Errorf("copy memory %s: %w", m.ID, err)
		}
		set := make([]string, 0, len(tb.Columns)-1)
		for _, c := range tb.Columns[1:] {
			set = append(set, c.Name+" = ?")
		}
		_, err = t.exec("UPDATE memories SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args[1:], args[0])...)
		if err != nil {
			return fmt.Errorf("copy memory %s: %w", m.ID, err)
		}
		return nil
	case "tombstones":
		_, err := t.exec("INSERT INTO tombstones(id, deleted_at, seq) VALUES (?, ?, ?)", args[0], args[1], t.seq)
		if err != nil {
			return fmt.Errorf("copy tombstone %v: %w", args[0], err)
		}
		return nil
	}
	q := "INSERT INTO " + tb.Name + "(" + copyColumns(tb) + ") VALUES (" + strings.Repeat("?, ", len(args)-1) + "?)"
	if _, err := t.exec(q, args...); err != nil {
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
	if err := json.Unmarshal([]byte(str(9)), &m.Metadata); err != nil {
		return m, fmt.Errorf("copy memory %s: metadata is not JSON: %w", m.ID, err)
	}
	return m, nil
}

// The meta values that are integers in this store.
var copyIntKeys = []string{"embed_dims", "embed_previous_dims", "reembed_target_dims", "reembed_old_kept",
	"embed_slot", "embed_slot_clear", "embed_generation"}

func isProbeKey(k string) bool { return k == keyProbe || k == keyPrevProbe }

// CopyMeta returns the store-wide values a copy carries.
func (s *Store) CopyMeta(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	rows, err := s.rdb.QueryContext(ctx, "SELECT key, value FROM meta")
	if err != nil {
		return nil, fmt.Errorf("read meta: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v any
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read meta: %w", err)
		}
		if !slices.Contains(store.CopyMetaKeys, k) || v == nil {
			continue
		}
		switch v := v.(type) {
		case []byte:
			if isProbeKey(k) {
				out[k] = base64.StdEncoding.EncodeToString(v)
			} else {
				out[k] = string(v)
			}
		case string:
			if isProbeKey(k) {
				out[k] = base64.StdEncoding.EncodeToString([]byte(v))
			} else {
				out[k] = v
			}
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case float64:
			out[k] = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	if out[keySlot] == "0" { // absent is slot 0, on both backends alike
		delete(out, keySlot)
	}
	return out, rows.Err()
}

// PutCopyMeta records the store-wide values of a copy.
func (s *Store) PutCopyMeta(ctx context.Context, meta map[string]string) error {
	_, err := s.ownerTx(ctx, func(t *tx) error {
		for _, k := range store.CopyMetaKeys {
			v, ok := meta[k]
			var val any = v
			switch {
			case !ok:
				val = nil
			case isProbeKey(k):
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return fmt.Errorf("copy meta %s: not base64: %w", k, err)
				}
				val = b
			case slices.Contains(copyIntKeys, k):
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fmt.Errorf("copy meta %s: %q is not an integer", k, v)
				}
				val = n
			}
			if err := t.setMeta(k, val); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}
