package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

func reembedStore(t *testing.T, n int) (*Store, []memory.Memory) {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), Options{Space: store.Space{Model: "old", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ms := make([]memory.Memory, n)
	err = s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
		for i := range ms {
			ms[i] = memory.Memory{Text: "row " + string(rune('a'+i)), Vector: []float32{1, float32(i)}, Metadata: map[string]any{"k": i}}
			if err := tx.Insert(&ms[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, ms
}

func embedAll(rows []store.EmbedRow, dims int) []store.EmbedRow {
	for i := range rows {
		rows[i].Vector = make([]float32, dims)
		rows[i].Vector[0] = float32(len(rows[i].Text))
	}
	return rows
}

// A reembed writes target vectors beside the old ones; a row whose text
// changes meanwhile is not written and stays to do; the switch moves every
// current target vector in, leaves a row changed at the last moment
// pending, records the identity, and keeps revisions and metadata.
func TestReembedShadowSwitchRollback(t *testing.T) {
	ctx := context.Background()
	s, ms := reembedStore(t, 5)
	target := store.Space{Model: "new", Dimensions: 3}
	if resumed, err := s.BeginReembed(ctx, target); err != nil || resumed {
		t.Fatalf("begin: %v %v", resumed, err)
	}
	todo, err := s.ReembedTodo(ctx, 0, 100)
	if err != nil || len(todo) != 5 {
		t.Fatalf("todo: %d %v", len(todo), err)
	}
	// Row 0's text changes after it was read: its vector must not be kept.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, _ := tx.Get(ms[0].ID)
		m.Text, m.Vector = "changed text", []float32{2, 2}
		return tx.Update(&m)
	}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PutShadow(ctx, target, embedAll(todo, 3))
	if err != nil || n != 4 {
		t.Fatalf("put shadow: %d %v, want 4", n, err)
	}
	if resumed, err := s.BeginReembed(ctx, target); err != nil || !resumed {
		t.Fatalf("begin again: %v %v, want resumed", resumed, err)
	}
	todo, _ = s.ReembedTodo(ctx, 0, 100)
	if len(todo) != 1 || todo[0].ID != ms[0].ID {
		t.Fatalf("todo after the change: %+v", todo)
	}
	// Row 1 changes at the last moment, after its target vector was written.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, _ := tx.Get(ms[1].ID)
		m.Text, m.Vector = "late change", []float32{3, 3}
		return tx.Update(&m)
	}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Get(ctx, memory.Owner(), ms[2].ID)
	res, err := s.SwitchEmbedding(ctx, target, []float32{1, 0, 0}, embedAll(todo, 3), true)
	if err != nil || res.Switched != 4 || res.Queued != 1 || res.KeptOld != 5 {
		t.Fatalf("switch: %+v %v", res, err)
	}
	id, _ := s.Identity(ctx)
	if id.Space != target || id.Previous.Model != "old" || id.Target.Model != "" || len(id.Probe) != 3 || !id.OldKept {
		t.Fatalf("identity after switch: %+v", id)
	}
	after, _ := s.Get(ctx, memory.Owner(), ms[2].ID)
	if after.Revision != before.Revision || after.UpdatedAt != before.UpdatedAt || after.Metadata["k"] != before.Metadata["k"] || len(after.Vector) != 3 {
		t.Fatalf("row changed beyond its vector: %+v -> %+v", before, after)
	}
	pend, _ := s.PendingRows(ctx, 0, 100)
	if len(pend) != 1 || pend[0].ID != ms[1].ID {
		t.Fatalf("pending: %+v", pend)
	}
	// An old-model write now fails inside the transaction (never mixes).
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		return tx.Insert(&memory.Memory{Text: "old model", Vector: []float32{1, 1}})
	})
	if err == nil {
		t.Fatal("a vector of the old model was written after the switch")
	}
	if n, err := s.PutVectors(ctx, target, embedAll(pend, 3)); err != nil || n != 1 {
		t.Fatalf("put pending: %d %v", n, err)
	}
	c, _ := s.ReembedCounts(ctx)
	if c.Rows != 5 || c.Pending != 0 || c.Other != 5 || c.Clear != 0 {
		t.Fatalf("counts: %+v", c)
	}
	// Row 3's text changes after the switch: its kept old vector embeds
	// the old text, so it is dropped in the same write.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, _ := tx.Get(ms[3].ID)
		m.Text, m.Vector = "after the switch", []float32{} // written by a process on the old model: no vector
		return tx.Update(&m)
	}); err != nil {
		t.Fatal(err)
	}
	rb, err := s.RollbackEmbedding(ctx)
	// Row 1 keeps the old vector of its last-moment text ({3, 3}); row 3
	// has none of its new text.
	if err != nil || rb.Switched != 4 || rb.Queued != 1 {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	id, _ = s.Identity(ctx)
	if id.Model != "old" || id.Dimensions != 2 || id.Previous.Model != "new" || id.OldKept || !id.Clearing || id.Slot != 0 || id.Generation != 2 {
		t.Fatalf("identity after rollback: %+v", id)
	}
	if m, _ := s.Get(ctx, memory.Owner(), ms[1].ID); len(m.Vector) != 2 || m.Vector[0] != 3 {
		t.Fatalf("row 1 after rollback: %v", m.Vector)
	}
	if pend, _ := s.PendingRows(ctx, 0, 100); len(pend) != 1 || pend[0].ID != ms[3].ID {
		t.Fatalf("pending after rollback: %+v", pend)
	}
	if _, err := s.RollbackEmbedding(ctx); err == nil {
		t.Fatal("a second rollback did something")
	}
	// The new model's vectors are cleared from the other slot.
	if n, err := s.ClearOtherSlot(ctx, 2, func(int, float64) {}); err != nil || n != 4 {
		t.Fatalf("clear: %d %v, want 4", n, err)
	}
	if c, _ := s.ReembedCounts(ctx); c.Other != 0 || c.Pending != 1 {
		t.Fatalf("counts after the clear: %+v", c)
	}
	if id, _ := s.Identity(ctx); id.Clearing {
		t.Fatalf("still clearing: %+v", id)
	}
}

