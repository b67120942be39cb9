package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// SharedOpener returns two handles on one fresh, empty store, as two
// hosts (or two processes) would open it: for SQLite two Opens of one
// file, for PostgreSQL two Opens of one database. The suite closes both.
type SharedOpener func(t *testing.T) (store.Store, store.Store)

// RunShared races writers on two handles of one store: inserts of one
// deterministic id (exactly one wins, the others get memory.ErrExists),
// supersede-style writes of one fact (one active row at the end, every
// value kept and linked), and revision-checked updates of one row (every
// update is applied or reported as a conflict: none is lost), and
// read-modify-writes inside one Write (store.PatchMany: what Tx.Get read
// holds to the commit, so none conflicts and none is lost).
func RunShared(t *testing.T, open SharedOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"SameID", testSharedSameID},
		{"Supersede", testSharedSupersede},
		{"RevisionUpdates", testSharedRevisionUpdates},
		{"PatchInsideWrite", testSharedPatch},
		{"SupersedeAndEdits", testSharedSupersedeEdits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() { a.Close(); b.Close() })
			tc.fn(t, a, b)
		})
	}
}

// racers runs fn(handle, worker) in per goroutines on each handle at once
// and waits for them; the first error fails the test.
func racers(t *testing.T, a, b store.Store, per int, fn func(s store.Store, worker int) error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 2*per)
	for i, s := range []store.Store{a, b} {
		for w := range per {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := fn(s, i*per+w); err != nil {
					errs <- err
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testSharedSameID(t *testing.T, a, b store.Store) {
	const ids, per = 40, 4
	var won [ids]atomic.Int32
	racers(t, a, b, per, func(s store.Store, w int) error {
		for k := range ids {
			err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				m := memory.Memory{ID: fmt.Sprintf("same-%02d", k), Text: fmt.Sprintf("fact %d by %d", k, w), Category: memory.CategoryFact}
				return tx.Insert(&m)
			})
			switch {
			case err == nil:
				won[k].Add(1)
			case !errors.Is(err, memory.ErrExists):
				return fmt.Errorf("worker %d insert same-%02d: %v, want nil or ErrExists", w, k, err)
			}
		}
		return nil
	})
	for k := range ids {
		if n := won[k].Load(); n != 1 {
			t.Errorf("same-%02d inserted %d times, want once", k, n)
		}
	}
	if n, err := a.Count(ctx, memory.Owner(), store.Filter{}); err != nil || n != ids {
		t.Fatalf("count %d, %v; want %d", n, err, ids)
	}
}

// supersede is one supersede-style write of the fact (service/ops.go
// Store): read the fact's rows inside the write, insert the new value,
// invalidate the active ones.
func supersede(s store.Store, scope memory.Scope, key, text string) error {
	return s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		rows, err := tx.FactRows(scope, key)
		if err != nil {
			return err
		}
		// After FactRows: a store may make the write wait there for
		// another one's decision about the fact.
		now := time.Now().UnixMilli()
		m := memory.Memory{Text: text, Category: memory.CategoryPreference, Scope: scope,
			Metadata: map[string]any{memory.KeyFactKey: key}}
		var old []memory.Memory
		for _, r := range rows {
			if memory.ActiveAt(r, now) {
				old = append(old, r)
			}
		}
		if len(old) > 0 {
			m.Metadata[memory.KeySupersedes] = old[0].ID
		}
		if err := tx.Insert(&m); err != nil {
			return err
		}
		for _, r := range old {
			r.Metadata = memory.CloneMetadata(r.Metadata)
			r.Metadata[memory.KeyInvalidatedAt] = float64(now)
			r.Metadata[memory.KeySupersededBy] = m.ID
			if err := tx.Update(&r); err != nil {
				return err
			}
		}
		return nil
	})
}

