package storetest

import (
	"errors"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

func setTier(t *testing.T, s store.Store, acc memory.Access, mv store.TierMove) (bool, error) {
	t.Helper()
	var moved bool
	err := s.Write(ctx, acc, func(tx store.Tx) error {
		tt, ok := tx.(store.TierTx)
		if !ok {
			t.Skipf("%T has no tiers", tx)
		}
		var err error
		moved, err = tt.SetTier(mv)
		return err
	})
	return moved, err
}

// A tier move is bookkeeping: conditional on the tier, revision and
// access count read; no revision bump, no updated_at, no history; logged.
func testTierMoves(t *testing.T, s store.Store) {
	tr, ok := s.(store.TierReader)
	if !ok {
		t.Skipf("%T has no tiers", s)
	}
	other := mem("t2", "another")
	other.Scope = "agent:b"
	m := put(t, s, memory.Owner(), mem("t1", "a memory that ages"), other)[0]
	before, _ := s.Get(ctx, memory.Owner(), "t1")

	// A legacy row (no tier) is working.
	moved, err := setTier(t, s, memory.Owner(), store.TierMove{ID: "t1", From: "working", To: "peripheral", Revision: m.Revision, AccessCount: 0, Reason: "old", At: 1000})
	if err != nil || !moved {
		t.Fatalf("move: %v %v", moved, err)
	}
	after, _ := s.Get(ctx, memory.Owner(), "t1")
	if after.Metadata[memory.KeyTier] != "peripheral" || after.Revision != before.Revision || after.UpdatedAt != before.UpdatedAt {
		t.Fatalf("after the move: %+v (before %+v)", after, before)
	}
	if vs, _ := s.History(ctx, memory.Owner(), "t1", 0); len(vs) != 0 {
		t.Fatalf("a tier move kept %d versions", len(vs))
	}
	// Stale reads are not applied: wrong tier, revision, or access count.
	for _, mv := range []store.TierMove{
		{ID: "t1", From: "working", To: "core", Revision: m.Revision, AccessCount: 0},
		{ID: "t1", From: "peripheral", To: "working", Revision: m.Revision + 1, AccessCount: 0},
		{ID: "t1", From: "peripheral", To: "working", Revision: m.Revision, AccessCount: 2},
	} {
		if moved, err := setTier(t, s, memory.Owner(), mv); err != nil || moved {
			t.Fatalf("stale move %+v: %v %v", mv, moved, err)
		}
	}
	// Errors: unknown tier, missing row, row outside the caller's scopes.
	if _, err := setTier(t, s, memory.Owner(), store.TierMove{ID: "t1", From: "peripheral", To: "gold", AccessCount: -1}); !errors.Is(err, memory.ErrInvalid) {
		t.Fatalf("unknown tier: %v", err)
	}
	if _, err := setTier(t, s, memory.Owner(), store.TierMove{ID: "nope", From: "working", To: "core", AccessCount: -1}); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("missing row: %v", err)
	}
	if _, err := setTier(t, s, memory.AgentAccess("a"), store.TierMove{ID: "t2", From: "working", To: "core", AccessCount: -1}); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("row outside access: %v", err)
	}

	// A recall recorded later does not undo it, and it is logged.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Touch("t1", 3, 2000) }); err != nil {
		t.Fatal(err)
	}
	if moved, err := setTier(t, s, memory.Owner(), store.TierMove{ID: "t1", From: "peripheral", To: "working", Revision: m.Revision, AccessCount: 3, Reason: "used", At: 3000}); err != nil || !moved {
		t.Fatalf("move back: %v %v", moved, err)
	}
	got, err := tr.Transitions(ctx, memory.Owner(), "t1", 0)
	if err != nil || len(got) != 2 || got[0].From != "peripheral" || got[0].To != "working" || got[0].Reason != "used" || got[0].At != 3000 ||
		got[1].From != "working" || got[1].To != "peripheral" || got[1].Revision != m.Revision {
		t.Fatalf("transitions %+v %v", got, err)
	}
	if recent, err := tr.RecentTransitions(ctx, memory.Owner(), 2500, 0); err != nil || len(recent) != 1 || recent[0].At != 3000 {
		t.Fatalf("recent %+v %v", recent, err)
	}
	if _, err := tr.Transitions(ctx, memory.AgentAccess("a"), "t2", 0); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("transitions outside access: %v", err)
	}

	// Stats count tiers.
	if _, err := setTier(t, s, memory.Owner(), store.TierMove{ID: "t2", From: "working", To: "core", AccessCount: -1}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx, memory.Owner(), store.Filter{})
	if err != nil || st.ByTier["core"] != 1 || st.ByTier["working"] != 1 || st.ByTier["peripheral"] != 0 {
		t.Fatalf("by tier %+v %v", st.ByTier, err)
	}

	if recent, err := tr.RecentTransitions(ctx, memory.AgentAccess("a"), 0, 0); err != nil || len(recent) != 2 {
		t.Fatalf("recent for agent a (t1 only): %+v %v", recent, err)
	}

	// Purge erases the log.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { _, err := tx.Purge("t1"); return err }); err != nil {
		t.Fatal(err)
	}
	if recent, _ := tr.RecentTransitions(ctx, memory.Owner(), 0, 0); len(recent) != 1 || recent[0].MemoryID != "t2" {
		t.Fatalf("after purge: %+v", recent)
	}
}

// An update written from a read made before a tier move keeps the move
// (a move bumps no revision, so the update's revision check passes); an
// update that sets another tier on purpose is written.
func testTierKeptByUpdate(t *testing.T, s store.Store) {
	if _, ok := s.(store.TierReader); !ok {
		t.Skipf("%T has no tiers", s)
	}
	put(t, s, memory.Owner(), mem("u1", "stale read"))
	read, _ := s.Get(ctx, memory.Owner(), "u1")
	if moved, err := setTier(t, s, memory.Owner(), store.TierMove{ID: "u1", From: "working", To: "core", AccessCount: -1}); err != nil || !moved {
		t.Fatalf("move: %v %v", moved, err)
	}
	read.Text = "edited from the stale read"
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&read) }); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, memory.Owner(), "u1")
	if got.Text != read.Text || got.Metadata[memory.KeyTier] != "core" {
		t.Fatalf("after a stale update: %q tier %v", got.Text, got.Metadata[memory.KeyTier])
	}
	got.Metadata[memory.KeyTier] = "peripheral" // on purpose
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&got) }); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Get(ctx, memory.Owner(), "u1"); g.Metadata[memory.KeyTier] != "peripheral" {
		t.Fatalf("a chosen tier was not written: %v", g.Metadata[memory.KeyTier])
	}
}
