package retrieve

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// A retriever that is behind when the tombstones of its missed deletions
// are pruned must still drop the deleted rows from its vector index.
func TestSyncAfterTombstonesArePruned(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{Synchronous: "normal", Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows := []memory.Memory{
		{ID: "gone", Text: "to be deleted", Vector: []float32{1, 0, 0, 0}},
		{ID: "kept", Text: "stays", Vector: []float32{0, 1, 0, 0}},
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), rows); err != nil {
		t.Fatal(err)
	}
	r := New(st, nil, nil, Options{})
	if err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r.ix.Len() != 2 {
		t.Fatalf("index holds %d", r.ix.Len())
	}
	if err := st.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("gone", 0) }); err != nil {
		t.Fatal(err)
	}
	now = now.Add(31 * 24 * time.Hour)
	// Another write after the deletion, so the feed has something to say.
	if _, err := store.PutMany(ctx, st, memory.Owner(), []memory.Memory{{ID: "new", Text: "later", Vector: []float32{0, 0, 1, 0}}}); err != nil {
		t.Fatal(err)
	}
	rep, err := st.PruneTombstones(ctx, 30*24*time.Hour)
	if err != nil || rep.Pruned != 1 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	if err := r.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.ix.Vector("gone"); ok {
		t.Fatal("the deleted row is still in the vector index after its tombstone was pruned")
	}
	if r.ix.Len() != 2 {
		t.Fatalf("index holds %d, want kept and new", r.ix.Len())
	}
}
