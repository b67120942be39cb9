package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// TestPurgeLeavesNoTrace purges a memory that was edited, deleted,
// restored and given a reembed's shadow vector, then looks for its id
// and its words in every table of the store.
func TestPurgeLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	own := memory.Owner()
	m := memory.Memory{ID: "secret-1", Text: "the zebra password is hunter2", Vector: []float32{1, 0, 0, 0}}
	other := memory.Memory{ID: "keep-1", Text: "an unrelated zebra", Vector: []float32{0, 1, 0, 0}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Write(ctx, own, func(tx store.Tx) error {
		if err := tx.Insert(&other); err != nil {
			return err
		}
		return tx.Insert(&m)
	}))
	m.Text = "the zebra password is hunter3"
	must(s.Write(ctx, own, func(tx store.Tx) error { return tx.Update(&m) }))
	must(s.Write(ctx, own, func(tx store.Tx) error { return tx.Delete(m.ID, 0) }))
	vs, err := s.History(ctx, own, m.ID, 1)
	must(err)
	back := vs[0].Memory()
	back.Revision++
	back.Vector = []float32{1, 0, 0, 0}
	must(s.Write(ctx, own, func(tx store.Tx) error { return tx.Restore(&back) }))
	_, err = s.wdb.ExecContext(ctx, "UPDATE memories SET vector_b = vector WHERE id = ?", m.ID) // a target or kept vector
	must(err)
	var rid int64
	must(s.rdb.QueryRowContext(ctx, "SELECT rid FROM memories WHERE id = ?", m.ID).Scan(&rid))
	seqBefore, err := s.ChangeSeq(ctx)
	must(err)

	must(s.Write(ctx, own, func(tx store.Tx) error { _, err := tx.Purge(m.ID); return err }))

	for _, q := range []struct{ what, sql string }{
		{"row", "SELECT count(*) FROM memories WHERE id = 'secret-1'"},
		{"history", "SELECT count(*) FROM history WHERE id = 'secret-1'"},
		{"tombstone", "SELECT count(*) FROM tombstones WHERE id = 'secret-1'"},
		{"vector in either slot", "SELECT count(*) FROM memories WHERE rid = " + itoa(rid)},
		{"fts entry", "SELECT count(*) FROM memories_fts WHERE rowid = " + itoa(rid)},
		{"fts words", "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH 'hunter2 OR hunter3 OR password'"},
		{"fts vocabulary", "SELECT count(*) FROM memories_fts_vocab WHERE term IN ('hunter2', 'hunter3', 'password')"},
	} {
		var n int
		must(s.rdb.QueryRowContext(ctx, q.sql).Scan(&n))
		if n != 0 {
			t.Errorf("%s left after purge: %d", q.what, n)
		}
	}
	// No table holds the id or the text, apart from the erasure record's id.
	tables, err := s.rdb.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'memories_fts_%' AND name != 'memories_fts'")
	must(err)
	var names []string
	for tables.Next() {
		var n string
		must(tables.Scan(&n))
		names = append(names, n)
	}
	tables.Close()
	for _, n := range names {
		rows, err := s.rdb.QueryContext(ctx, "SELECT * FROM "+n)
		must(err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(rows.Scan(ptrs...))
			for i, v := range vals {
				str := ""
				switch x := v.(type) {
				case string:
					str = x
				case []byte:
					str = string(x)
				}
				if strings.Contains(str, "hunter") || strings.Contains(str, "password") {
					t.Errorf("table %s column %s still holds the content", n, cols[i])
				}
				if strings.Contains(str, "secret-1") && !(n == "erasures" && cols[i] == "id") {
					t.Errorf("table %s column %s still holds the id", n, cols[i])
				}
			}
		}
		rows.Close()
	}
	var erased, versions int
	must(s.rdb.QueryRowContext(ctx, "SELECT count(*), max(versions) FROM erasures WHERE id = 'secret-1'").Scan(&erased, &versions))
	if erased != 1 || versions != 2 {
		t.Errorf("erasure log: %d records, %d versions; want 1 record of 2 versions", erased, versions)
	}
	h, err := s.TombstoneHorizon(ctx)
	must(err)
	if h <= seqBefore {
		t.Errorf("tombstone horizon %d not raised past %d: change-feed readers would keep the vector", h, seqBefore)
	}
	if _, err := s.Get(ctx, own, other.ID); err != nil {
		t.Errorf("the other row: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A purge removes the vector index file and any temporary one: they may
// hold the erased row's vector and id. Other writes leave them.
func TestPurgeRemovesIndexFile(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	own := memory.Owner()
	for _, id := range []string{"a", "b"} {
		m := memory.Memory{ID: id, Text: "row " + id, Vector: []float32{1, 0, 0, 0}}
		if err := s.Write(ctx, own, func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
			t.Fatal(err)
		}
	}
	file := s.indexFile()
	files := []string{file, file + ".tmp-123"}
	for _, f := range files {
		if err := os.WriteFile(f, []byte("index"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(ctx, own, func(tx store.Tx) error { return tx.Delete("b", 0) }); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("a delete removed %s: %v", f, err)
		}
	}
	if err := s.Write(ctx, own, func(tx store.Tx) error { _, err := tx.Purge("a"); return err }); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("after the purge %s is still there (%v)", f, err)
		}
	}
}
