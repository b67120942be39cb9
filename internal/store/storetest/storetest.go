// Package storetest is the contract suite every store backend passes:
// CRUD, revisions and conflicts, scopes, paging, batches, vectors,
// history, validity (Filter.ActiveAt) and facts, memory_category
// (Filter.MemoryCategories), the capture buffer and its jobs, the job
// lock, tier moves, archiving and auto-recall bookkeeping.
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// Opener returns a fresh, empty store; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the contract suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"InsertGet", testInsertGet},
		{"InsertDefaultsAndExists", testInsertExists},
		{"UpdateRevision", testUpdateRevision},
		{"UpdateKeepsVector", testUpdateKeepsVector},
		{"Delete", testDelete},
		{"WriteErrorRollsBack", testWriteRollback},
		{"Scopes", testScopes},
		{"ListPaging", testListPaging},
		{"ScanNoCap", testScanNoCap},
		{"StatsAndCount", testStats},
		{"Resolve", testResolve},
		{"Batches", testBatches},
		{"VectorSpace", testVectorSpace},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Validation", testValidation},
		{"Touch", testTouch},
		{"LongLists", testLongLists},
		{"HistoryOnUpdateAndDelete", testHistory},
		{"HistoryNoneOnTouch", testHistoryNoTouch},
		{"HistoryScopes", testHistoryScopes},
		{"RestoreAndPurge", testRestorePurge},
		{"PruneHistory", testPruneHistory},
		{"CaptureAppend", testCaptureAppend},
		{"CaptureConsume", testCaptureConsume},
		{"CapturePendingSessions", testCapturePendingSessions},
		{"CaptureScopes", testCaptureScopes},
		{"CaptureJobs", testCaptureJobs},
		{"JobLock", testJobLock},
		{"ActiveFollowsMetadata", testActiveFollowsMetadata},
		{"ActiveCounts", testActiveCounts},
		{"ActiveSearch", testActiveSearch},
		{"Facts", testFacts},
		{"FactRows", testFactRows},
		{"TierMoves", testTierMoves},
		{"TierKeptByUpdate", testTierKeptByUpdate},
		{"ArchivedInactive", testArchivedInactive},
		{"ExpiredFilter", testExpiredFilter},
		{"Bump", testBump},
		{"Injections", testInjections},
		{"MemoryCategories", testMemoryCategories},
		{"MemoryCategoryFollowsWrites", testMemoryCategoryFollowsWrites},
		{"MemoryCategoryPaging", testMemoryCategoryPaging},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

func vec(seed int) []float32 {
	v := make([]float32, 8)
	for i := range v {
		v[i] = float32((seed*31+i*7)%17) / 17
	}
	v[0] += 0.01
	return v
}

func mem(id, text string) memory.Memory {
	return memory.Memory{ID: id, Text: text, Category: memory.CategoryFact, Scope: memory.GlobalScope, Importance: 0.5, Vector: vec(len(text))}
}

func put(t *testing.T, s store.Store, acc memory.Access, ms ...memory.Memory) []memory.Memory {
	t.Helper()
	err := s.Write(ctx, acc, func(tx store.Tx) error {
		for i := range ms {
			if err := tx.Insert(&ms[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	return ms
}

func testInsertGet(t *testing.T, s store.Store) {
	m := mem("a1", "likes tea")
	m.Metadata = map[string]any{"k": "v", "n": 2.0}
	put(t, s, memory.Owner(), m)
	got, err := s.Get(ctx, memory.Owner(), "a1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "likes tea" || got.Revision != 1 || got.CreatedAt == 0 || got.UpdatedAt != got.CreatedAt ||
		got.Metadata["k"] != "v" || got.Metadata["n"] != 2.0 || !slices.Equal(got.Vector, m.Vector) {
		t.Fatalf("got %+v", got)
	}
}

func testInsertExists(t *testing.T, s store.Store) {
	ms := put(t, s, memory.Owner(), memory.Memory{Text: "no id given", Vector: vec(1)})
	if ms[0].ID == "" || ms[0].Scope != memory.GlobalScope || ms[0].Category != memory.CategoryOther {
		t.Fatalf("defaults not filled: %+v", ms[0])
	}
	err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m := mem(ms[0].ID, "again")
		return tx.Insert(&m)
	})
	if !errors.Is(err, memory.ErrExists) {
		t.Fatalf("duplicate id: got %v, want ErrExists", err)
	}
	got, _ := s.Get(ctx, memory.Owner(), ms[0].ID)
	if got.Text != "no id given" {
		t.Fatalf("existing row changed: %q", got.Text)
	}
}

func testUpdateRevision(t *testing.T, s store.Store) {
	put(t, s, memory.Owner(), mem("u1", "v1"))
	m, _ := s.Get(ctx, memory.Owner(), "u1")
	stale := m
	m.Text = "v2"
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
		t.Fatal(err)
	}
	if m.Revision != 2 {
		t.Fatalf("revision after update = %d, want 2", m.Revision)
	}
	stale.Text = "stale"
	err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&stale) })
	var ce *memory.ConflictError
	if !errors.As(err, &ce) || ce.Expected != 1 || ce.Actual != 2 {
		t.Fatalf("stale update: got %v, want conflict 1→2", err)
	}
	got, _ := s.Get(ctx, memory.Owner(), "u1")
	if got.Text != "v2" || got.Revision != 2 || got.UpdatedAt < got.CreatedAt {
		t.Fatalf("after conflict: %+v", got)
	}
}

