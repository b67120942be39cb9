package retrieve

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// Rows in a scope the caller cannot read leave its hybrid recall exactly
// as it was: the same rows, the same BM25 and final scores, bit for bit.
func TestHybridScoresIgnoreHiddenScopes(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := embedding.NewHash(64)
	put := func(scope memory.Scope, from int, texts ...string) {
		vecs, _ := emb.Embed(ctx, texts)
		ms := make([]memory.Memory, len(texts))
		for i, text := range texts {
			ms[i] = memory.Memory{ID: fmt.Sprintf("m%05d", from+i), Text: text, Scope: scope, Vector: vecs[i]}
		}
		if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
			t.Fatal(err)
		}
	}
	put(memory.GlobalScope, 0, "kiwi smoothie every morning", "a kiwi and a mango on the desk", "mango season starts in May")
	put("agent:a", 10, "agent a likes kiwi jam", "the deploy runs on Tuesdays")
	now := time.Now()
	r := New(st, emb, nil, Options{Now: func() time.Time { return now }}) // scores age rows
	acc := memory.AgentAccess("a")
	recall := func() string {
		var b strings.Builder
		for _, q := range []string{"kiwi", "kiwi mango"} {
			resp, err := r.Search(ctx, acc, Request{Query: q, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			for _, res := range resp.Results {
				bm25 := "-"
				if res.Sources.BM25 != nil {
					bm25 = fmt.Sprintf("%016x", math.Float64bits(*res.Sources.BM25))
				}
				fmt.Fprintf(&b, "%s:%016x:%s ", res.Memory.ID, math.Float64bits(res.Score), bm25)
			}
			b.WriteString("| ")
		}
		return b.String()
	}
	before := recall()
	hidden := make([]string, 1000)
	for i := range hidden {
		hidden[i] = fmt.Sprintf("kiwi kiwi mango orchard note %d", i)
	}
	put("agent:b", 1000, hidden...)
	if after := recall(); after != before {
		t.Fatalf("hidden rows changed the caller's recall\nbefore %s\nafter  %s", before, after)
	}
}
