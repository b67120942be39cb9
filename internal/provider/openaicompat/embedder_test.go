package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/embedding"
)

func TestEmbedRequestShape(t *testing.T) {
	f := newFake(t, embeddingsOK(3))
	cfg := testConfig(f)
	cfg.BatchSize = 2
	cfg.Dimensions = 3
	e, _ := newTestEmbedder(t, cfg)

	texts := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}

	calls := f.Calls()
	wantBatches := [][]any{{"a", "bb"}, {"ccc", "dddd"}, {"eeeee"}}
	if len(calls) != len(wantBatches) {
		t.Fatalf("%d requests, want %d (batches of 2)", len(calls), len(wantBatches))
	}
	for i, c := range calls {
		if c.Method != http.MethodPost || c.Path != "/v1/embeddings" {
			t.Errorf("request %d: %s %s, want POST /v1/embeddings", i, c.Method, c.Path)
		}
		if got := c.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("request %d: Authorization %q", i, got)
		}
		if got := c.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, got)
		}
		body := c.JSON(t)
		want := map[string]any{"model": "test-model", "input": wantBatches[i], "dimensions": float64(3)}
		if !reflect.DeepEqual(body, want) {
			t.Errorf("request %d body = %v, want %v", i, body, want)
		}
	}

	if len(vecs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vecs), len(texts))
	}
	for i, v := range vecs {
		want := vectorFor(texts[i], 3)
		embedding.Normalize(want)
		if !reflect.DeepEqual(v, want) {
			t.Errorf("vector %d = %v, want %v (the fake's vector for %q, normalised)", i, v, want, texts[i])
		}
	}
	if got := e.Info(); got != (embedding.Info{Provider: "openai", Model: "test-model", Dimensions: 3}) {
		t.Errorf("Info() = %+v", got)
	}
}

func TestEmbedOptionalFields(t *testing.T) {
	f := newFake(t, embeddingsOK(4))
	cfg := testConfig(f)
	cfg.APIKey = ""
	cfg.BaseURL = f.URL + "/v1/" // trailing slash must not double up
	e, _ := newTestEmbedder(t, cfg)
	if _, err := e.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	c := f.Calls()[0]
	if c.Path != "/v1/embeddings" {
		t.Errorf("path %q, want /v1/embeddings", c.Path)
	}
	if _, ok := c.Header["Authorization"]; ok {
		t.Errorf("Authorization sent without a key: %q", c.Header.Get("Authorization"))
	}
	if _, ok := c.JSON(t)["dimensions"]; ok {
		t.Errorf("dimensions sent though Config.Dimensions is 0: %s", c.Body)
	}
}

func TestEmbedKeepsBaseURLQuery(t *testing.T) {
	var query string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		query = r.URL.RawQuery
		embeddingsOK(2)(w, r, n, c)
	})
	cfg := testConfig(f)
	cfg.BaseURL = f.URL + "/openai/deployments/d?api-version=2024-02-01"
	e, _ := newTestEmbedder(t, cfg)
	if _, err := e.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if got := f.Calls()[0].Path; got != "/openai/deployments/d/embeddings" || query != "api-version=2024-02-01" {
		t.Fatalf("request to %s?%s", got, query)
	}
}

func TestEmbedNoInputsNoRequest(t *testing.T) {
	f := newFake(t, embeddingsOK(2))
	e, _ := newTestEmbedder(t, testConfig(f))
	vecs, err := e.Embed(context.Background(), nil)
	if err != nil || len(vecs) != 0 {
		t.Fatalf("Embed(nil) = %v, %v; want empty, nil", vecs, err)
	}
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("%d requests for no inputs", n)
	}
}

func TestEmbedOutOfOrderIndex(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		var req struct{ Input []string }
		json.Unmarshal(c.Body, &req)
		var data []map[string]any
		for i := len(req.Input) - 1; i >= 0; i-- { // reversed
			data = append(data, map[string]any{"index": i, "embedding": vectorFor(req.Input[i], 2)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data})
	})
	e, _ := newTestEmbedder(t, testConfig(f))
	texts := []string{"a", "bbb", "ccccc"}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		want := vectorFor(texts[i], 2)
		embedding.Normalize(want)
		if !reflect.DeepEqual(v, want) {
			t.Errorf("vector %d = %v, want the vector of %q", i, v, texts[i])
		}
	}
}