func testUpdateKeepsVector(t *testing.T, s store.Store) {
	put(t, s, memory.Owner(), mem("kv", "text"))
	m, _ := s.Get(ctx, memory.Owner(), "kv")
	want := m.Vector
	m.Vector = nil
	m.Importance = 0.9
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, memory.Owner(), "kv")
	if !slices.Equal(got.Vector, want) || got.Importance != 0.9 {
		t.Fatalf("vector or importance lost: %+v", got)
	}
}

func testDelete(t *testing.T, s store.Store) {
	put(t, s, memory.Owner(), mem("d1", "x"), mem("d2", "y"))
	err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("d1", 5) })
	if !errors.Is(err, memory.ErrConflict) {
		t.Fatalf("delete with stale revision: %v", err)
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("d1", 1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, memory.Owner(), "d1"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("deleted row still there: %v", err)
	}
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("d1", 0) })
	if !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func testWriteRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m := mem("r1", "rolled back")
		if err := tx.Insert(&m); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Get(ctx, memory.Owner(), "r1"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("row of a failed write is visible: %v", err)
	}
}

func testScopes(t *testing.T, s store.Store) {
	a := memory.AgentAccess("a")
	b := memory.AgentAccess("b")
	put(t, s, memory.Owner(),
		memory.Memory{ID: "g", Text: "global", Scope: memory.GlobalScope, Vector: vec(1)},
		memory.Memory{ID: "pa", Text: "private a", Scope: "agent:a", Vector: vec(2)},
		memory.Memory{ID: "pb", Text: "private b", Scope: "agent:b", Vector: vec(3)})
	if _, err := s.Get(ctx, b, "pa"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("agent b read agent a's row: %v", err)
	}
	if _, err := s.Get(ctx, a, "pa"); err != nil {
		t.Fatalf("agent a cannot read its row: %v", err)
	}
	err := s.Write(ctx, b, func(tx store.Tx) error {
		m := memory.Memory{Text: "sneak", Scope: "agent:a", Vector: vec(4)}
		return tx.Insert(&m)
	})
	if !errors.Is(err, memory.ErrScopeDenied) {
		t.Fatalf("agent b wrote into agent:a: %v", err)
	}
	for name, fn := range map[string]func(tx store.Tx) error{
		"update": func(tx store.Tx) error {
			m := mem("pa", "hijack")
			m.Scope, m.Revision = "agent:a", 1
			return tx.Update(&m)
		},
		"delete": func(tx store.Tx) error { return tx.Delete("pa", 0) },
		"get":    func(tx store.Tx) error { _, err := tx.Get("pa"); return err },
	} {
		if err := s.Write(ctx, b, fn); !errors.Is(err, memory.ErrNotFound) {
			t.Errorf("agent b %s on agent:a row: got %v, want not found", name, err)
		}
	}
	// Moving one's own row into a scope one cannot reach is denied.
	err = s.Write(ctx, a, func(tx store.Tx) error {
		m, err := tx.Get("pa")
		if err != nil {
			return err
		}
		m.Scope = "agent:b"
		return tx.Update(&m)
	})
	if !errors.Is(err, memory.ErrScopeDenied) {
		t.Fatalf("move into foreign scope: %v", err)
	}
	page, err := s.List(ctx, b, store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Memories {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"g", "pb"}) {
		t.Fatalf("agent b lists %v", ids)
	}
	// Asking for a scope one cannot reach yields nothing, not an error.
	page, _ = s.List(ctx, b, store.ListOptions{Filter: store.Filter{Scopes: []memory.Scope{"agent:a"}}})
	if len(page.Memories) != 0 {
		t.Fatalf("filter on foreign scope leaked %d rows", len(page.Memories))
	}
	if n, _ := s.Count(ctx, memory.Scopes(), store.Filter{}); n != 0 {
		t.Fatalf("empty access counts %d rows", n)
	}
	st, _ := s.Stats(ctx, a, store.Filter{})
	if st.Total != 2 || st.ByScope["agent:b"] != 0 {
		t.Fatalf("stats leak: %+v", st)
	}
}

