package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/rowcodec"
	"github.com/trove-memory/trove/internal/store/storetest"
)

func reembedStore(t *testing.T, n int) (*Store, []memory.Memory) {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), Options{Space: store.Space{Model: "old", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, storetest.ReembedRows(t, s, n)
}

func TestReembed(t *testing.T) {
	storetest.RunReembed(t,
		func(t *testing.T, n int) (storetest.ReembedStore, []memory.Memory) { return reembedStore(t, n) },
		func(ctx context.Context, rs storetest.ReembedStore, slot, dims int) (int, error) {
			s := rs.(*Store)
			var n int
			err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM memories WHERE length("+slotColumn(slot)+") = ?", dims*4).Scan(&n)
			return n, err
		})
}

// undoVectorSlots takes a store back from schema 12 to schema 11 (the
// caller sets user_version), as a trove before the slots left it.
var undoVectorSlots = []string{
	"ALTER TABLE memories DROP COLUMN vector_b",
	"CREATE TABLE reembed_vectors (rid INTEGER PRIMARY KEY, seq INTEGER NOT NULL, vector BLOB NOT NULL)",
	"CREATE TABLE reembed_old (rid INTEGER PRIMARY KEY, seq INTEGER NOT NULL, vector BLOB NOT NULL)",
}

// A store of schema 11 in the middle of a reembed keeps its current
// target vectors in the other slot (a stale one is dropped), and resumes.
func TestMigrationCarriesShadowVectors(t *testing.T) {
	ctx := context.Background()
	s, ms := reembedStore(t, 3)
	path := s.path
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	vec := rowcodec.EncodeVector([]float32{9, 9, 9})
	for _, q := range append(undoVectorSlots,
		"INSERT INTO meta(key, value) VALUES ('reembed_target_model', 'new'), ('reembed_target_dims', 3)",
		"INSERT INTO reembed_vectors(rid, seq, vector) SELECT rid, seq, x'"+hexOf(vec)+"' FROM memories WHERE id IN ('"+ms[0].ID+"', '"+ms[1].ID+"')",
		"UPDATE reembed_vectors SET seq = seq - 1 WHERE rid = (SELECT rid FROM memories WHERE id = '"+ms[1].ID+"')",
		"PRAGMA user_version = 11") {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	s, err = Open(ctx, path, Options{Space: store.Space{Model: "old", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.ReembedCounts(ctx)
	if err != nil || c.Shadowed != 1 || c.Rows != 3 {
		t.Fatalf("counts after the migration: %+v %v", c, err)
	}
	if resumed, err := s.BeginReembed(ctx, store.Space{Model: "new", Dimensions: 3}); err != nil || !resumed {
		t.Fatalf("begin: %v %v, want resumed", resumed, err)
	}
	if todo, _ := s.ReembedTodo(ctx, 0, 10); len(todo) != 2 {
		t.Fatalf("todo: %+v, want rows 1 and 2", todo)
	}
	if m, _ := s.Get(ctx, memory.Owner(), ms[0].ID); len(m.Vector) != 2 {
		t.Fatalf("read the target vector before the switch: %v", m.Vector)
	}
}

func hexOf(b []byte) string { return fmt.Sprintf("%X", b) }
