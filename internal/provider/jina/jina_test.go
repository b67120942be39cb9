package jina

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/providertest"
)

const testKey = "jina-test-SECRET-0123456789"

func TestRequestShape(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL + "/v1", APIKey: testKey, Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	docs, err := e.Embed(ctx, []string{"a", "bbb"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := embedding.EmbedQuery(ctx, e, []string{"q?"}); err != nil {
		t.Fatal(err)
	}

	got := reqs()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	for i, r := range got {
		if r.Method != http.MethodPost || r.Path != "/v1/embeddings" {
			t.Errorf("request %d: %s %s, want POST /v1/embeddings", i, r.Method, r.Path)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer "+testKey {
			t.Errorf("request %d: Authorization %q", i, a)
		}
		if ks := providertest.Keys(r.Body); !reflect.DeepEqual(ks, []string{"dimensions", "input", "model", "task"}) {
			t.Errorf("request %d: fields %v, want exactly dimensions, input, model, task", i, ks)
		}
	}
	want := []map[string]any{
		{"model": DefaultModel, "input": []any{"a", "bbb"}, "task": TaskPassage, "dimensions": 2.0},
		{"model": DefaultModel, "input": []any{"q?"}, "task": TaskQuery, "dimensions": 2.0},
	}
	for i := range want {
		if !reflect.DeepEqual(got[i].Body, want[i]) {
			t.Errorf("request %d body = %v, want %v", i, got[i].Body, want[i])
		}
	}

	wantVec := []float32{4, 1}
	embedding.Normalize(wantVec)
	if !reflect.DeepEqual(docs[1], wantVec) {
		t.Errorf("vector for %q = %v, want %v (placed by index, normalised)", "bbb", docs[1], wantVec)
	}
	if info := e.(embedding.Describer).Info(); info != (embedding.Info{Provider: "jina", Model: DefaultModel, Dimensions: 2}) {
		t.Errorf("Info = %+v", info)
	}
}

func TestNoDimensionsField(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey, Model: "jina-embeddings-v2-base-en"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	body := reqs()[0].Body
	if _, ok := body["dimensions"]; ok {
		t.Errorf("dimensions sent without being asked for: %v", body)
	}
	if body["model"] != "jina-embeddings-v2-base-en" {
		t.Errorf("model = %v", body["model"])
	}
}

func TestLongInputsAreSplit(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey}, MaxInputChars: 10})
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := embedding.EmbedQuery(context.Background(), e, []string{"short", "alpha beta gamma"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 2 {
		t.Fatalf("%d vectors for 2 texts", len(vecs))
	}
	got := reqs()
	if len(got) != 1 {
		t.Fatalf("%d requests, want the pieces in one", len(got))
	}
	if in := got[0].Body["input"]; !reflect.DeepEqual(in, []any{"short", "alpha beta", "gamma"}) {
		t.Errorf("input = %v, want the long text split at a space", in)
	}
	if got[0].Body["task"] != TaskQuery {
		t.Errorf("task = %v, want the query task for every piece", got[0].Body["task"])
	}
}

func TestErrorsNameJinaAndHideTheKey(t *testing.T) {
	srv, _ := providertest.Embeddings(t, http.StatusUnauthorized, `{"detail":"Invalid API key `+testKey+`"}`)
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey, KeyName: "TROVE_EMBED_API_KEY"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(context.Background(), []string{"x"})
	if err == nil {
		t.Fatal("no error for HTTP 401")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "jina embeddings: HTTP 401") || !strings.Contains(msg, "check TROVE_EMBED_API_KEY") {
		t.Errorf("err = %q, want it to name jina, the status and the key variable", msg)
	}
	if strings.Contains(msg, testKey) {
		t.Errorf("err shows the key: %q", msg)
	}
}

func TestValidate(t *testing.T) {
	err := Config{Config: openaicompat.Config{KeyName: "TROVE_EMBED_API_KEY"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "jina: APIKey is required for https://api.jina.ai/v1 (set TROVE_EMBED_API_KEY)") {
		t.Errorf("Validate without a key = %v", err)
	}
	if err := (Config{Config: openaicompat.Config{BaseURL: "http://localhost:9000/v1"}}).Validate(); err != nil {
		t.Errorf("a self-hosted BaseURL needs no key: %v", err)
	}
	if _, err := NewEmbedder(Config{Config: openaicompat.Config{APIKey: testKey, BaseURL: "ftp://x"}}); err == nil {
		t.Error("NewEmbedder accepted an ftp BaseURL")
	}
}
