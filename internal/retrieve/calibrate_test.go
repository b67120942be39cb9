package retrieve

import (
	"context"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/viterin/vek/vek32"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// TestCalibrateMinCosine measures, for an embedding model, how far the
// cosines of right answers lie from those of unrelated memories on the
// labelled set, and suggests retrieval.minCosine: the lowest cosine that
// at most 5% of the negative queries reach with any memory. Point it at
// any OpenAI-compatible embeddings endpoint:
//
//	TROVE_CALIBRATE_BASE_URL=https://api.openai.com/v1 TROVE_CALIBRATE_MODEL=text-embedding-3-small \
//	TROVE_CALIBRATE_API_KEY=sk-... go test -run CalibrateMinCosine -v ./internal/retrieve/
//
// Without them it measures the hash embedder, whose negatives overlap its
// positives: it cannot be calibrated, which is why its floor is
// CosineNever. Calibrating on your own data is better still: the
// positives are (query, memory that answers it) pairs, the negatives
// questions whose answer is not stored.
func TestCalibrateMinCosine(t *testing.T) {
	_, _, qs, _ := qualityFixture(t)
	var emb embedding.Embedder = embedding.NewHash(384)
	if url, model := os.Getenv("TROVE_CALIBRATE_BASE_URL"), os.Getenv("TROVE_CALIBRATE_MODEL"); url != "" && model != "" {
		e, err := openaicompat.NewEmbedder(openaicompat.Config{Provider: "openai", BaseURL: url, Model: model,
			APIKey: os.Getenv("TROVE_CALIBRATE_API_KEY"), BatchSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		emb = e
	}
	ctx := context.Background()
	texts := make([]string, len(qs.Memories))
	index := map[string]int{}
	for i, m := range qs.Memories {
		texts[i], index[m.ID] = m.Text, i
	}
	mv, err := emb.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	queries := make([]string, len(qs.Queries))
	for i, q := range qs.Queries {
		queries[i] = q.Query
	}
	qv, err := embedding.EmbedQuery(ctx, emb, queries)
	if err != nil {
		t.Fatal(err)
	}
	cos := func(a, b []float32) float64 {
		return float64(vek32.Dot(a, b)) / math.Sqrt(float64(vek32.Dot(a, a))*float64(vek32.Dot(b, b)))
	}
	var pos, neg []float64
	for i, q := range qs.Queries {
		if len(q.Relevant) > 0 {
			for _, id := range q.Relevant {
				pos = append(pos, cos(qv[i], mv[index[id]]))
			}
			continue
		}
		best := -1.0
		for _, v := range mv {
			best = max(best, cos(qv[i], v))
		}
		neg = append(neg, best)
	}
	quantiles := func(xs []float64) [3]float64 {
		xs = slices.Sorted(slices.Values(xs))
		return [3]float64{xs[len(xs)/10], xs[len(xs)/2], xs[len(xs)*9/10]}
	}
	floor, kept := SuggestMinCosine(pos, neg, 0.05)
	info := embedding.Info{}
	if d, ok := emb.(embedding.Describer); ok {
		info = d.Info()
	}
	t.Logf("%s %s: answers' cosine p10/p50/p90 %.2f; negatives' best cosine %.2f", info.Provider, info.Model, quantiles(pos), quantiles(neg))
	t.Logf("suggested retrieval.minCosine %.2f (5%% of negatives reach it; %.0f%% of answers do); default for this model %.2f",
		floor, 100*kept, DefaultMinCosine(info))
}

func TestSuggestMinCosine(t *testing.T) {
	pos := []float64{0.5, 0.6, 0.7, 0.8}
	neg := []float64{0.1, 0.2, 0.3, 0.35}
	if cos, kept := SuggestMinCosine(pos, neg, 0); cos != 0.36 || kept != 1 {
		t.Errorf("got %.2f keeping %.2f, want 0.36 keeping 1", cos, kept)
	}
	if cos, _ := SuggestMinCosine(pos, neg, 0.25); cos != 0.31 {
		t.Errorf("with a quarter allowed: %.2f, want 0.31", cos)
	}
}
