package retrieve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
	"github.com/trove-memory/trove/internal/store/sqlite"
)

// fakeReranker is a Reranker whose answer the test chooses.
type fakeReranker struct {
	rerank func(query string, docs []string) ([]float64, error)
	mu     sync.Mutex
	calls  int
}

func (f *fakeReranker) Rerank(_ context.Context, query string, docs []string) ([]float64, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return f.rerank(query, docs)
}

func rerankStore(t *testing.T) store.Searcher {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	texts := []string{
		"the editor of choice is vim, with a dark theme",
		"the editor config lives in dotfiles, synced weekly",
		"the editor plugins are managed with lazy.nvim",
	}
	vecs, _ := embedding.NewHash(64).Embed(ctx, texts)
	ms := make([]memory.Memory, len(texts))
	for i, text := range texts {
		ms[i] = memory.Memory{ID: fmt.Sprintf("m%d", i), Text: text, Vector: vecs[i]}
	}
	if _, err := store.PutMany(ctx, st, memory.Owner(), ms); err != nil {
		t.Fatal(err)
	}
	return st
}

// The reranker's scores are placed by document position and reach each
// result's Sources.Rerank; the best-scored document comes first.
func TestSearchBlendsRerankScores(t *testing.T) {
	st := rerankStore(t)
	rr := &fakeReranker{rerank: func(q string, docs []string) ([]float64, error) {
		scores := make([]float64, len(docs))
		for i, d := range docs {
			if strings.Contains(d, "lazy.nvim") {
				scores[i] = 1
			}
		}
		return scores, nil
	}}
	r := New(st, embedding.NewHash(64), rr, Options{MinScore: 0.01})
	resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: "editor", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Warnings) != 0 || rr.calls != 1 {
		t.Fatalf("warnings %v, %d rerank calls", resp.Warnings, rr.calls)
	}
	if len(resp.Results) == 0 || resp.Results[0].Memory.ID != "m2" {
		t.Fatalf("results %v: want m2, the reranker's choice, first", resp.Results)
	}
	for _, res := range resp.Results {
		want := 0.0
		if res.Memory.ID == "m2" {
			want = 1
		}
		if res.Sources.Rerank == nil || *res.Sources.Rerank != want {
			t.Errorf("%s: Sources.Rerank %v, want %v", res.Memory.ID, res.Sources.Rerank, want)
		}
	}
}

// A reranker that fails or breaks its contract leaves the fallback blend
// and a warning, never an error or a garbled order.
func TestSearchRerankFallback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(docs []string) ([]float64, error)
		want   string
	}{
		{"error", func([]string) ([]float64, error) { return nil, errors.New("tei rerank: HTTP 503") }, "tei rerank: HTTP 503"},
		{"too few scores", func(docs []string) ([]float64, error) { return make([]float64, len(docs)-1), nil }, "got 2 scores for 3 documents"},
		{"NaN", func(docs []string) ([]float64, error) {
			s := make([]float64, len(docs))
			s[1] = math.NaN()
			return s, nil
		}, "document 1 has a non-finite score NaN"},
		{"infinite", func(docs []string) ([]float64, error) {
			s := make([]float64, len(docs))
			s[0] = math.Inf(1)
			return s, nil
		}, "document 0 has a non-finite score +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := &fakeReranker{rerank: func(_ string, docs []string) ([]float64, error) { return tc.answer(docs) }}
			r := New(rerankStore(t), embedding.NewHash(64), rr, Options{MinScore: 0.01})
			resp, err := r.Search(context.Background(), memory.Owner(), Request{Query: "editor", Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			want := "rerank failed (" + tc.want + "): used the fallback blend with cosine"
			if len(resp.Warnings) != 1 || resp.Warnings[0] != want {
				t.Fatalf("warnings %q, want %q", resp.Warnings, want)
			}
			for _, res := range resp.Results {
				if res.Sources.Rerank != nil {
					t.Errorf("%s: Sources.Rerank %v after a failed rerank", res.Memory.ID, *res.Sources.Rerank)
				}
			}
		})
	}
}
