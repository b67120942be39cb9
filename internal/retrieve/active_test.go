package retrieve

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// Recall returns what is active now unless asked otherwise: superseded
// and expired rows are not candidates on either side, so they neither
// show nor take the places of active rows (with 30 superseded near
// copies of the query, the 5 results are still 5); AsOf recalls what was
// active then; IncludeHistory everything.
func TestRecallActiveRows(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := embedding.NewHash(64)
	type row struct {
		id, text string
		created  int64
		md       map[string]any
	}
	rows := []row{
		{"old", "prefers the vim editor for code", 1000, map[string]any{memory.KeyFactKey: "preferences:editor", memory.KeyInvalidatedAt: 5000, memory.KeySupersededBy: "new"}},
		{"new", "prefers the helix editor for code", 5000, map[string]any{memory.KeyFactKey: "preferences:editor", memory.KeySupersedes: "old"}},
		{"trip", "editor conference trip is next week", 1000, map[string]any{memory.KeyValidUntil: 3000}},
	}
	for i := range 30 {
		rows = append(rows, row{fmt.Sprintf("crowd%02d", i), "prefers the vim editor for code", 1000, map[string]any{memory.KeyInvalidatedAt: 2000}})
	}
	for i := range 8 {
		rows = append(rows, row{fmt.Sprintf("live%d", i), fmt.Sprintf("the vim editor config lives in repo %d", i), 1000, nil})
	}
	texts := make([]string, len(rows))
	for i, r := range rows {
		texts[i] = r.text
	}
	vecs, err := emb.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]memory.Memory, len(rows))
	for i, r := range rows {
		ms[i] = memory.Memory{ID: r.id, Text: r.text, Category: memory.CategoryPreference, CreatedAt: r.created, Metadata: r.md, Vector: vecs[i]}
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	bare := Options{DisableFloor: true, DisableNoise: true, DisableDedup: true} // pools of 20 (limit 5): fewer than the 30 copies
	recall := func(t *testing.T, opts Options, req Request) []string {
		t.Helper()
		req.MinScore = &zero
		if req.Limit == 0 {
			req.Limit = 5
		}
		resp, err := New(st, emb, nil, opts).Search(ctx, memory.Owner(), req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range resp.Results {
			ids = append(ids, r.Memory.ID)
		}
		return ids
	}
	isCrowd := func(id string) bool { return strings.HasPrefix(id, "crowd") }
	for name, side := range map[string]func(Options) Options{
		"vector": func(o Options) Options { o.DisableBM25 = true; return o },
		"bm25":   func(o Options) Options { o.DisableVector = true; return o },
		"hybrid": func(o Options) Options { return o },
	} {
		t.Run(name, func(t *testing.T) {
			opts := side(bare)
			got := recall(t, opts, Request{Query: "vim editor for code"})
			if len(got) != 5 || slices.ContainsFunc(got, isCrowd) || slices.Contains(got, "old") || slices.Contains(got, "trip") {
				t.Fatalf("active now: %v, want 5 rows, none superseded or expired", got)
			}
			// Without the filter the near copies win: they are what it hid.
			got = recall(t, opts, Request{Query: "vim editor for code", IncludeHistory: true})
			if !slices.ContainsFunc(got, isCrowd) {
				t.Fatalf("with history: %v, want the superseded copies", got)
			}
			got = recall(t, opts, Request{Query: "vim editor for code", AsOf: 1500, Limit: 40})
			if !slices.Contains(got, "old") || !slices.ContainsFunc(got, isCrowd) || slices.Contains(got, "new") {
				t.Fatalf("as of 1500: %v, want the old value and the copies, not the new value", got)
			}
			got = recall(t, opts, Request{Query: "helix editor", AsOf: 4999, Limit: 40})
			if slices.Contains(got, "new") || !slices.Contains(got, "old") {
				t.Fatalf("as of 4999: %v, want the old value only", got)
			}
			got = recall(t, opts, Request{Query: "helix editor", AsOf: 5000, Limit: 40})
			if !slices.Contains(got, "new") || slices.Contains(got, "old") {
				t.Fatalf("as of 5000: %v, want the new value only", got)
			}
			got = recall(t, opts, Request{Query: "editor conference trip", AsOf: 2999, Limit: 40})
			if !slices.Contains(got, "trip") {
				t.Fatalf("as of 2999: %v, want the trip (until 3000)", got)
			}
			got = recall(t, opts, Request{Query: "editor conference trip", Limit: 40})
			if slices.Contains(got, "trip") {
				t.Fatalf("now: %v, the trip expired", got)
			}
		})
	}

	// A row invalidated after the vector index was loaded leaves it at
	// the next recall (the write moved the change sequence).
	r := New(st, emb, nil, Options{DisableBM25: true, DisableFloor: true, DisableNoise: true, DisableDedup: true})
	find := func() bool {
		resp, err := r.Search(ctx, memory.Owner(), Request{Query: "helix editor", MinScore: &zero, Limit: 40})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(resp.Results, func(r Result) bool { return r.Memory.ID == "new" })
	}
	if !find() {
		t.Fatal("the active row is not recalled")
	}
	if _, err := store.PatchMany(ctx, st, memory.Owner(), []store.Patch{{ID: "new", Apply: func(m *memory.Memory) error {
		m.Metadata[memory.KeyInvalidatedAt] = time.Now().Add(-time.Minute).UnixMilli()
		return nil
	}}}); err != nil {
		t.Fatal(err)
	}
	if find() {
		t.Fatal("a row invalidated after the index loaded is still recalled")
	}
}

func TestActiveAtOfRequest(t *testing.T) {
	now := func() time.Time { return time.UnixMilli(42_000) }
	for _, c := range []struct {
		req  Request
		want int64
	}{
		{Request{}, 42_000},
		{Request{AsOf: 7}, 7},
		{Request{IncludeHistory: true}, 0},
		{Request{AsOf: 7, IncludeHistory: true}, 0},
	} {
		if got := activeAt(c.req, now); got != c.want {
			t.Errorf("%+v: %d, want %d", c.req, got, c.want)
		}
	}
}
