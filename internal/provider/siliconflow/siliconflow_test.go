package siliconflow

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/providertest"
)

const testKey = "sf-test-SECRET-0123456789"

func TestRerankRequestShape(t *testing.T) {
	f := providertest.NewRecorder(t, providertest.Reply(http.StatusOK, `{"id":"x","results":[{"index":2,"relevance_score":0.9},{"index":0,"relevance_score":0.2},{"index":1,"relevance_score":0.1}]}`))
	rr, err := NewReranker(openaicompat.RerankConfig{BaseURL: f.URL + "/v1", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rr.Rerank(context.Background(), "which theme?", []string{"uses vim", "likes tea", "prefers dark mode"})
	if err != nil {
		t.Fatalf("Rerank: %v", err)
	}
	if want := []float64{0.2, 0.1, 0.9}; !reflect.DeepEqual(got, want) {
		t.Errorf("scores = %v, want %v", got, want)
	}
	providertest.CheckRerank(t, f, "/v1/rerank", map[string]any{"model": DefaultRerankModel, "query": "which theme?",
		"documents": []any{"uses vim", "likes tea", "prefers dark mode"}, "top_n": 3.0},
		map[string]string{"Authorization": "Bearer " + testKey})
}