func testListPaging(t *testing.T, s store.Store) {
	var ms []memory.Memory
	for i := range 25 {
		m := mem(fmt.Sprintf("p%02d", i), fmt.Sprintf("row %d", i))
		m.CreatedAt = int64(1000 + i/2) // ties on created_at are broken by id
		ms = append(ms, m)
	}
	put(t, s, memory.Owner(), ms...)
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.List(ctx, memory.Owner(), store.ListOptions{Limit: 10, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Memories {
			seen = append(seen, m.ID)
		}
		if pages == 0 {
			// A newer row inserted between pages must not shift the next page.
			n := mem("zz-new", "newest")
			n.CreatedAt = 5000
			put(t, s, memory.Owner(), n)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 25 {
		t.Fatalf("paged %d rows, want 25: %v", len(seen), seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("not newest first at %d: %v", i, seen)
		}
	}
	if _, err := s.List(ctx, memory.Owner(), store.ListOptions{Cursor: "garbage!"}); !errors.Is(err, memory.ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func testScanNoCap(t *testing.T, s store.Store) {
	const n = 2500 // beyond the seed's 1,000-row cap, over several pages
	ms := make([]memory.Memory, n)
	for i := range ms {
		ms[i] = mem(fmt.Sprintf("s%05d", i), fmt.Sprintf("scan %d", i))
		if i%3 == 0 {
			ms[i].Format = memory.FormatSmart
		}
	}
	put(t, s, memory.Owner(), ms...)
	count := 0
	legacy := memory.FormatLegacy
	err := s.Scan(ctx, memory.Owner(), store.ScanOptions{PageSize: 300, Filter: store.Filter{Format: &legacy}}, func(m memory.Memory) error {
		if m.Format != memory.FormatLegacy {
			t.Fatalf("format filter broken: %+v", m)
		}
		count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := n - (n+2)/3; count != want {
		t.Fatalf("scanned %d legacy rows, want %d", count, want)
	}
}

func testStats(t *testing.T, s store.Store) {
	put(t, s, memory.Owner(),
		memory.Memory{ID: "1", Text: "a", Category: memory.CategoryPreference, Scope: "user:x", CreatedAt: 100, Vector: vec(1)},
		memory.Memory{ID: "2", Text: "b", Category: memory.CategoryPreference, Scope: "global", CreatedAt: 200, Format: memory.FormatSmart, Vector: vec(2)},
		memory.Memory{ID: "3", Text: "c", Category: memory.CategoryReflection, Scope: "global", CreatedAt: 300, Vector: vec(3)})
	st, err := s.Stats(ctx, memory.Owner(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 3 || st.Legacy != 2 || st.Smart != 1 || st.ByScope["global"] != 2 || st.ByCategory["preference"] != 2 ||
		st.ByCategory["reflection"] != 1 || st.Oldest != 100 || st.Newest != 300 {
		t.Fatalf("stats %+v", st)
	}
	n, _ := s.Count(ctx, memory.Owner(), store.Filter{Scopes: []memory.Scope{"global"}, CreatedBefore: 300})
	if n != 1 {
		t.Fatalf("count before 300 in global = %d, want 1", n)
	}
}

func testResolve(t *testing.T, s store.Store) {
	put(t, s, memory.Owner(), mem("abcdefgh-1111", "x"), mem("abcdefgh-2222", "y"), mem("zzzzzzzz-3333", "z"))
	if id, err := s.Resolve(ctx, memory.Owner(), "zzzzzzzz"); err != nil || id != "zzzzzzzz-3333" {
		t.Fatalf("unique prefix: %q %v", id, err)
	}
	var ae *memory.AmbiguousError
	if _, err := s.Resolve(ctx, memory.Owner(), "abcdefgh"); !errors.As(err, &ae) || len(ae.Candidates) != 2 {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := s.Resolve(ctx, memory.Owner(), "zzzz"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("short prefix: %v", err)
	}
	if id, err := s.Resolve(ctx, memory.Owner(), "abcdefgh-2222"); err != nil || id != "abcdefgh-2222" {
		t.Fatalf("full id: %q %v", id, err)
	}
}

func testBatches(t *testing.T, s store.Store) {
	res, err := store.PutMany(ctx, s, memory.Owner(), []memory.Memory{mem("b1", "one"), mem("b1", "dup"), {ID: "b3", Text: " ", Vector: vec(3)}, mem("b4", "four")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || !errors.Is(res[1].Err, memory.ErrExists) || !errors.Is(res[2].Err, memory.ErrInvalid) || res[3].Err != nil {
		t.Fatalf("PutMany results %+v", res)
	}
	res, err = store.PatchMany(ctx, s, memory.Owner(), []store.Patch{
		{ID: "b1", ExpectedRevision: 1, Apply: func(m *memory.Memory) error { m.Importance = 1; return nil }},
		{ID: "b4", ExpectedRevision: 7, Apply: func(m *memory.Memory) error { m.Text = "never"; return nil }},
		{ID: "missing", Apply: func(m *memory.Memory) error { return nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || !errors.Is(res[1].Err, memory.ErrConflict) || !errors.Is(res[2].Err, memory.ErrNotFound) {
		t.Fatalf("PatchMany results %+v", res)
	}
	if m, _ := s.Get(ctx, memory.Owner(), "b4"); m.Text != "four" || m.Revision != 1 {
		t.Fatalf("stale patch applied: %+v", m)
	}
	if m, _ := s.Get(ctx, memory.Owner(), "b1"); m.Importance != 1 || m.Revision != 2 || len(m.Vector) == 0 {
		t.Fatalf("patch not applied: %+v", m)
	}
	res, err = store.DeleteMany(ctx, s, memory.Owner(), []store.Deletion{{ID: "b1"}, {ID: "b4", ExpectedRevision: 3}, {ID: "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || !errors.Is(res[1].Err, memory.ErrConflict) || !errors.Is(res[2].Err, memory.ErrNotFound) {
		t.Fatalf("DeleteMany results %+v", res)
	}
}

func testVectorSpace(t *testing.T, s store.Store) {
	put(t, s, memory.Owner(), mem("v1", "eight dims"))
	sp, err := s.Space(ctx)
	if err != nil || sp.Dimensions != 8 {
		t.Fatalf("space %+v %v", sp, err)
	}
	err = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
		m := memory.Memory{Text: "four dims", Vector: []float32{1, 0, 0, 0}}
		return tx.Insert(&m)
	})
	if !errors.Is(err, memory.ErrDimensions) {
		t.Fatalf("wrong dimensions: %v", err)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	// Goroutines share transactions (group commit); one failing caller must
	// not undo the others.
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
				m := mem(fmt.Sprintf("c%03d", i), "concurrent")
				if err := tx.Insert(&m); err != nil {
					return err
				}
				if i%4 == 0 {
					return errors.New("caller fails")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%4 == 0) != (err != nil) {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if c, _ := s.Count(ctx, memory.Owner(), store.Filter{}); c != n-n/4 {
		t.Fatalf("count %d, want %d", c, n-n/4)
	}
}

func testValidation(t *testing.T, s store.Store) {
	bad := []memory.Memory{
		{Text: ""},
		{Text: "x", Importance: 2},
		{Text: "x", Category: "nonsense"},
		{Text: "x", Scope: "team a"},
		{Text: "bad\x00nul"},
		{Text: "bad \xff utf8"},
		{ID: "has space", Text: "x"},
	}
	for _, m := range bad {
		err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Insert(&m) })
		if !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("insert %+v: got %v, want ErrInvalid", m, err)
		}
	}
	if n, _ := s.Count(ctx, memory.Owner(), store.Filter{}); n != 0 {
		t.Fatalf("invalid rows stored: %d", n)
	}
}

// Touch counts recalls without editing the row: revision and updated_at
// stay, other metadata stays, last_accessed_at only moves forward, and a
// row outside the caller's scopes is not found.
func testTouch(t *testing.T, s store.Store) {
	m := mem("touched", "the deploy key lives in vault")
	m.Metadata = map[string]any{"tier": "core", "access_count": 2}
	m = put(t, s, memory.Owner(), m)[0]
	private := mem("private", "agent x only")
	private.Scope = "agent:x"
	put(t, s, memory.Owner(), private)

	touch := func(acc memory.Access, id string, n int, at int64) error {
		return s.Write(ctx, acc, func(tx store.Tx) error { return tx.Touch(id, n, at) })
	}
	if err := touch(memory.Owner(), m.ID, 3, 5000); err != nil {
		t.Fatal(err)
	}
	if err := touch(memory.AgentAccess("y"), m.ID, 1, 4000); err != nil { // an earlier recall, recorded late
		t.Fatal(err)
	}
	got, err := s.Get(ctx, memory.Owner(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := got.Metadata["access_count"].(float64); n != 6 {
		t.Errorf("access_count = %v, want 6", got.Metadata["access_count"])
	}
	if at, _ := got.Metadata["last_accessed_at"].(float64); at != 5000 {
		t.Errorf("last_accessed_at = %v, want 5000 (never moves back)", got.Metadata["last_accessed_at"])
	}
	if got.Metadata["tier"] != "core" || got.Revision != m.Revision || got.UpdatedAt != m.UpdatedAt || got.Text != m.Text {
		t.Errorf("touch edited the row: %+v, was %+v", got, m)
	}
	if err := touch(memory.AgentAccess("y"), "private", 1, 1); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("touch out of scope: %v, want not found", err)
	}
	if err := touch(memory.Owner(), "missing", 1, 1); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("touch of a missing row: %v, want not found", err)
	}
	if err := touch(memory.Owner(), m.ID, 0, 1); err == nil {
		t.Error("touch with count 0 succeeded")
	}
	// An update made from the row read before the touches still succeeds,
	// and does not undo them.
	m.Importance = 0.9
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
		t.Errorf("update at the revision read before touches: %v", err)
	}
	got, _ = s.Get(ctx, memory.Owner(), m.ID)
	if n, _ := got.Metadata["access_count"].(float64); n != 6 || got.Importance != 0.9 || got.Metadata["tier"] != "core" {
		t.Errorf("after an update from an old read: %+v, want access_count 6 kept and importance 0.9", got)
	}
	// A time written as text (imported) survives an update untouched.
	dated := mem("dated", "imported with a text timestamp")
	dated.Metadata = map[string]any{"last_accessed_at": "2024-05-01T10:00:00Z", "access_count": "3"}
	dated = put(t, s, memory.Owner(), dated)[0]
	dated.Importance = 0.1
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&dated) }); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, memory.Owner(), dated.ID)
	if got.Metadata["last_accessed_at"] != "2024-05-01T10:00:00Z" || got.Metadata["access_count"] != "3" {
		t.Errorf("an update changed text usage values: %v", got.Metadata)
	}
}

// A request may name any number of scopes, categories or ids: no list is
// spread over SQL parameters, so none can exceed SQLite's variable limit.
// Each read answers, or refuses with ErrInvalid — never an SQL error.
func testLongLists(t *testing.T, s store.Store) {
	const n = 40_000
	put(t, s, memory.Owner(), mem("in", "kept apple"), memory.Memory{ID: "out", Text: "other apple", Scope: "agent:z", Vector: vec(9)})
	scopes := make([]memory.Scope, n)
	ids := make([]string, n)
	for i := range scopes {
		scopes[i] = memory.Scope(fmt.Sprintf("custom:s%d", i))
		ids[i] = fmt.Sprintf("id%d", i)
	}
	scopes[n-1], ids[n-1] = memory.GlobalScope, "in"
	cats := make([]memory.Category, n)
	for i := range cats {
		cats[i] = memory.CategoryFact
	}
	wide := memory.Scopes(scopes...)
	f := store.Filter{Scopes: scopes, Categories: cats}
	check := func(what string, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("%s with %d scopes: %v", what, n, err)
		}
	}
	for _, acc := range []memory.Access{wide, memory.Owner()} {
		page, err := s.List(ctx, acc, store.ListOptions{Filter: f, Limit: 10})
		check("list", err)
		if err == nil && (len(page.Memories) != 1 || page.Memories[0].ID != "in") {
			t.Errorf("list with %d scopes: %d rows, want only \"in\"", n, len(page.Memories))
		}
		c, err := s.Count(ctx, acc, f)
		check("count", err)
		if err == nil && c != 1 {
			t.Errorf("count with %d scopes = %d, want 1", n, c)
		}
		_, err = s.Stats(ctx, acc, f)
		check("stats", err)
		check("scan", s.Scan(ctx, acc, store.ScanOptions{Filter: f}, func(memory.Memory) error { return nil }))
	}
	_, err := s.Get(ctx, wide, "in")
	check("get", err)
	_, err = s.Resolve(ctx, wide, "in")
	check("resolve", err)
	check("write", s.Write(ctx, wide, func(tx store.Tx) error { _, err := tx.Get("in"); return err }))
	sr, ok := s.(store.Searcher)
	if !ok {
		return
	}
	ms, err := sr.GetMany(ctx, wide, ids)
	check("get many", err)
	if err == nil && (len(ms) != 1 || ms[0].ID != "in") {
		t.Errorf("get many with %d ids: %d rows, want only \"in\"", n, len(ms))
	}
	hits, err := sr.SearchText(ctx, wide, f, "apple", 10)
	check("text search", err)
	if err == nil && (len(hits) != 1 || hits[0].ID != "in") {
		t.Errorf("text search with %d scopes: %v, want only \"in\"", n, hits)
	}
}

func testHistory(t *testing.T, s store.Store) {
	m := put(t, s, memory.Owner(), mem("h1", "first"))[0]
	m.Metadata = map[string]any{"k": "v"}
	m.Text, m.Category, m.Importance = "second", memory.CategoryDecision, 0.8
	if err := s.Write(ctx, memory.Owner().By("bot"), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
		t.Fatal(err)
	}
	// A failed write keeps no version.
	stale := m
	stale.Revision = 1
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&stale) }); !errors.Is(err, memory.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("h1", 2) }); err != nil {
		t.Fatal(err)
	}
	vs, err := s.History(ctx, memory.Owner(), "h1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("history has %d versions, want 2: %+v", len(vs), vs)
	}
	del, upd := vs[0], vs[1]
	if del.Revision != 2 || del.Text != "second" || del.Change != store.ChangeDelete || del.Category != memory.CategoryDecision ||
		del.Importance != 0.8 || del.Metadata["k"] != "v" || del.ReplacedBy != memory.OwnerName {
		t.Errorf("delete version: %+v", del)
	}
	if upd.Revision != 1 || upd.Text != "first" || upd.Change != store.ChangeUpdate || upd.ReplacedBy != "bot" ||
		upd.Category != memory.CategoryFact || upd.Importance != 0.5 || upd.ReplacedAt == 0 {
		t.Errorf("update version: %+v", upd)
	}
	if vs, _ := s.History(ctx, memory.Owner(), "h1", 1); len(vs) != 1 || vs[0].Revision != 2 {
		t.Errorf("limit 1: %+v", vs)
	}
	if _, err := s.History(ctx, memory.Owner(), "never", 0); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("history of an unknown id: %v", err)
	}
	put(t, s, memory.Owner(), mem("fresh", "no edits"))
	if vs, err := s.History(ctx, memory.Owner(), "fresh", 0); err != nil || len(vs) != 0 {
		t.Errorf("history of an unedited row: %v %v", vs, err)
	}
}

func testHistoryNoTouch(t *testing.T, s store.Store) {
	m := put(t, s, memory.Owner(), mem("t1", "recalled often"))[0]
	for range 3 {
		if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Touch("t1", 1, 99) }); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := s.History(ctx, memory.Owner(), "t1", 0)
	if err != nil || len(vs) != 0 {
		t.Fatalf("touch wrote history: %+v %v", vs, err)
	}
	got, _ := s.Get(ctx, memory.Owner(), "t1")
	if got.Revision != m.Revision {
		t.Fatalf("touch bumped the revision %d -> %d", m.Revision, got.Revision)
	}
}

func testHistoryScopes(t *testing.T, s store.Store) {
	m := mem("moved", "said in private")
	m.Scope = "agent:a"
	m = put(t, s, memory.Owner(), m)[0]
	// Moved from agent:a to global, then edited there.
	m.Scope, m.Text = memory.GlobalScope, "said in public"
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
		t.Fatal(err)
	}
	m.Text = "said in public, edited"
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
		t.Fatal(err)
	}
	vs, err := s.History(ctx, memory.AgentAccess("b"), "moved", 0)
	if err != nil || len(vs) != 1 || vs[0].Text != "said in public" {
		t.Fatalf("agent b sees %+v %v, want only the global version", vs, err)
	}
	if vs, _ := s.History(ctx, memory.AgentAccess("a"), "moved", 0); len(vs) != 2 {
		t.Fatalf("agent a sees %d versions, want 2", len(vs))
	}
	// Moved out of global into agent:a: agent b sees nothing, as Get.
	m.Scope = "agent:a"
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
		t.Fatal(err)
	}
	if vs, err := s.History(ctx, memory.AgentAccess("b"), "moved", 0); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("agent b after the move out: %+v %v, want not found", vs, err)
	}
	// Deleted in agent:a: still agent a's only.
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("moved", 0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.History(ctx, memory.AgentAccess("b"), "moved", 0); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("agent b after delete: %v", err)
	}
	if vs, _ := s.History(ctx, memory.AgentAccess("a"), "moved", 0); len(vs) != 4 {
		t.Fatalf("agent a after delete sees %d versions, want 4", len(vs))
	}
}

