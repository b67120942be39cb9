package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// The contract of Filter.MemoryCategories: the six-category
// memory_category of memory.SmartCategoryOf, applied by every read path
// and kept by every write.

func smartFilter(cs ...memory.SmartCategory) store.Filter {
	return store.Filter{MemoryCategories: cs}
}

// Each row answers to the memory_category memory.SmartCategoryOf gives it,
// on List, Scan, Count, Stats, text search and the vector change feed.
func testMemoryCategories(t *testing.T, s store.Store) {
	owner := memory.Owner()
	row := func(id string, cat memory.Category, text string, format memory.Format, md map[string]any) memory.Memory {
		m := mem(id, text)
		m.Category, m.Format, m.Metadata = cat, format, md
		return m
	}
	long := "I am " + strings.Repeat("writing a long account of the incident with the deploy pipeline; ", 4)
	rows := []memory.Memory{
		row("nurse", memory.CategoryFact, "I am a nurse, plum", memory.FormatLegacy, nil),
		row("longfact", memory.CategoryFact, long+"plum", memory.FormatLegacy, nil),
		row("decided", memory.CategoryDecision, "we chose postgres, plum", memory.FormatLegacy, nil),
		row("mapped", memory.CategoryDecision, "my team ships on fridays, plum", memory.FormatLegacy, map[string]any{"type": "memory-reflection-mapped"}),
		row("pref", memory.CategoryPreference, "likes tea, plum", memory.FormatLegacy, nil),
		row("ent", memory.CategoryEntity, "Alice is the lead, plum", memory.FormatLegacy, nil),
		row("refl", memory.CategoryReflection, "went well, plum", memory.FormatLegacy, nil),
		row("other", memory.CategoryOther, "misc, plum", memory.FormatLegacy, nil),
		row("smartpref", memory.CategoryFact, "I am partial to tabs, plum", memory.FormatSmart, map[string]any{memory.KeyMemoryCategory: "preferences"}),
		row("smartalias", memory.CategoryOther, "deploys on friday, plum", memory.FormatSmart, map[string]any{memory.KeyMemoryCategory: " Event "}),
		row("smartbad", memory.CategoryPreference, "dark mode, plum", memory.FormatSmart, map[string]any{memory.KeyMemoryCategory: "nonsense"}),
		row("legacymeta", memory.CategoryFact, "likes go, plum", memory.FormatLegacy, map[string]any{memory.KeyMemoryCategory: "profile"}), // legacy: metadata not read
	}
	put(t, s, owner, rows...)
	want := map[memory.SmartCategory][]string{
		memory.SmartProfile:     {"nurse", "mapped"},
		memory.SmartCases:       {"longfact", "legacymeta"},
		memory.SmartEvents:      {"decided", "smartalias"},
		memory.SmartPreferences: {"pref", "smartpref", "smartbad"},
		memory.SmartEntities:    {"ent"},
		memory.SmartPatterns:    {"refl", "other"},
	}
	for _, c := range memory.SmartCategories {
		wantIDs(t, "memory_category "+string(c), listIDs(t, s, owner, smartFilter(c)), want[c]...)
	}
	wantIDs(t, "profile or events", listIDs(t, s, owner, smartFilter(memory.SmartProfile, memory.SmartEvents)), "nurse", "mapped", "decided", "smartalias")
	// With the storage vocabulary: both must hold.
	wantIDs(t, "category fact and memory_category preferences",
		listIDs(t, s, owner, store.Filter{Categories: []memory.Category{memory.CategoryFact}, MemoryCategories: []memory.SmartCategory{memory.SmartPreferences}}), "smartpref")
	if st, err := s.Stats(ctx, owner, smartFilter(memory.SmartPreferences)); err != nil || st.Total != 3 || st.ByCategory["fact"] != 1 || st.ByCategory["preference"] != 2 {
		t.Fatalf("stats of preferences: %+v %v", st, err)
	}
	// An agent reaches its scopes (its own and global) only, memory_category or not.
	put(t, s, owner, row("agentnurse", memory.CategoryFact, "I'm a nurse too, plum", memory.FormatLegacy, nil))
	err := s.Write(ctx, owner, func(tx store.Tx) error {
		m, err := tx.Get("agentnurse")
		if err != nil {
			return err
		}
		m.Scope = "agent:a"
		return tx.Update(&m)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "agent a, profile", listIDs(t, s, memory.AgentAccess("a"), smartFilter(memory.SmartProfile)), "agentnurse", "mapped", "nurse")
	wantIDs(t, "agent b, profile", listIDs(t, s, memory.AgentAccess("b"), smartFilter(memory.SmartProfile)), "mapped", "nurse")

	if sr, ok := s.(store.Searcher); ok {
		hits, err := sr.SearchText(ctx, owner, smartFilter(memory.SmartProfile), "plum", 3)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		slices.Sort(ids)
		wantIDs(t, "text search, profile, k=3", ids, "nurse", "mapped", "agentnurse")
		ch, err := sr.VectorChanges(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ch.Upserts {
			var m memory.Memory
			for _, x := range append(rows, memory.Memory{ID: "agentnurse", Category: memory.CategoryFact, Text: "I'm a nurse too, plum"}) {
				if x.ID == r.ID {
					m = x
				}
			}
			if r.SmartCategory != memory.SmartCategoryOf(m) {
				t.Errorf("vector row %s: smart category %q, want %q", r.ID, r.SmartCategory, memory.SmartCategoryOf(m))
			}
		}
	}
}

// Every write that changes what the mapping reads (text, category,
// format, metadata) moves the row to its new memory_category; Touch,
// Restore and PutMany keep it right.
func testMemoryCategoryFollowsWrites(t *testing.T, s store.Store) {
	owner := memory.Owner()
	m := mem("w", "I am a nurse")
	put(t, s, owner, m)
	in := func(c memory.SmartCategory) {
		t.Helper()
		wantIDs(t, "after the write, "+string(c), listIDs(t, s, owner, smartFilter(c)), "w")
	}
	in(memory.SmartProfile)
	update := func(fn func(m *memory.Memory)) {
		t.Helper()
		err := s.Write(ctx, owner, func(tx store.Tx) error {
			m, err := tx.Get("w")
			if err != nil {
				return err
			}
			fn(&m)
			return tx.Update(&m)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	update(func(m *memory.Memory) { m.Text = strings.Repeat("a long note about the build. ", 10) })
	in(memory.SmartCases)
	update(func(m *memory.Memory) { m.Category = memory.CategoryDecision })
	in(memory.SmartEvents)
	update(func(m *memory.Memory) { m.Metadata["type"] = "memory-reflection-mapped" })
	in(memory.SmartCases)
	update(func(m *memory.Memory) {
		m.Format = memory.FormatSmart
		m.Metadata[memory.KeyMemoryCategory] = "entities"
	})
	in(memory.SmartEntities)
	res, err := store.PatchMany(ctx, s, owner, []store.Patch{{ID: "w", Apply: func(m *memory.Memory) error {
		m.Metadata[memory.KeyMemoryCategory] = "patterns"
		return nil
	}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("patch: %v %+v", err, res)
	}
	in(memory.SmartPatterns)
	if err := s.Write(ctx, owner, func(tx store.Tx) error { return tx.Touch("w", 3, 5000) }); err != nil {
		t.Fatal(err)
	}
	in(memory.SmartPatterns)

	// Deleted and restored: the restored row is filed again.
	var gone memory.Memory
	err = s.Write(ctx, owner, func(tx store.Tx) error {
		var err error
		if gone, err = tx.Get("w"); err != nil {
			return err
		}
		return tx.Delete("w", 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "deleted", listIDs(t, s, owner, smartFilter(memory.SmartPatterns)))
	gone.Revision++
	gone.Metadata[memory.KeyMemoryCategory] = "profile"
	if err := s.Write(ctx, owner, func(tx store.Tx) error { return tx.Restore(&gone) }); err != nil {
		t.Fatal(err)
	}
	in(memory.SmartProfile)

	// PutMany, as import writes.
	batch := []memory.Memory{mem("p1", "my name is Ada"), mem("p2", "shipped v2")}
	batch[1].Category = memory.CategoryDecision
	if _, err := store.PutMany(ctx, s, owner, batch); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "put many, profile", listIDs(t, s, owner, smartFilter(memory.SmartProfile)), "w", "p1")
	wantIDs(t, "put many, events", listIDs(t, s, owner, smartFilter(memory.SmartEvents)), "p2")
}

// Paging a memory_category listing returns exactly its rows, full pages
// until the last, however the other rows lie between them.
func testMemoryCategoryPaging(t *testing.T, s store.Store) {
	owner := memory.Owner()
	var ms []memory.Memory
	var want []string
	for i := range 50 {
		m := mem(fmt.Sprintf("%03d", i), fmt.Sprintf("row %d", i))
		m.CreatedAt = int64(1000 + i/2) // ties on created_at: id breaks them
		if i%3 == 0 {
			m.Category = memory.CategoryPreference
			want = append(want, m.ID)
		}
		ms = append(ms, m)
	}
	put(t, s, owner, ms...)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := s.List(ctx, owner, store.ListOptions{Filter: smartFilter(memory.SmartPreferences), Limit: 4, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Memories {
			got = append(got, m.ID)
		}
		if page.NextCursor == "" {
			break
		}
		if len(page.Memories) != 4 {
			t.Fatalf("page %d has %d rows and a next cursor", pages, len(page.Memories))
		}
		cursor = page.NextCursor
	}
	slices.Reverse(got)
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
}
