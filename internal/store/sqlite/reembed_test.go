package sqlite

import (
	"context"
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
	if c.Rows != 5 || c.Pending != 0 {
		t.Fatalf("counts: %+v", c)
	}
	rb, err := s.RollbackEmbedding(ctx)
	// Row 1 was written after the switch: no old vector matches its text.
	if err != nil || rb.Switched != 4 || rb.Queued != 1 {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	id, _ = s.Identity(ctx)
	if id.Model != "old" || id.Dimensions != 2 || id.Previous.Model != "new" || id.OldKept {
		t.Fatalf("identity after rollback: %+v", id)
	}
	if _, err := s.RollbackEmbedding(ctx); err == nil {
		t.Fatal("a second rollback did something")
	}
}
