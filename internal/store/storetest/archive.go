package storetest

import (
	"slices"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// An archived row (state archived, archived_at) is not active from its
// archived_at on, on every read path that sets ActiveAt (list, scan,
// count, text search, the vector feed); a row whose state is archived
// without a time is archived at every time; promoting it back (state no
// longer archived, written by Update) makes it active again.
func testArchivedInactive(t *testing.T, s store.Store) {
	rows := []memory.Memory{
		fact("arch", "", memory.GlobalScope, 1000, map[string]any{memory.KeyState: memory.StateArchived, memory.KeyArchivedAt: 2000}),
		fact("arch-notime", "", memory.GlobalScope, 1000, map[string]any{memory.KeyState: memory.StateArchived}),
		fact("stale-time", "", memory.GlobalScope, 1000, map[string]any{memory.KeyState: memory.StateConfirmed, memory.KeyArchivedAt: 2000}),
		fact("plain", "", memory.GlobalScope, 1000, nil),
	}
	for i := range rows {
		rows[i].Text = "likes plum, says " + rows[i].ID
	}
	owner := memory.Owner()
	put(t, s, owner, rows...)
	wantIDs(t, "every row", listIDs(t, s, owner, store.Filter{}), "arch", "arch-notime", "plain", "stale-time")
	wantIDs(t, "active now", listIDs(t, s, owner, store.Filter{ActiveAt: now()}), "plain", "stale-time")
	wantIDs(t, "active before the archiving", listIDs(t, s, owner, store.Filter{ActiveAt: 1500}), "arch", "plain", "stale-time")

	if sr, ok := s.(store.Searcher); ok {
		hits, err := sr.SearchText(ctx, owner, store.Filter{ActiveAt: now()}, "plum", 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		slices.Sort(ids)
		wantIDs(t, "text search now", ids, "plain", "stale-time")
		ch, err := sr.VectorChanges(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"arch": 2000, "arch-notime": memory.ArchivedSince, "stale-time": 0, "plain": 0}
		for _, r := range ch.Upserts {
			if w, ok := want[r.ID]; ok && r.ArchivedAt != w {
				t.Errorf("vector row %s: archived at %d, want %d", r.ID, r.ArchivedAt, w)
			}
		}
	}

	// Promote: the same row, state confirmed, is active again.
	err := s.Write(ctx, owner, func(tx store.Tx) error {
		m, err := tx.Get("arch")
		if err != nil {
			return err
		}
		m.Metadata[memory.KeyState] = memory.StateConfirmed
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "active after the promotion", listIDs(t, s, owner, store.Filter{ActiveAt: now()}), "arch", "plain", "stale-time")
}

// ExpiredBefore keeps rows whose valid_until is at or before the time;
// Unarchived drops archived rows. Expiry archiving reads with both.
func testExpiredFilter(t *testing.T, s store.Store) {
	owner := memory.Owner()
	put(t, s, owner,
		fact("gone", "", memory.GlobalScope, 1000, map[string]any{memory.KeyValidUntil: 2000}),
		fact("gone-archived", "", memory.GlobalScope, 1000, map[string]any{memory.KeyValidUntil: 2000, memory.KeyState: memory.StateArchived, memory.KeyArchivedAt: 2500}),
		fact("later", "", memory.GlobalScope, 1000, map[string]any{memory.KeyValidUntil: 5000}),
		fact("forever", "", memory.GlobalScope, 1000, nil),
	)
	wantIDs(t, "expired by 3000", listIDs(t, s, owner, store.Filter{ExpiredBefore: 3000}), "gone", "gone-archived")
	wantIDs(t, "expired by 3000, not archived", listIDs(t, s, owner, store.Filter{ExpiredBefore: 3000, Unarchived: true}), "gone")
	wantIDs(t, "expired by 5000", listIDs(t, s, owner, store.Filter{ExpiredBefore: 5000, Unarchived: true}), "gone", "later")
	wantIDs(t, "not archived", listIDs(t, s, owner, store.Filter{Unarchived: true}), "forever", "gone", "later")
}
