package gemini

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

const testKey = "gemini-test-SECRET-0123456789"

func TestRequestShape(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL + "/v1beta/openai/", APIKey: testKey, Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := e.Embed(context.Background(), []string{"a", "bbb"})
	if err != nil {
		t.Fatal(err)
	}
	r := reqs()[0]
	if r.Method != http.MethodPost || r.Path != "/v1beta/openai/embeddings" {
		t.Errorf("%s %s, want POST /v1beta/openai/embeddings", r.Method, r.Path)
	}
	if a := r.Header.Get("Authorization"); a != "Bearer "+testKey {
		t.Errorf("Authorization = %q", a)
	}
	want := map[string]any{"model": DefaultModel, "input": []any{"a", "bbb"}, "dimensions": 2.0}
	if !reflect.DeepEqual(r.Body, want) {
		t.Errorf("body = %v, want exactly %v", r.Body, want)
	}
	wantVec := []float32{4, 1}
	embedding.Normalize(wantVec)
	if !reflect.DeepEqual(vecs[1], wantVec) {
		t.Errorf("vector = %v, want %v", vecs[1], wantVec)
	}
	if info := e.(embedding.Describer).Info(); info != (embedding.Info{Provider: "gemini", Model: DefaultModel, Dimensions: 2}) {
		t.Errorf("Info = %+v", info)
	}
	if _, ok := any(e).(embedding.QueryEmbedder); ok {
		t.Error("gemini's OpenAI endpoint has no task hint; Embedder should not claim EmbedQuery")
	}
}

func TestLongInputsAreSplit(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey}, MaxInputChars: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(context.Background(), []string{"深色模式。我用vim"}); err != nil {
		t.Fatal(err)
	}
	if in := reqs()[0].Body["input"]; !reflect.DeepEqual(in, []any{"深色模式。", "我用vim"}) {
		t.Errorf("input = %v, want the text split after the full stop", in)
	}
}

func TestErrorsNameGeminiAndHideTheKey(t *testing.T) {
	srv, _ := providertest.Embeddings(t, http.StatusBadRequest, `[{"error":{"code":400,"message":"API key not valid: `+testKey+`","status":"INVALID_ARGUMENT"}}]`)
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(context.Background(), []string{"x"})
	if err == nil {
		t.Fatal("no error for HTTP 400")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "gemini embeddings: HTTP 400") || !strings.Contains(msg, "API key not valid") {
		t.Errorf("err = %q", msg)
	}
	if strings.Contains(msg, testKey) {
		t.Errorf("err shows the key: %q", msg)
	}
}

func TestValidate(t *testing.T) {
	err := Config{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "gemini: APIKey is required for "+DefaultBaseURL) {
		t.Errorf("Validate without a key = %v", err)
	}
	if _, err := NewEmbedder(Config{Config: openaicompat.Config{APIKey: testKey}}); err != nil {
		t.Errorf("defaults with a key: %v", err)
	}
}
