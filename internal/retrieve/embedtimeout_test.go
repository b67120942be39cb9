package retrieve

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// hangingEmbedder embeds documents but never answers a query until its
// context ends: a provider that hangs.
type hangingEmbedder struct{ *embedding.Hash }

func (h hangingEmbedder) EmbedQuery(ctx context.Context, texts []string) ([][]float32, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A query embedding that hangs does not hold recall: past the bound, the
// answer comes from BM25 with a warning.
func TestHangingQueryEmbeddingFallsBackToBM25(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	emb := hangingEmbedder{embedding.NewHash(64)}
	texts := []string{"billing deploys on Fridays", "the cat sleeps on the laptop"}
	vecs, _ := emb.Embed(ctx, texts)
	ms := []memory.Memory{{ID: "m0", Text: texts[0], Vector: vecs[0]}, {ID: "m1", Text: texts[1], Vector: vecs[1]}}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	r := New(st, emb, nil, Options{QueryEmbedTimeout: 50 * time.Millisecond})
	resp, err := r.Search(ctx, memory.Owner(), Request{Query: "when does billing deploy", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) == 0 || resp.Results[0].Memory.ID != "m0" {
		t.Fatalf("results %+v, want m0 from BM25", resp.Results)
	}
	if w := strings.Join(resp.Warnings, "; "); !strings.Contains(w, "query embedding failed") || !strings.Contains(w, "deadline") {
		t.Fatalf("warnings %q", w)
	}
}