// testSharedSupersedeEdits races supersedes of a fact on one handle with
// edits of the fact's rows (read and updated inside one write) on the
// other: neither fails (no conflict, no deadlock), no edit is lost, and
// the fact ends with one active row.
func testSharedSupersedeEdits(t *testing.T, a, b store.Store) {
	const per, each = 2, 10
	scope, key := memory.GlobalScope, "preferences:shell"
	if err := supersede(a, scope, key, "shell 0"); err != nil {
		t.Fatal(err)
	}
	var edits atomic.Int64
	racers(t, a, b, per, func(s store.Store, w int) error {
		for i := range each {
			if w < per { // handle a: supersede
				if err := supersede(s, scope, key, fmt.Sprintf("shell %d-%d", w, i)); err != nil {
					return fmt.Errorf("worker %d supersede %d: %v", w, i, err)
				}
				continue
			}
			rows, err := s.Facts(ctx, memory.Owner(), store.FactQuery{FactKey: key, Limit: 1000})
			if err != nil {
				return err
			}
			id := rows[(w+i)%len(rows)].ID
			err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				m, err := tx.Get(id)
				if err != nil {
					return err
				}
				n, _ := m.Metadata["edits"].(float64)
				m.Metadata["edits"] = n + 1
				return tx.Update(&m)
			})
			if err != nil {
				return fmt.Errorf("worker %d edit %d of %s: %v", w, i, id, err)
			}
			edits.Add(1)
		}
		return nil
	})
	rows, err := b.Facts(ctx, memory.Owner(), store.FactQuery{FactKey: key, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	live, total := 0, 0.0
	for _, r := range rows {
		if memory.InvalidatedAt(r) == 0 {
			live++
		}
		n, _ := r.Metadata["edits"].(float64)
		total += n
	}
	if len(rows) != 1+per*each || live != 1 || int64(total) != edits.Load() {
		t.Fatalf("%d rows (want %d), %d active (want 1), %v edits kept of %d", len(rows), 1+per*each, live, total, edits.Load())
	}
}

// testSharedSupersede races the service's supersede (service/ops.go
// Store): read the fact's rows inside the write, insert the new value,
// invalidate the active ones.
func testSharedSupersede(t *testing.T, a, b store.Store) {
	const per, writes = 3, 8
	scope, key := memory.GlobalScope, "preferences:editor"
	var done atomic.Int32
	racers(t, a, b, per, func(s store.Store, w int) error {
		for i := range writes {
			err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				rows, err := tx.FactRows(scope, key)
				if err != nil {
					return err
				}
				// After FactRows: a store may make the write wait there for
				// another one's decision about the fact.
				now := time.Now().UnixMilli()
				m := memory.Memory{Text: fmt.Sprintf("editor %d-%d", w, i), Category: memory.CategoryPreference, Scope: scope,
					Metadata: map[string]any{memory.KeyFactKey: key}}
				var old []memory.Memory
				for _, r := range rows {
					if memory.ActiveAt(r, now) {
						old = append(old, r)
					}
				}
				if len(old) > 0 {
					m.Metadata[memory.KeySupersedes] = old[0].ID
				}
				if err := tx.Insert(&m); err != nil {
					return err
				}
				for _, r := range old {
					r.Metadata = memory.CloneMetadata(r.Metadata)
					r.Metadata[memory.KeyInvalidatedAt] = float64(now)
					r.Metadata[memory.KeySupersededBy] = m.ID
					if err := tx.Update(&r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("worker %d write %d: %v", w, i, err)
			}
			done.Add(1)
		}
		return nil
	})
	rows, err := a.Facts(ctx, memory.Owner(), store.FactQuery{FactKey: key, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != int(done.Load()) || len(rows) != 2*per*writes {
		t.Fatalf("%d rows of the fact, want %d", len(rows), 2*per*writes)
	}
	byID := map[string]memory.Memory{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	var live []string
	for _, r := range rows {
		if memory.InvalidatedAt(r) == 0 {
			live = append(live, r.ID)
			continue
		}
		// Every replaced value names its replacement, which names it back.
		next, ok := byID[memory.MetaString(r.Metadata, memory.KeySupersededBy)]
		if !ok || memory.MetaString(next.Metadata, memory.KeySupersedes) != r.ID {
			t.Errorf("row %s: superseded_by %v, which does not supersede it", r.ID, r.Metadata[memory.KeySupersededBy])
		}
	}
	if len(live) != 1 {
		t.Fatalf("%d rows of the fact not invalidated (%v), want exactly 1", len(live), live)
	}
	// The writes form one chain: exactly one row supersedes nothing.
	first := 0
	for _, r := range rows {
		if memory.MetaString(r.Metadata, memory.KeySupersedes) == "" {
			first++
		}
	}
	if first != 1 {
		t.Fatalf("%d rows supersede nothing, want 1 (the values are not one chain)", first)
	}
}

func testSharedRevisionUpdates(t *testing.T, a, b store.Store) {
	const per, each = 3, 15
	m := memory.Memory{ID: "counter", Text: "counter 0", Category: memory.CategoryOther, Metadata: map[string]any{"n": 0.0}}
	if err := a.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) }); err != nil {
		t.Fatal(err)
	}
	var applied, conflicts atomic.Int64
	racers(t, a, b, per, func(s store.Store, w int) error {
		for ok := 0; ok < each; {
			cur, err := s.Get(ctx, memory.Owner(), "counter")
			if err != nil {
				return err
			}
			n, _ := cur.Metadata["n"].(float64)
			cur.Metadata["n"] = n + 1
			cur.Text = fmt.Sprintf("counter %d", int(n)+1)
			cur.Vector = nil
			err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&cur) })
			var ce *memory.ConflictError
			switch {
			case err == nil:
				applied.Add(1)
				ok++
			case errors.As(err, &ce):
				conflicts.Add(1)
			default:
				return fmt.Errorf("worker %d update: %v", w, err)
			}
		}
		return nil
	})
	got, err := b.Get(ctx, memory.Owner(), "counter")
	if err != nil {
		t.Fatal(err)
	}
	want := applied.Load()
	if want != 2*per*each {
		t.Fatalf("%d updates applied, want %d", want, 2*per*each)
	}
	if got.Metadata["n"] != float64(want) || got.Revision != want+1 || got.Text != fmt.Sprintf("counter %d", want) {
		t.Fatalf("final row n=%v revision %d text %q; want n=%d revision %d (lost update)", got.Metadata["n"], got.Revision, got.Text, want, want+1)
	}
	hs, err := a.History(ctx, memory.Owner(), "counter", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != int(want) {
		t.Fatalf("%d versions in history, want %d", len(hs), want)
	}
	for i, h := range hs { // newest first: revisions want..1, each one more than the one before
		if h.Revision != want-int64(i) || h.Metadata["n"] != float64(want-int64(i)-1) {
			t.Fatalf("version %d: revision %d n=%v, want revision %d n=%d", i, h.Revision, h.Metadata["n"], want-int64(i), want-int64(i)-1)
		}
	}
	t.Logf("%d updates applied, %d conflicts", want, conflicts.Load())
}

