package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The contract of validity (memory.ActiveAt applied by Filter.ActiveAt on
// every read path) and of the fact query.

// fact is a preference row with validity metadata; the times are unix ms
// in the past (1970 + seconds), so "now" is after all of them.
func fact(id, key string, scope memory.Scope, createdAt int64, md map[string]any) memory.Memory {
	m := mem(id, "prefers the editor "+id)
	m.Category, m.Scope, m.CreatedAt = memory.CategoryPreference, scope, createdAt
	m.Metadata = map[string]any{}
	if key != "" {
		m.Metadata[memory.KeyFactKey] = key
	}
	for k, v := range md {
		m.Metadata[k] = v
	}
	return m
}

func now() int64 { return time.Now().UnixMilli() }

// listIDs lists every row of the filter (sorted ids), and checks that
// Scan, Count and Filter.Matches agree with List.
func listIDs(t *testing.T, s store.Store, acc memory.Access, f store.Filter) []string {
	t.Helper()
	page, err := s.List(ctx, acc, store.ListOptions{Filter: f, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Memories {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	var scanned []string
	if err := s.Scan(ctx, acc, store.ScanOptions{Filter: f}, func(m memory.Memory) error {
		scanned = append(scanned, m.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scanned, ids) {
		t.Fatalf("filter %+v: scan %v, list %v", f, scanned, ids)
	}
	if n, err := s.Count(ctx, acc, f); err != nil || n != len(ids) {
		t.Fatalf("filter %+v: count %d %v, list %d", f, n, err, len(ids))
	}
	var matched []string
	all, _ := s.List(ctx, acc, store.ListOptions{Limit: 1000})
	for _, m := range all.Memories {
		if f.Matches(m) {
			matched = append(matched, m.ID)
		}
	}
	slices.Sort(matched)
	if !slices.Equal(matched, ids) {
		t.Fatalf("filter %+v: Matches keeps %v, the store %v", f, matched, ids)
	}
	return ids
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

// A row invalidated, expired or not yet valid by its metadata leaves the
// reads that set ActiveAt (and only those), as of the right times.
func testActiveFollowsMetadata(t *testing.T, s store.Store) {
	owner := memory.Owner()
	future := now() + time.Hour.Milliseconds()
	put(t, s, owner,
		fact("old", "preferences:editor", memory.GlobalScope, 1000, nil),
		fact("new", "preferences:editor", memory.GlobalScope, 3000, nil),
		fact("until", "", memory.GlobalScope, 1000, map[string]any{memory.KeyValidUntil: 6000}),
		fact("later", "", memory.GlobalScope, 1000, map[string]any{memory.KeyValidFrom: future}),
		fact("plain", "", memory.GlobalScope, 500, nil))
	all := []string{"later", "new", "old", "plain", "until"}
	wantIDs(t, "no validity filter", listIDs(t, s, owner, store.Filter{}), all...)
	wantIDs(t, "active now before the update", listIDs(t, s, owner, store.Filter{ActiveAt: now()}), "new", "old", "plain")

	// The newer value supersedes the old one: metadata says so, the
	// store follows on the next read.
	err := s.Write(ctx, owner, func(tx store.Tx) error {
		m, err := tx.Get("old")
		if err != nil {
			return err
		}
		m.Metadata[memory.KeyInvalidatedAt] = 5000
		m.Metadata[memory.KeySupersededBy] = "new"
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   int64
		want []string
	}{
		{now(), []string{"new", "plain"}},
		{4999, []string{"new", "old", "plain", "until"}}, // before the invalidation
		{5000, []string{"new", "plain", "until"}},        // invalidated at 5000: gone at 5000
		{2999, []string{"old", "plain", "until"}},        // before "new" was valid (its created_at)
		{5999, []string{"new", "plain", "until"}},
		{6000, []string{"new", "plain"}}, // valid_until 6000: expired at 6000
		{700, []string{"plain"}},
		{future, []string{"later", "new", "plain"}},
	} {
		wantIDs(t, "active at "+time.UnixMilli(c.at).UTC().Format(time.RFC3339Nano), listIDs(t, s, owner, store.Filter{ActiveAt: c.at}), c.want...)
	}
	// Get reads inactive rows, and a filter without ActiveAt lists them.
	if m, err := s.Get(ctx, owner, "old"); err != nil || memory.InvalidatedAt(m) != 5000 {
		t.Fatalf("get of an invalidated row: %+v %v", m, err)
	}
	wantIDs(t, "no validity filter after the update", listIDs(t, s, owner, store.Filter{}), all...)

	// Taking the invalidation back (a revert) makes it active again.
	err = s.Write(ctx, owner, func(tx store.Tx) error {
		m, err := tx.Get("old")
		if err != nil {
			return err
		}
		delete(m.Metadata, memory.KeyInvalidatedAt)
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "after the invalidation is removed", listIDs(t, s, owner, store.Filter{ActiveAt: now()}), "new", "old", "plain")

	// Times as RFC 3339 text count as memory.MetaMillis reads them; other
	// filters combine with ActiveAt.
	res, err := store.PatchMany(ctx, s, owner, []store.Patch{{ID: "plain", Apply: func(m *memory.Memory) error {
		m.Metadata[memory.KeyValidUntil] = "1970-01-01T00:00:02Z"
		return nil
	}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("patch: %v %+v", err, res)
	}
	wantIDs(t, "RFC 3339 valid_until", listIDs(t, s, owner, store.Filter{ActiveAt: 1999, Categories: []memory.Category{memory.CategoryPreference}}), "old", "plain", "until")
	wantIDs(t, "RFC 3339 valid_until, expired", listIDs(t, s, owner, store.Filter{ActiveAt: 2000}), "old", "until")
}

// Count and Stats with ActiveAt count only active rows; Stats.Inactive
// counts the rows of its filter not active now, within the caller's scopes.
func testActiveCounts(t *testing.T, s store.Store) {
	owner := memory.Owner()
	put(t, s, owner,
		fact("g1", "k", memory.GlobalScope, 1000, map[string]any{memory.KeyInvalidatedAt: 2000}),
		fact("g2", "k", memory.GlobalScope, 2000, nil),
		fact("g3", "", memory.GlobalScope, 1000, map[string]any{memory.KeyValidUntil: 1500}),
		fact("b1", "k", "agent:b", 1000, map[string]any{memory.KeyInvalidatedAt: 1200}),
		fact("b2", "k", "agent:b", 1200, nil))
	a := memory.AgentAccess("a")
	for _, c := range []struct {
		acc            memory.Access
		f              store.Filter
		count          int
		total, inactiv int
	}{
		{owner, store.Filter{}, 5, 5, 3},
		{owner, store.Filter{ActiveAt: now()}, 2, 2, 0},
		{owner, store.Filter{ActiveAt: 1100}, 3, 3, 3}, // g1, g3, b1 were active then, none is now
		{a, store.Filter{}, 3, 3, 2},
		{a, store.Filter{ActiveAt: now()}, 1, 1, 0},
		{owner, store.Filter{Scopes: []memory.Scope{"agent:b"}}, 2, 2, 1},
	} {
		n, err := s.Count(ctx, c.acc, c.f)
		if err != nil || n != c.count {
			t.Errorf("count %+v = %d %v, want %d", c.f, n, err, c.count)
		}
		st, err := s.Stats(ctx, c.acc, c.f)
		if err != nil || st.Total != c.total || st.Inactive != c.inactiv {
			t.Errorf("stats %+v: total %d inactive %d %v, want %d and %d", c.f, st.Total, st.Inactive, err, c.total, c.inactiv)
		}
	}
}

// Text search (and the vector change feed, which carries what a vector
// index needs to apply ActiveAt) follow validity for the owner and for an
// agent, whose search runs on its scopes' statistics.
func testActiveSearch(t *testing.T, s store.Store) {
	sr, ok := s.(store.Searcher)
	if !ok {
		t.Skip("not a store.Searcher")
	}
	rows := []memory.Memory{
		fact("kiwi-old", "preferences:fruit", memory.GlobalScope, 1000, map[string]any{memory.KeyInvalidatedAt: 2000, memory.KeySupersededBy: "kiwi-new"}),
		fact("kiwi-new", "preferences:fruit", memory.GlobalScope, 2000, nil),
		fact("kiwi-a", "", "agent:a", 1000, map[string]any{memory.KeyValidUntil: 1500}),
		fact("kiwi-b", "", "agent:b", 1000, nil),
	}
	for i := range rows {
		rows[i].Text = "likes kiwi, says " + rows[i].ID
	}
	put(t, s, memory.Owner(), rows...)
	search := func(acc memory.Access, at int64) []string {
		t.Helper()
		hits, err := sr.SearchText(ctx, acc, store.Filter{ActiveAt: at}, "kiwi", 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		slices.Sort(ids)
		return ids
	}
	a := memory.AgentAccess("a")
	wantIDs(t, "owner, every row", search(memory.Owner(), 0), "kiwi-a", "kiwi-b", "kiwi-new", "kiwi-old")
	wantIDs(t, "owner, active now", search(memory.Owner(), now()), "kiwi-b", "kiwi-new")
	wantIDs(t, "owner, as of 1400", search(memory.Owner(), 1400), "kiwi-a", "kiwi-b", "kiwi-old")
	wantIDs(t, "agent a, every row", search(a, 0), "kiwi-a", "kiwi-new", "kiwi-old")
	wantIDs(t, "agent a, active now", search(a, now()), "kiwi-new")
	wantIDs(t, "agent a, as of 1400", search(a, 1400), "kiwi-a", "kiwi-old")

	ch, err := sr.VectorChanges(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.VectorRow{}
	for _, r := range ch.Upserts {
		got[r.ID] = r
	}
	for id, want := range map[string][3]int64{
		"kiwi-old": {1000, 0, 2000},
		"kiwi-new": {2000, 0, 0},
		"kiwi-a":   {1000, 1500, 0},
	} {
		r := got[id]
		if [3]int64{r.ValidFrom, r.ValidUntil, r.InvalidatedAt} != want {
			t.Errorf("vector row %s: valid from %d until %d, invalidated %d; want %v", id, r.ValidFrom, r.ValidUntil, r.InvalidatedAt, want)
		}
	}
}

// Facts returns a fact's rows, active or not, newest valid_from first,
// within the caller's scopes and the ones asked for.
func testFacts(t *testing.T, s store.Store) {
	const key = "preferences:editor"
	put(t, s, memory.Owner(),
		fact("g1", key, memory.GlobalScope, 1000, map[string]any{memory.KeyInvalidatedAt: 3000}),
		fact("g3", key, memory.GlobalScope, 500, map[string]any{memory.KeyValidFrom: 3000}), // valid_from beats created_at
		fact("a2", key, "agent:a", 2000, nil),
		fact("a2b", key, "agent:a", 2000, nil), // tie on valid_from: id descending
		fact("b4", key, "agent:b", 4000, nil),
		fact("other", "preferences:font", memory.GlobalScope, 5000, nil),
		fact("none", "", memory.GlobalScope, 5000, nil))
	ids := func(acc memory.Access, q store.FactQuery) []string {
		t.Helper()
		ms, err := s.Facts(ctx, acc, q)
		if err != nil {
			t.Fatal(err)
		}
		if ms == nil {
			t.Fatal("Facts returned nil, want an empty list")
		}
		out := []string{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	a := memory.AgentAccess("a")
	for _, c := range []struct {
		name string
		acc  memory.Access
		q    store.FactQuery
		want []string
	}{
		{"owner", memory.Owner(), store.FactQuery{FactKey: key}, []string{"b4", "g3", "a2b", "a2", "g1"}},
		{"agent a: not agent b's rows", a, store.FactQuery{FactKey: key}, []string{"g3", "a2b", "a2", "g1"}},
		{"agent a asking for agent b", a, store.FactQuery{FactKey: key, Scopes: []memory.Scope{"agent:b"}}, []string{}},
		{"agent a, global only", a, store.FactQuery{FactKey: key, Scopes: []memory.Scope{memory.GlobalScope}}, []string{"g3", "g1"}},
		{"owner, two scopes", memory.Owner(), store.FactQuery{FactKey: key, Scopes: []memory.Scope{"agent:b", "agent:a"}}, []string{"b4", "a2b", "a2"}},
		{"limit", memory.Owner(), store.FactQuery{FactKey: key, Limit: 2}, []string{"b4", "g3"}},
		{"other key", memory.Owner(), store.FactQuery{FactKey: "preferences:font"}, []string{"other"}},
		{"no such key", memory.Owner(), store.FactQuery{FactKey: "preferences:nothing"}, []string{}},
		{"a key is matched exactly", memory.Owner(), store.FactQuery{FactKey: "preferences:EDITOR"}, []string{}},
		{"nobody", memory.Scopes(), store.FactQuery{FactKey: key}, []string{}},
	} {
		if got := ids(c.acc, c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := s.Facts(ctx, memory.Owner(), store.FactQuery{}); !errors.Is(err, memory.ErrInvalid) {
		t.Errorf("empty fact key: %v", err)
	}
	// A row that stops naming the fact leaves it; one that starts, joins.
	if _, err := store.PatchMany(ctx, s, memory.Owner(), []store.Patch{
		{ID: "g1", Apply: func(m *memory.Memory) error { delete(m.Metadata, memory.KeyFactKey); return nil }},
		{ID: "none", Apply: func(m *memory.Memory) error { m.Metadata[memory.KeyFactKey] = key; return nil }},
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(a, store.FactQuery{FactKey: key}), []string{"none", "g3", "a2b", "a2"}; !slices.Equal(got, want) {
		t.Errorf("after the fact keys changed: %v, want %v", got, want)
	}
}

// Tx.FactRows reads a fact's rows in one scope inside the write, own
// writes included, and only in scopes the caller reaches.
func testFactRows(t *testing.T, s store.Store) {
	const key = "preferences:editor"
	put(t, s, memory.Owner(),
		fact("g1", key, memory.GlobalScope, 1000, map[string]any{memory.KeyInvalidatedAt: 2000}),
		fact("g2", key, memory.GlobalScope, 2000, nil),
		fact("b1", key, "agent:b", 3000, nil))
	a := memory.AgentAccess("a")
	err := s.Write(ctx, a, func(tx store.Tx) error {
		rows, err := tx.FactRows(memory.GlobalScope, key)
		if err != nil {
			return err
		}
		if got := idsOf(rows); !slices.Equal(got, []string{"g2", "g1"}) {
			t.Errorf("fact rows in global: %v", got)
		}
		if len(rows) > 0 && (rows[0].Revision != 1 || rows[0].Metadata[memory.KeyFactKey] != key || rows[0].Vector != nil) {
			t.Errorf("fact row: %+v", rows[0])
		}
		n := fact("g3", key, memory.GlobalScope, 3000, nil)
		if err := tx.Insert(&n); err != nil {
			return err
		}
		rows, err = tx.FactRows(memory.GlobalScope, key)
		if err != nil {
			return err
		}
		if got := idsOf(rows); !slices.Equal(got, []string{"g3", "g2", "g1"}) {
			t.Errorf("fact rows after an insert in the same write: %v", got)
		}
		if rows, err := tx.FactRows("agent:a", key); err != nil || len(rows) != 0 {
			t.Errorf("fact rows in an empty scope: %v %v", rows, err)
		}
		if _, err := tx.FactRows("agent:b", key); !errors.Is(err, memory.ErrScopeDenied) {
			t.Errorf("fact rows in agent b's scope, as agent a: %v", err)
		}
		if _, err := tx.FactRows(memory.GlobalScope, ""); !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("fact rows without a key: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func idsOf(ms []memory.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
