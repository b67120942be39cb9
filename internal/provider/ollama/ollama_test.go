package ollama

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

const testKey = "ollama-test-SECRET-0123456789"

func TestRequestShape(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	tests := []struct{ name, base string }{
		{"server root", srv.URL},
		{"root with slash", srv.URL + "/"},
		{"already /v1", srv.URL + "/v1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(reqs())
			e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: tt.base}})
			if err != nil {
				t.Fatal(err)
			}
			vecs, err := e.Embed(context.Background(), []string{"a", "bbb"})
			if err != nil {
				t.Fatal(err)
			}
			r := reqs()[before]
			if r.Method != http.MethodPost || r.Path != "/v1/embeddings" {
				t.Errorf("%s %s, want POST /v1/embeddings", r.Method, r.Path)
			}
			if a, ok := r.Header["Authorization"]; ok {
				t.Errorf("Authorization %q sent with no key", a)
			}
			want := map[string]any{"model": DefaultModel, "input": []any{"a", "bbb"}}
			if !reflect.DeepEqual(r.Body, want) {
				t.Errorf("body = %v, want exactly %v", r.Body, want)
			}
			wantVec := []float32{4, 1}
			embedding.Normalize(wantVec)
			if !reflect.DeepEqual(vecs[1], wantVec) {
				t.Errorf("vector = %v, want %v", vecs[1], wantVec)
			}
			if info := e.(embedding.Describer).Info(); info != (embedding.Info{Provider: "ollama", Model: DefaultModel, Dimensions: 2}) {
				t.Errorf("Info = %+v", info)
			}
		})
	}
}

func TestDefaultBaseURL(t *testing.T) {
	if got := (Config{}).withDefaults().BaseURL; got != "http://localhost:11434/v1" {
		t.Errorf("default BaseURL = %q", got)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("the zero Config should be valid (local server, no key): %v", err)
	}
}

func TestKeyForAProxy(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL, APIKey: testKey, Model: "bge-m3", Dimensions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	r := reqs()[0]
	if a := r.Header.Get("Authorization"); a != "Bearer "+testKey {
		t.Errorf("Authorization = %q", a)
	}
	if ks := providertest.Keys(r.Body); !reflect.DeepEqual(ks, []string{"dimensions", "input", "model"}) || r.Body["model"] != "bge-m3" {
		t.Errorf("body = %v", r.Body)
	}
}

func TestLongInputsAreSplit(t *testing.T) {
	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("word ", DefaultMaxInputChars/5+1) // just over the default limit
	if _, err := e.Embed(context.Background(), []string{long}); err != nil {
		t.Fatal(err)
	}
	in := reqs()[0].Body["input"].([]any)
	if len(in) != 2 {
		t.Fatalf("%d inputs, want the long text in 2 pieces", len(in))
	}
	for _, p := range in {
		if n := len([]rune(p.(string))); n > DefaultMaxInputChars {
			t.Errorf("piece of %d characters, over the %d limit", n, DefaultMaxInputChars)
		}
	}
}

func TestModelNotPulled(t *testing.T) {
	srv, _ := providertest.Embeddings(t, http.StatusNotFound, `{"error":{"message":"model \"nomic-embed-text\" not found, try pulling it first"}}`)
	e, err := NewEmbedder(Config{Config: openaicompat.Config{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(context.Background(), []string{"x"})
	want := `ollama embeddings: HTTP 404: model "nomic-embed-text" not found, try pulling it first (check BaseURL and the model name "nomic-embed-text")`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}