// A switch without --keep-old leaves the old model's vectors to clear;
// the clear runs in short writes, survives being stopped at any batch,
// and nothing writes the slot meanwhile. A new reembed after a switch
// with --keep-old gives up the kept vectors (rollback is no longer
// possible) and clears them before writing its own.
func TestReembedClearOtherSlot(t *testing.T) {
	ctx := context.Background()
	s, _ := reembedStore(t, 7)
	target := store.Space{Model: "new", Dimensions: 3}
	move := func(target store.Space, keep bool) {
		t.Helper()
		if _, err := s.BeginReembed(ctx, target); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClearOtherSlot(ctx, 0, func(int, float64) {}); err != nil {
			t.Fatal(err)
		}
		todo, _ := s.ReembedTodo(ctx, 0, 100)
		if len(todo) != 7 {
			t.Fatalf("todo: %d rows, want 7", len(todo))
		}
		if _, err := s.SwitchEmbedding(ctx, target, make([]float32, target.Dimensions), embedAll(todo, target.Dimensions), keep); err != nil {
			t.Fatal(err)
		}
	}
	move(target, false)
	id, _ := s.Identity(ctx)
	if !id.Clearing || id.OldKept || id.Slot != 1 || id.Generation != 1 {
		t.Fatalf("identity after the switch: %+v", id)
	}
	if _, err := s.BeginReembed(ctx, store.Space{Model: "third", Dimensions: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutShadow(ctx, store.Space{Model: "third", Dimensions: 4}, nil); err == nil {
		t.Fatal("a target vector was written over vectors still to clear")
	}
	// Stopped after its first batch.
	stopped, cancel := context.WithCancel(ctx)
	n, err := s.ClearOtherSlot(stopped, 3, func(int, float64) { cancel() })
	if err == nil || n != 3 {
		t.Fatalf("stopped clear: %d %v", n, err)
	}
	if c, _ := s.ReembedCounts(ctx); c.Clear != 4 {
		t.Fatalf("counts after a stopped clear: %+v", c)
	}
	if n, err := s.ClearOtherSlot(ctx, 3, func(int, float64) {}); err != nil || n != 4 {
		t.Fatalf("resumed clear: %d %v", n, err)
	}
	if c, _ := s.ReembedCounts(ctx); c.Clear != 0 || c.Other != 0 || c.Shadowed != 0 {
		t.Fatalf("counts after the clear: %+v", c)
	}

	move(store.Space{Model: "third", Dimensions: 4}, true)
	if id, _ := s.Identity(ctx); !id.OldKept || id.Clearing || id.Slot != 0 {
		t.Fatalf("identity after a switch with keep-old: %+v", id)
	}
	move(store.Space{Model: "fourth", Dimensions: 5}, false)
	id, _ = s.Identity(ctx)
	if id.Model != "fourth" || id.Previous.Model != "third" || id.OldKept || !id.Clearing {
		t.Fatalf("identity after a reembed over kept vectors: %+v", id)
	}
	if _, err := s.RollbackEmbedding(ctx); err == nil {
		t.Fatal("rolled back over vectors given up")
	}
	var got int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM memories WHERE length("+slotColumn(id.Slot)+") = 20").Scan(&got); err != nil || got != 7 {
		t.Fatalf("%d rows with the fourth model's vector in the active slot (%v), want 7", got, err)
	}
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
	vec := encodeVector([]float32{9, 9, 9})
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
