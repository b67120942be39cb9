package reembed

import (
	"context"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/store"
)

type queryEmb struct{ queries int }

func (q *queryEmb) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return make([][]float32, len(texts)), nil
}
func (q *queryEmb) EmbedQuery(ctx context.Context, texts []string) ([][]float32, error) {
	q.queries++
	return make([][]float32, len(texts)), nil
}
func (q *queryEmb) Info() embedding.Info { return embedding.Info{Model: "m", Dimensions: 3} }

// The wrapper over a query embedder keeps its query form and its model
// name: recall's relevance floor reads the model to judge its cosines.
func TestWrapKeepsQueryFormAndInfo(t *testing.T) {
	inner := &queryEmb{}
	w := wrapped{g: &Guard{}, inner: inner}
	if info := w.Info(); info.Model != "m" {
		t.Fatalf("Info %+v", info)
	}
	var _ embedding.QueryEmbedder = w
	g := NewGuard(nil, store.Space{Model: "m", Dimensions: 3}, inner)
	if info := g.Info(); info.Model != "m" || info.Dimensions != 3 {
		t.Fatalf("guard Info %+v", info)
	}
}
