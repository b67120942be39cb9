package gemini

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

const testKey = "gemini-test-SECRET-0123456789"

type seen struct {
	Method, Path string
	Header       http.Header
	Body         map[string]any
}

// fakeGemini answers like Gemini's embeddings endpoint and records requests.
// Vectors are [len(input)+1, 1]; out-of-order indexes check placement.
func fakeGemini(t *testing.T, status int, errBody string) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request body is not JSON: %s", raw)
		}
		mu.Lock()
		reqs = append(reqs, seen{r.Method, r.URL.Path, r.Header.Clone(), body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if status != http.StatusOK {
			w.WriteHeader(status)
			io.WriteString(w, errBody)
			return
		}
		inputs, _ := body["input"].([]any)
		data := make([]map[string]any, len(inputs))
		for i, in := range inputs {
			s, _ := in.(string)
			data[len(inputs)-1-i] = map[string]any{"object": "embedding", "index": i, "embedding": []float32{float32(len(s) + 1), 1}}
		}
		json.NewEncoder(w).Encode(map[string]any{"model": body["model"], "object": "list", "data": data})
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), reqs...)
	}
}

func TestRequestShape(t *testing.T) {
	srv, reqs := fakeGemini(t, http.StatusOK, "")
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
	if info := e.Info(); info != (embedding.Info{Provider: "gemini", Model: DefaultModel, Dimensions: 2}) {
		t.Errorf("Info = %+v", info)
	}
	if _, ok := any(e).(embedding.QueryEmbedder); ok {
		t.Error("gemini's OpenAI endpoint has no task hint; Embedder should not claim EmbedQuery")
	}
}

func TestLongInputsAreSplit(t *testing.T) {
	srv, reqs := fakeGemini(t, http.StatusOK, "")
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
	srv, _ := fakeGemini(t, http.StatusBadRequest, `[{"error":{"code":400,"message":"API key not valid: `+testKey+`","status":"INVALID_ARGUMENT"}}]`)
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