func testRestorePurge(t *testing.T, s store.Store) {
	orig := mem("r1", "to be restored")
	orig.Metadata = map[string]any{"source": "test"}
	orig = put(t, s, memory.Owner(), orig)[0]
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Delete("r1", 0) }); err != nil {
		t.Fatal(err)
	}
	vs, _ := s.History(ctx, memory.Owner(), "r1", 1)
	back := vs[0].Memory()
	back.Revision++
	stale := back
	stale.Revision = 7
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Restore(&stale) }); !errors.Is(err, memory.ErrConflict) {
		t.Fatalf("restore at a wrong revision: %v", err)
	}
	if err := s.Write(ctx, memory.Scopes("agent:x"), func(tx store.Tx) error { c := back; return tx.Restore(&c) }); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("restore by a caller outside the deleted row's scope: %v", err)
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Restore(&back) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, memory.Owner(), "r1")
	if err != nil || got.Text != orig.Text || got.Metadata["source"] != "test" || got.Revision != 2 || got.CreatedAt != orig.CreatedAt {
		t.Fatalf("restored: %+v %v", got, err)
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Restore(&back) }); !errors.Is(err, memory.ErrExists) {
		t.Fatalf("restore of a live row: %v", err)
	}
	var e store.Erasure
	if err := s.Write(ctx, memory.AgentAccess("x"), func(tx store.Tx) error { _, err := tx.Purge("r1"); return err }); !errors.Is(err, memory.ErrScopeDenied) {
		t.Fatalf("purge by an agent: %v", err)
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { var err error; e, err = tx.Purge("r1"); return err }); err != nil {
		t.Fatal(err)
	}
	if !e.HadRow || e.Versions != 1 {
		t.Fatalf("erasure: %+v", e)
	}
	if _, err := s.Get(ctx, memory.Owner(), "r1"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("purged row readable: %v", err)
	}
	if _, err := s.History(ctx, memory.Owner(), "r1", 0); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("purged history readable: %v", err)
	}
	if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { _, err := tx.Purge("r1"); return err }); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("purge twice: %v", err)
	}
}

func testPruneHistory(t *testing.T, s store.Store) {
	m := put(t, s, memory.Owner(), mem("p1", "v0"))[0]
	for i := 1; i <= 7; i++ {
		m.Text = fmt.Sprintf("v%d", i)
		if err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error { return tx.Update(&m) }); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneHistory(ctx, 3, 0, 2)
	if err != nil || n != 4 {
		t.Fatalf("pruned %d (%v), want 4", n, err)
	}
	vs, _ := s.History(ctx, memory.Owner(), "p1", 0)
	if len(vs) != 3 || vs[0].Text != "v6" || vs[2].Text != "v4" {
		t.Fatalf("kept %+v, want v6..v4", vs)
	}
	if n, _ := s.PruneHistory(ctx, 0, 1<<62, 0); n != 3 {
		t.Fatalf("pruned by time %d, want 3", n)
	}
}
