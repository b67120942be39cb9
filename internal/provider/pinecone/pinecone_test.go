package pinecone

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/providertest"
)

const testKey = "pc-test-SECRET-0123456789"

var docs = []string{"uses vim", "likes tea", "prefers dark mode"}

func TestRerankRequestShape(t *testing.T) {
	f := providertest.NewRecorder(t, providertest.Reply(http.StatusOK, `{"model":"bge-reranker-v2-m3","data":[{"index":2,"score":0.9},{"index":0,"score":0.2},{"index":1,"score":0.1}],"usage":{"rerank_units":1}}`))
	rr, err := NewReranker(Config{RerankConfig: openaicompat.RerankConfig{BaseURL: f.URL, APIKey: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rr.Rerank(context.Background(), "which theme?", docs)
	if err != nil {
		t.Fatalf("Rerank: %v", err)
	}
	if want := []float64{0.2, 0.1, 0.9}; !reflect.DeepEqual(got, want) {
		t.Errorf("scores = %v, want %v", got, want)
	}
	providertest.CheckRerank(t, f, "/rerank", map[string]any{"model": DefaultRerankModel, "query": "which theme?",
		"documents":   []any{map[string]any{"text": "uses vim"}, map[string]any{"text": "likes tea"}, map[string]any{"text": "prefers dark mode"}},
		"top_n":       3.0,
		"rank_fields": []any{"text"}, "return_documents": false},
		map[string]string{"Api-Key": testKey, "X-Pinecone-API-Version": DefaultAPIVersion, "Authorization": ""})
}

func TestAPIVersionAndModel(t *testing.T) {
	f := providertest.NewRecorder(t, providertest.Reply(http.StatusOK, `{"data":[{"index":0,"score":0.9}]}`))
	rr, err := NewReranker(Config{RerankConfig: openaicompat.RerankConfig{BaseURL: f.URL, APIKey: testKey, Model: "pinecone-rerank-v0"}, APIVersion: "2025-04"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rr.Rerank(context.Background(), "q", docs[:1]); err != nil {
		t.Fatal(err)
	}
	c := f.Calls()[0]
	if v := c.Header.Get("X-Pinecone-API-Version"); v != "2025-04" {
		t.Errorf("X-Pinecone-API-Version = %q", v)
	}
	if m := c.JSON(t)["model"]; m != "pinecone-rerank-v0" {
		t.Errorf("model = %v", m)
	}
}

func TestHostedNeedsKey(t *testing.T) {
	err := Config{RerankConfig: openaicompat.RerankConfig{KeyName: "TROVE_RERANK_API_KEY"}}.Validate()
	if want := "pinecone rerank: APIKey is required for https://api.pinecone.io (set TROVE_RERANK_API_KEY)"; err == nil || err.Error() != want {
		t.Fatalf("Validate = %v\nwant %s", err, want)
	}
}