func TestEmbedWithoutIndexIsInOrder(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		writeRaw(w, http.StatusOK, `{"data":[{"embedding":[1,0]},{"embedding":[0,1]}]}`)
	})
	e, _ := newTestEmbedder(t, testConfig(f))
	vecs, err := e.Embed(context.Background(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(vecs, [][]float32{{1, 0}, {0, 1}}) {
		t.Fatalf("vectors = %v", vecs)
	}
}

func TestEmbedBadReplies(t *testing.T) {
	tests := []struct {
		name    string
		dims    int // Config.Dimensions
		body    string
		wantErr string
	}{
		{"wrong dimensions", 3, `{"data":[{"index":0,"embedding":[1,2,3]},{"index":1,"embedding":[1,2,3,4]}]}`,
			`openai embeddings: bad reply: embedding 1 has 4 dimensions, expected 3 (the server ignored dimensions=3`},
		{"unequal dimensions", 0, `{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1,2,3]}]}`,
			"embedding 1 has 3 dimensions, but embedding 0 has 2"},
		{"NaN", 0, `{"data":[{"index":0,"embedding":[1,NaN]},{"index":1,"embedding":[1,2]}]}`,
			"openai embeddings: reply is not valid JSON: invalid character 'N'"},
		{"overflowing value", 0, `{"data":[{"index":0,"embedding":[1,1e39]},{"index":1,"embedding":[1,2]}]}`,
			"openai embeddings: reply has an unexpected shape"},
		{"all zeros", 0, `{"data":[{"index":0,"embedding":[0,0]},{"index":1,"embedding":[1,2]}]}`,
			"embedding 0 is all zeros"},
		{"too few", 0, `{"data":[{"index":0,"embedding":[1,2]}]}`,
			"openai embeddings: bad reply: got 1 embeddings for 2 inputs"},
		{"too many", 0, `{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1,2]},{"index":2,"embedding":[1,2]}]}`,
			"got 3 embeddings for 2 inputs"},
		{"duplicate index", 0, `{"data":[{"index":1,"embedding":[1,2]},{"index":1,"embedding":[1,2]}]}`,
			"index 1 appears twice"},
		{"index out of range", 0, `{"data":[{"index":0,"embedding":[1,2]},{"index":7,"embedding":[1,2]}]}`,
			"item 1 has index 7, outside 0-1"},
		{"missing embedding", 0, `{"data":[{"index":0,"embedding":[1,2]},{"index":1}]}`,
			"embedding 1 is empty"},
		{"base64 strings", 0, `{"data":[{"index":0,"embedding":"AAAA"},{"index":1,"embedding":"AAAA"}]}`,
			"reply has an unexpected shape"},
		{"not JSON", 0, `<html>gateway says hi</html>`, "reply is not valid JSON"},
		{"truncated", 0, `{"data":[{"index":0,"embedding":[1,`, "reply is not valid JSON: unexpected end of JSON input"},
		{"no data", 0, `{"object":"list"}`, `reply has no "data" list`},
		{"error with status 200", 0, `{"error":{"message":"model overloaded"}}`, "reply is an error: model overloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
				writeRaw(w, http.StatusOK, tt.body)
			})
			cfg := testConfig(f)
			cfg.Dimensions = tt.dims
			e, _ := newTestEmbedder(t, cfg)
			vecs, err := e.Embed(context.Background(), []string{"a", "b"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Embed = %v, %v; want error containing %q", vecs, err, tt.wantErr)
			}
			if n := len(f.Calls()); n != 1 {
				t.Fatalf("%d requests; a bad reply must not be retried", n)
			}
		})
	}
}

func TestEmbedHoldsDimensionsOfFirstReply(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		embeddingsOK(2+n)(w, r, n, c) // 3 dims, then 4: the model changed
	})
	e, _ := newTestEmbedder(t, testConfig(f))
	if got := e.Info().Dimensions; got != 0 {
		t.Fatalf("Info().Dimensions before any reply = %d, want 0", got)
	}
	if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if got := e.Info().Dimensions; got != 3 {
		t.Fatalf("Info().Dimensions = %d, want 3 from the first reply", got)
	}
	_, err := e.Embed(context.Background(), []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "embedding 0 has 4 dimensions, expected 3 (earlier replies had 3") {
		t.Fatalf("second Embed: %v; want a dimensions error", err)
	}
	var ve *embedding.VectorError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v does not wrap *embedding.VectorError", err)
	}
}

func TestEmbedNormalises(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		writeRaw(w, http.StatusOK, `{"data":[{"index":0,"embedding":[3,4]}]}`)
	})
	e, _ := newTestEmbedder(t, testConfig(f))
	vecs, err := e.Embed(context.Background(), []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if v := vecs[0]; math.Abs(float64(v[0])-0.6) > 1e-6 || math.Abs(float64(v[1])-0.8) > 1e-6 {
		t.Fatalf("vector = %v, want [0.6 0.8]", v)
	}
}

func TestEmbedBatchErrorNamesInputs(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		if n == 2 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "input too long"}})
			return
		}
		embeddingsOK(2)(w, r, n, c)
	})
	cfg := testConfig(f)
	cfg.BatchSize = 2
	e, _ := newTestEmbedder(t, cfg)
	_, err := e.Embed(context.Background(), []string{"a", "b", "c", "d", "e"})
	want := "inputs 2-3 of 5: openai embeddings: HTTP 400: input too long"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v; want prefix %q", err, want)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("error %v does not wrap a 400 *APIError", err)
	}
	if n := len(f.Calls()); n != 2 {
		t.Fatalf("%d requests; Embed must stop at the failed batch", n)
	}
}

func TestEmbedConcurrent(t *testing.T) {
	f := newFake(t, embeddingsOK(8))
	e, _ := newTestEmbedder(t, testConfig(f))
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := e.Embed(context.Background(), []string{"a", "b", "c"})
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Info().Dimensions; got != 8 {
		t.Fatalf("dimensions = %d", got)
	}
}
