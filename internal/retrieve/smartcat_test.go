package retrieve

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// A memory_category filter applies on both sides while they search: 30
// near copies of the query in another memory_category take no place of
// the 5 matching rows; a write that moves a row to another
// memory_category moves it in the vector index at the next recall.
func TestRecallMemoryCategory(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := embedding.NewHash(64)
	var ms []memory.Memory
	add := func(id, text string, cat memory.Category, format memory.Format, md map[string]any) {
		v, err := emb.Embed(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, memory.Memory{ID: id, Text: text, Category: cat, Format: format, Metadata: md, Vector: v[0], CreatedAt: 1000})
	}
	for i := range 30 {
		add(fmt.Sprintf("crowd%02d", i), "we deploy the billing service on fridays", memory.CategoryDecision, memory.FormatLegacy, nil) // events
	}
	for i := range 6 {
		add(fmt.Sprintf("case%d", i), fmt.Sprintf("deploy of the billing service failed, fix %d", i), memory.CategoryFact, memory.FormatLegacy, nil) // cases
	}
	add("smartcase", "billing deploy needs the cache cleared", memory.CategoryDecision, memory.FormatSmart, map[string]any{memory.KeyMemoryCategory: "cases"})
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	bare := Options{DisableFloor: true, DisableNoise: true, DisableDedup: true}
	isCase := func(id string) bool { return strings.HasPrefix(id, "case") || id == "smartcase" }
	for name, side := range map[string]func(Options) Options{
		"vector": func(o Options) Options { o.DisableBM25 = true; return o },
		"bm25":   func(o Options) Options { o.DisableVector = true; return o },
		"hybrid": func(o Options) Options { return o },
	} {
		t.Run(name, func(t *testing.T) {
			r := New(st, emb, nil, side(bare))
			recall := func(cs ...memory.SmartCategory) []string {
				t.Helper()
				resp, err := r.Search(ctx, memory.Owner(), Request{Query: "deploy the billing service on fridays", MemoryCategories: cs, Limit: 5, MinScore: &zero})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, res := range resp.Results {
					ids = append(ids, res.Memory.ID)
				}
				return ids
			}
			if got := recall(memory.SmartCases); len(got) != 5 || slices.ContainsFunc(got, func(id string) bool { return !isCase(id) }) {
				t.Fatalf("cases: %v, want 5 cases", got)
			}
			if got := recall(); slices.ContainsFunc(got, isCase) {
				t.Fatalf("no filter: %v, want the near copies", got)
			}
			// The smart row answers to its memory_category, not its storage category.
			if got := recall(memory.SmartEvents); len(got) != 5 || slices.Contains(got, "smartcase") {
				t.Fatalf("events: %v", got)
			}
		})
	}
	r := New(st, emb, nil, Options{DisableBM25: true, DisableFloor: true, DisableNoise: true, DisableDedup: true})
	find := func(c memory.SmartCategory) bool {
		resp, err := r.Search(ctx, memory.Owner(), Request{Query: "billing deploy needs the cache cleared", MemoryCategories: []memory.SmartCategory{c}, Limit: 40, MinScore: &zero})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(resp.Results, func(r Result) bool { return r.Memory.ID == "smartcase" })
	}
	if !find(memory.SmartCases) || find(memory.SmartPatterns) {
		t.Fatal("smartcase is not filed under cases")
	}
	if _, err := store.PatchMany(ctx, st, memory.Owner(), []store.Patch{{ID: "smartcase", Apply: func(m *memory.Memory) error {
		m.Metadata[memory.KeyMemoryCategory] = "patterns"
		return nil
	}}}); err != nil {
		t.Fatal(err)
	}
	if find(memory.SmartCases) || !find(memory.SmartPatterns) {
		t.Fatal("after the patch, smartcase is not filed under patterns only")
	}
}
