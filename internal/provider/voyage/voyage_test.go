package voyage

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

const testKey = "voyage-test-SECRET-0123456789"

func TestRequestShape(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL + "/v1", APIKey: testKey}})
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
		// Voyage rejects OpenAI's "dimensions" and "encoding_format".
		if ks := providertest.Keys(r.Body); !reflect.DeepEqual(ks, []string{"input", "input_type", "model"}) {
			t.Errorf("request %d: fields %v, want exactly input, input_type, model", i, ks)
		}
	}
	want := []map[string]any{
		{"model": DefaultModel, "input": []any{"a", "bbb"}, "input_type": InputDocument},
		{"model": DefaultModel, "input": []any{"q?"}, "input_type": InputQuery},
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
	if info := e.(embedding.Describer).Info(); info != (embedding.Info{Provider: "voyage", Model: DefaultModel, Dimensions: 2}) {
		t.Errorf("Info = %+v", info)
	}
}

func TestOutputDimension(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey, Model: "voyage-3-large", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	body := reqs()[0].Body
	if ks := providertest.Keys(body); !reflect.DeepEqual(ks, []string{"input", "input_type", "model", "output_dimension"}) {
		t.Errorf("fields %v, want output_dimension and never dimensions", ks)
	}
	if body["output_dimension"] != 2.0 || body["model"] != "voyage-3-large" {
		t.Errorf("body = %v", body)
	}
}

func TestBatchesAndSplitting(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey}, MaxInputChars: 10})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, DefaultBatchSize)
	for i := range texts {
		texts[i] = "t"
	}
	texts[0] = "alpha beta gamma" // two pieces: DefaultBatchSize+1 inputs in all
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vecs), len(texts))
	}
	got := reqs()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2 (batches of %d)", len(got), DefaultBatchSize)
	}
	first := got[0].Body["input"].([]any)
	if len(first) != DefaultBatchSize || first[0] != "alpha beta" || first[1] != "gamma" {
		t.Errorf("first batch = %v", first)
	}
}

func TestErrorsNameVoyageAndHideTheKey(t *testing.T) {
	srv, _ := providertest.Embeddings(t, http.StatusBadRequest, `{"detail":"Value 'x' is not a valid model for key `+testKey+`"}`)
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey, Model: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = embedding.EmbedQuery(context.Background(), e, []string{"x"})
	if err == nil {
		t.Fatal("no error for HTTP 400")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "voyage embeddings: HTTP 400") || !strings.Contains(msg, "not a valid model") {
		t.Errorf("err = %q, want it to name voyage, the status and the server's message", msg)
	}
	if strings.Contains(msg, testKey) {
		t.Errorf("err shows the key: %q", msg)
	}
}

func TestValidate(t *testing.T) {
	err := Config{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "voyage: APIKey is required for https://api.voyageai.com/v1 (set the API key)") {
		t.Errorf("Validate without a key = %v", err)
	}
	if err := (Config{Config: openaicompat.Config{BaseURL: "http://gateway:4000/v1"}}).Validate(); err != nil {
		t.Errorf("a gateway BaseURL needs no key: %v", err)
	}
}
