package jina

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/providertest"
)

func TestRerankRequestShape(t *testing.T) {
	f := providertest.NewRecorder(t, providertest.Reply(http.StatusOK, `{"model":"jina-reranker-v3","usage":{"total_tokens":9},"results":[
		{"index":2,"relevance_score":0.9,"document":{"text":"prefers dark mode"}},
		{"index":0,"relevance_score":0.2},{"index":1,"relevance_score":0.1}]}`))
	rr, err := NewReranker(openaicompat.RerankConfig{BaseURL: f.URL + "/v1", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rr.Rerank(context.Background(), "which theme?", []string{"uses vim", "likes tea", "prefers dark mode"})
	if err != nil {
		t.Fatalf("Rerank: %v", err)
	}
	if want := []float64{0.2, 0.1, 0.9}; !reflect.DeepEqual(got, want) {
		t.Errorf("scores = %v, want %v (in document order)", got, want)
	}
	providertest.CheckRerank(t, f, "/v1/rerank", map[string]any{"model": DefaultRerankModel, "query": "which theme?",
		"documents": []any{"uses vim", "likes tea", "prefers dark mode"}, "top_n": 3.0},
		map[string]string{"Authorization": "Bearer " + testKey})
}

func TestRerankSelfHostedNeedsNoKey(t *testing.T) {
	if _, err := NewReranker(openaicompat.RerankConfig{BaseURL: "http://vllm:8000/v1"}); err != nil {
		t.Fatalf("self-hosted Jina format: %v", err)
	}
	_, err := NewReranker(openaicompat.RerankConfig{KeyName: "TROVE_RERANK_API_KEY"})
	if want := "jina rerank: APIKey is required for https://api.jina.ai/v1 (set TROVE_RERANK_API_KEY)"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}
