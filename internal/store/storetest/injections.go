package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Bump changes importance and metadata counters relative to the stored
// values, within bounds, and is not an edit: no revision, no history.
func testBump(t *testing.T, s store.Store) {
	owner := memory.Owner()
	m := mem("b", "a row to bump")
	m.Importance = 0.97
	m.Metadata = map[string]any{"injected_count": "junk", "keep": "x"}
	low := mem("low", "a row below the floor")
	low.Importance = 0.05
	stored := put(t, s, owner, m, low)
	bump := func(acc memory.Access, id string, b store.Bump) error {
		return s.Write(ctx, acc, func(tx store.Tx) error { return tx.Bump(id, b) })
	}
	for range 2 {
		if err := bump(owner, "b", store.Bump{Importance: 0.05, Ceil: 1, Add: map[string]int64{"injected_count": 1}, Set: map[string]int64{"last_injected_at": 1234}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(ctx, owner, "b")
	if err != nil {
		t.Fatal(err)
	}
	if got.Importance != 1 || got.Revision != stored[0].Revision || got.UpdatedAt != stored[0].UpdatedAt {
		t.Fatalf("bumped: importance %v revision %d updated %d, stored %+v", got.Importance, got.Revision, got.UpdatedAt, stored[0])
	}
	if n, _ := memory.MetaNumber(got.Metadata, "injected_count"); n != 2 || got.Metadata["last_injected_at"] != float64(1234) || got.Metadata["keep"] != "x" {
		t.Fatalf("bumped metadata: %v", got.Metadata)
	}
	if h, ok := s.(store.Historian); ok {
		if vs, err := h.History(ctx, owner, "b", 0); err != nil || len(vs) != 0 {
			t.Fatalf("a bump kept a version: %v %v", vs, err)
		}
	}
	// An update of a copy read before a bump keeps the counters that only
	// grow (the bump did not move the revision, so the copy is current).
	stale := got
	if err := bump(owner, "b", store.Bump{Add: map[string]int64{"injected_count": 5}, Set: map[string]int64{"last_confirmed_use_at": 9000}}); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, owner, func(tx store.Tx) error {
		stale.Text = "a row to bump, edited"
		stale.Vector = nil
		return tx.Update(&stale)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, owner, "b")
	if n, _ := memory.MetaNumber(got.Metadata, "injected_count"); n != 7 || got.Metadata["last_confirmed_use_at"] != float64(9000) || got.Text != "a row to bump, edited" {
		t.Fatalf("an update of a stale copy undid the bookkeeping: %v", got.Metadata)
	}
	// A floor stops a decrease, and does not raise a value already below it.
	if err := bump(owner, "b", store.Bump{Importance: -0.95, Floor: 0.1}); err != nil {
		t.Fatal(err)
	}
	if err := bump(owner, "low", store.Bump{Importance: -0.03, Floor: 0.1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, owner, "b"); got.Importance != 0.1 {
		t.Fatalf("floored: %v", got.Importance)
	}
	if got, _ := s.Get(ctx, owner, "low"); got.Importance != 0.05 {
		t.Fatalf("below the floor: %v", got.Importance)
	}
	// Scopes: another agent's row is not found; a bad key is invalid.
	other := mem("theirs", "another agent's row")
	other.Scope = "agent:b"
	put(t, s, owner, other)
	if err := bump(memory.AgentAccess("a"), "theirs", store.Bump{Add: map[string]int64{"n": 1}}); !errors.As(err, new(*memory.NotFoundError)) {
		t.Fatalf("bump outside the scopes: %v", err)
	}
	if err := bump(owner, "b", store.Bump{Add: map[string]int64{"a.b": 1}}); err == nil {
		t.Fatal("a key with a dot was accepted")
	}
}

// Injections: turns advance per session and agent, injected ids are
// found by turn, re-injection moves an id to the newer turn, and
// pruning by age removes entries.
func testInjections(t *testing.T, s store.Store) {
	write := func(fn func(store.InjectionTx) error) {
		t.Helper()
		err := s.Write(ctx, memory.AgentAccess("a"), func(tx store.Tx) error {
			itx, ok := tx.(store.InjectionTx)
			if !ok {
				t.Skip("not a store.InjectionTx")
			}
			return fn(itx)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var turns []int64
	for i := range 3 {
		write(func(itx store.InjectionTx) error {
			turn, err := itx.NextTurn("s1", "a", int64(1000+i))
			turns = append(turns, turn)
			if err != nil {
				return err
			}
			return itx.RecordInjections("s1", "a", []string{"m" + string(rune('0'+i)), "shared"}, turn, int64(1000+i))
		})
	}
	if !slices.Equal(turns, []int64{1, 2, 3}) {
		t.Fatalf("turns %v", turns)
	}
	write(func(itx store.InjectionTx) error {
		got, err := itx.Injected("s1", "a", 1)
		if err != nil {
			return err
		}
		if want := map[string]int64{"m1": 2, "m2": 3, "shared": 3}; !maps.Equal(got, want) {
			t.Fatalf("injected after turn 1: %v, want %v", got, want)
		}
		turn, ids, err := itx.LastTurn("s1", "a")
		if err != nil || turn != 3 || !slices.Equal(ids, []string{"m2", "shared"}) {
			t.Fatalf("last turn: %d %v %v", turn, ids, err)
		}
		if turn, ids, err := itx.LastTurn("s1", "b"); err != nil || turn != 0 || len(ids) != 0 {
			t.Fatalf("another agent's session: %d %v %v", turn, ids, err)
		}
		if turn, err := itx.NextTurn("s2", "a", 5000); err != nil || turn != 1 {
			t.Fatalf("a new session: %d %v", turn, err)
		}
		return nil
	})
	p, ok := s.(store.InjectionPruner)
	if !ok {
		return
	}
	n, err := p.PruneInjections(ctx, 1002, 2)
	// Written before 1002: m0 and m1; the counter and "shared" were
	// rewritten at 1002, s2 at 5000.
	if err != nil || n != 2 {
		t.Fatalf("pruned %d %v", n, err)
	}
	write(func(itx store.InjectionTx) error {
		got, err := itx.Injected("s1", "a", 0)
		if want := map[string]int64{"m2": 3, "shared": 3}; err != nil || !maps.Equal(got, want) {
			t.Fatalf("after pruning: %v %v, want %v", got, err, want)
		}
		return nil
	})
}
