package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// TestVectorChanges: the change feed a retriever's index follows: a full
// load has every row with a vector; catching up has the rows written
// since (a changed vector, a new scope) as upserts and deletions as
// deletions; a purge leaves no tombstone and moves the tombstone horizon
// to its seq instead (readers behind it reload), which pgvector's copy
// follows too.
func TestVectorChanges(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	v := func(x float32) []float32 { return []float32{x, 1, 0} }
	rows := []memory.Memory{
		{ID: "a", Text: "a", Vector: v(1)},
		{ID: "b", Text: "b", Vector: v(2), Scope: "agent:x"},
		{ID: "c", Text: "c"},
		{ID: "d", Text: "d", Vector: v(4)},
		{ID: "e", Text: "e", Vector: v(5)},
	}
	if _, err := store.PutMany(ctx, s, memory.Owner(), rows); err != nil {
		t.Fatal(err)
	}
	st0, err := s.VectorState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	full, err := s.VectorChanges(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := upsertIDs(full); !slices.Equal(got, []string{"a", "b", "d", "e"}) || len(full.Deleted) != 0 {
		t.Fatalf("full load: upserts %v, deleted %v", got, full.Deleted)
	}
	if full.Seq != st0.Seq {
		t.Errorf("full load at seq %d, store at %d", full.Seq, st0.Seq)
	}
	if same, _ := s.VectorChanges(ctx, full.Seq); len(same.Upserts)+len(same.Deleted) != 0 || same.Seq != full.Seq {
		t.Errorf("nothing changed, yet %+v", same)
	}
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, err := tx.Get("a")
		if err != nil {
			return err
		}
		m.Vector, m.Scope = v(10), "agent:y"
		if err := tx.Update(&m); err != nil {
			return err
		}
		if err := tx.Delete("b", 0); err != nil {
			return err
		}
		_, err = tx.Purge("d")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.VectorChanges(ctx, full.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Seq <= full.Seq {
		t.Fatalf("seq did not move: %d", ch.Seq)
	}
	if len(ch.Upserts) != 1 || ch.Upserts[0].ID != "a" || ch.Upserts[0].Scope != "agent:y" || !slices.Equal(ch.Upserts[0].Vector, v(10)) {
		t.Errorf("upserts %+v, want a in agent:y with its new vector", ch.Upserts)
	}
	if !slices.Equal(ch.Deleted, []string{"b"}) {
		t.Errorf("deleted %v, want b", ch.Deleted)
	}
	var horizon int64
	if err := s.pool.QueryRow(ctx, "SELECT value::bigint FROM meta WHERE key = 'tombstone_horizon'").Scan(&horizon); err != nil {
		t.Fatal(err)
	}
	if horizon != ch.Seq {
		t.Errorf("tombstone horizon %d after the purge at seq %d", horizon, ch.Seq)
	}
	reload, err := s.VectorChanges(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := upsertIDs(reload); !slices.Equal(got, []string{"a", "e"}) {
		t.Errorf("reload after the purge: %v, want a, e", got)
	}
}

func upsertIDs(ch store.VectorChanges) []string {
	var ids []string
	for _, r := range ch.Upserts {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}