// testSharedPatch races read-modify-writes made inside Write (Tx.Get, then
// Update with the revision it read): a row read inside a write holds to
// its commit, so every patch applies, none conflicts, and the counter
// counts them all.
func testSharedPatch(t *testing.T, a, b store.Store) {
	const per, each = 2, 8
	ms := []memory.Memory{
		{ID: "p1", Text: "patched 0", Metadata: map[string]any{"n": 0.0}},
		{ID: "p2", Text: "patched 0", Metadata: map[string]any{"n": 0.0}},
	}
	if _, err := store.PutMany(ctx, a, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	bump := func(m *memory.Memory) error {
		n, _ := m.Metadata["n"].(float64)
		m.Metadata["n"] = n + 1
		m.Text = fmt.Sprintf("patched %d", int(n)+1)
		return nil
	}
	racers(t, a, b, per, func(s store.Store, w int) error {
		for i := range each {
			// Both rows in one write, in an order that differs by worker.
			ps := []store.Patch{{ID: "p1", Apply: bump}, {ID: "p2", Apply: bump}}
			if w%2 == 1 {
				ps[0], ps[1] = ps[1], ps[0]
			}
			if i%4 != 3 { // now and then two rows, in opposite orders on the two handles
				ps = ps[:1]
			}
			res, err := store.PatchMany(ctx, s, memory.Owner(), ps)
			if err != nil {
				return fmt.Errorf("worker %d patch %d: %v", w, i, err)
			}
			for _, r := range res {
				if r.Err != nil {
					return fmt.Errorf("worker %d patch %d of %s: %v", w, i, r.ID, r.Err)
				}
			}
		}
		return nil
	})
	for _, id := range []string{"p1", "p2"} {
		m, err := b.Get(ctx, memory.Owner(), id)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := b.History(ctx, memory.Owner(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := m.Metadata["n"].(float64)
		if int64(n) != m.Revision-1 || len(hs) != int(n) || m.Text != fmt.Sprintf("patched %d", int(n)) {
			t.Fatalf("%s: n=%v revision %d, %d versions, text %q: a patch was lost", id, n, m.Revision, len(hs), m.Text)
		}
	}
}
