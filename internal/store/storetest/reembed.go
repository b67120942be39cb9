package storetest

import (
	"context"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// ReembedStore is what the reembed tests need of a backend: a store with
// vector slots (the methods reembed.Backend names).
type ReembedStore interface {
	store.Store
	Identity(ctx context.Context) (store.Identity, error)
	BeginReembed(ctx context.Context, target store.Space) (resumed bool, err error)
	ReembedTodo(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error)
	PutShadow(ctx context.Context, target store.Space, rows []store.EmbedRow) (int, error)
	SwitchEmbedding(ctx context.Context, target store.Space, probe []float32, final []store.EmbedRow, keepOld bool) (store.SwitchResult, error)
	PendingRows(ctx context.Context, afterRID int64, limit int) ([]store.EmbedRow, error)
	PutVectors(ctx context.Context, sp store.Space, rows []store.EmbedRow) (int, error)
	RollbackEmbedding(ctx context.Context) (store.SwitchResult, error)
	ClearOtherSlot(ctx context.Context, batch int, progress func(cleared int, holdMS float64)) (int, error)
	ReembedCounts(ctx context.Context) (store.ReembedCounts, error)
}

// ReembedOpener returns a fresh store of the space {old, 2} holding the n
// rows ReembedRows writes; the caller closes it (t.Cleanup).
type ReembedOpener func(t *testing.T, n int) (ReembedStore, []memory.Memory)

// SlotVectorCounter counts the rows whose vector in slot has dims
// dimensions, read from the backend's own columns.
type SlotVectorCounter func(ctx context.Context, s ReembedStore, slot, dims int) (int, error)

// RunReembed runs the reembed tests (shadow vectors, switch, rollback,
// clearing the other slot) over a backend.
func RunReembed(t *testing.T, open ReembedOpener, slotVectors SlotVectorCounter) {
	t.Run("ShadowSwitchRollback", func(t *testing.T) { testReembedShadowSwitchRollback(t, open) })
	t.Run("ClearOtherSlot", func(t *testing.T) { testReembedClearOtherSlot(t, open, slotVectors) })
}

// ReembedRows writes n rows of the space {old, 2}, each with a distinct
// text, vector and metadata "k".
func ReembedRows(t *testing.T, s store.Store, n int) []memory.Memory {
	t.Helper()
	ms := make([]memory.Memory, n)
	err := s.Write(context.Background(), memory.Owner(), func(tx store.Tx) error {
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
	return ms
}

// EmbedAll gives each row a vector of dims dimensions made from its text.
func EmbedAll(rows []store.EmbedRow, dims int) []store.EmbedRow {
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
func testReembedShadowSwitchRollback(t *testing.T, open ReembedOpener) {
	s, ms := open(t, 5)
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
	n, err := s.PutShadow(ctx, target, EmbedAll(todo, 3))
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
	res, err := s.SwitchEmbedding(ctx, target, []float32{1, 0, 0}, EmbedAll(todo, 3), true)
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
	if n, err := s.PutVectors(ctx, target, EmbedAll(pend, 3)); err != nil || n != 1 {
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
func testReembedClearOtherSlot(t *testing.T, open ReembedOpener, slotVectors SlotVectorCounter) {
	s, _ := open(t, 7)
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
		if _, err := s.SwitchEmbedding(ctx, target, make([]float32, target.Dimensions), EmbedAll(todo, target.Dimensions), keep); err != nil {
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
	if got, err := slotVectors(ctx, s, id.Slot, 5); err != nil || got != 7 {
		t.Fatalf("%d rows with the fourth model's vector in the active slot (%v), want 7", got, err)
	}
}
