package tei

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/providertest"
)

const testKey = "tei-test-SECRET-0123456789"

func TestRerankRequestShape(t *testing.T) {
	f := providertest.NewRecorder(t, providertest.Reply(http.StatusOK, `[{"index":2,"score":0.9},{"index":0,"score":0.2},{"index":1,"score":0.1}]`))
	rr, err := NewReranker(openaicompat.RerankConfig{BaseURL: f.URL, APIKey: testKey, Model: "ignored"})
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
	providertest.CheckRerank(t, f, "/rerank", map[string]any{"query": "which theme?", "texts": []any{"uses vim", "likes tea", "prefers dark mode"}},
		map[string]string{"Authorization": "Bearer " + testKey})
}

func TestNeedsNoKey(t *testing.T) {
	if _, err := NewReranker(openaicompat.RerankConfig{}); err != nil {
		t.Fatalf("TEI at its default URL without a key: %v", err)
	}
}
