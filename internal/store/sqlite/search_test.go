package sqlite

import (
	"context"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

func TestFTSQueryNeverErrors(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{
		{ID: "id1", Text: "The gateway returned ERR_CONN_RESET after the deploy"},
		{ID: "id2", Text: "Edit config/prod.yaml, never config/staging.yaml"},
		{ID: "id3", Text: "我喜欢喝咖啡，不喜欢喝茶"},
		{ID: "id4", Text: "Alice AND Bob NEAR the office"},
		{ID: "id5", Text: "Private note", Scope: "agent:x"},
	}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"ERR_CONN_RESET":            "id1",
		"err_conn_reset?":           "id1",
		"config/prod.yaml":          "id2",
		"咖啡":                        "id3",
		"喜欢喝茶":                      "id3",
		`"unbalanced (alice * AND`:  "id4",
		"NEAR(alice bob)":           "id4",
		"office'; DROP TABLE x; --": "id4",
		"private":                   "",
	} {
		hits, err := s.SearchText(ctx, memory.Scopes(memory.GlobalScope), store.Filter{}, q, 5)
		if err != nil {
			t.Fatalf("query %q: %v", q, err)
		}
		var got string
		if len(hits) > 0 {
			got = hits[0].ID
		}
		if got != want {
			t.Errorf("query %q: best hit %q, want %q (%v)", q, got, want, hits)
		}
	}
	for _, q := range []string{"", "   ", "*", "()", `"`, "-", "the"} {
		if _, err := s.SearchText(ctx, memory.Owner(), store.Filter{}, q, 5); err != nil {
			t.Errorf("query %q: %v", q, err)
		}
	}
}

func TestVectorChangesFollowEveryWrite(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	v := []float32{1, 0}
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{{ID: "a", Text: "a", Vector: v}, {ID: "b", Text: "b", Vector: v}}); err != nil {
		t.Fatal(err)
	}
	full, err := s.VectorChanges(ctx, 0)
	if err != nil || len(full.Upserts) != 2 || full.Seq == 0 {
		t.Fatalf("full load %+v %v", full, err)
	}
	store.DeleteMany(ctx, s, memory.Owner(), []store.Deletion{{ID: "a"}})
	store.PatchMany(ctx, s, memory.Owner(), []store.Patch{{ID: "b", Apply: func(m *memory.Memory) error { m.Vector = []float32{0, 1}; return nil }}})
	store.PutMany(ctx, s, memory.Owner(), []memory.Memory{{ID: "c", Text: "c", Vector: v}})
	ch, err := s.VectorChanges(ctx, full.Seq)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range ch.Upserts {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"b", "c"}) || !slices.Equal(ch.Deleted, []string{"a"}) || ch.Seq != full.Seq+3 {
		t.Fatalf("changes %+v", ch)
	}
	if seq, _ := s.ChangeSeq(ctx); seq != ch.Seq {
		t.Fatalf("ChangeSeq %d, changes seq %d", seq, ch.Seq)
	}
	ms, err := s.GetMany(ctx, memory.Owner(), []string{"b", "c", "gone"})
	if err != nil || len(ms) != 2 {
		t.Fatalf("GetMany %v %v", ms, err)
	}
}

// An update to an all-zero vector leaves the row without one (not with
// its old text's vector), and the change feed tells an index to drop it.
func TestZeroVectorUpdateLeavesIndex(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	defer s.Close()
	m := memory.Memory{ID: "a", Text: "first text", Scope: memory.GlobalScope, Vector: []float32{1, 0, 0, 0}}
	if _, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{m}); err != nil {
		t.Fatal(err)
	}
	seq, err := s.ChangeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m, err := tx.Get("a")
		if err != nil {
			return err
		}
		m.Text, m.Vector = "second text", []float32{0, 0, 0, 0}
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, memory.Owner(), "a")
	if err != nil || got.Vector != nil {
		t.Fatalf("after an update to a zero vector: vector %v, err %v; want none", got.Vector, err)
	}
	ch, err := s.VectorChanges(ctx, seq)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Upserts) != 0 || !slices.Equal(ch.Deleted, []string{"a"}) {
		t.Fatalf("changes %+v, want only a deletion of a", ch)
	}
}
