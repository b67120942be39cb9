package openaicompat

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/embedding"
)

type echoReply struct {
	Got  string `json:"got"`
	Seen int    `json:"seen"`
}

func newTestEndpoint(t *testing.T, cfg Config, opts EndpointOptions) (*Endpoint, *sleeps) {
	t.Helper()
	ep, err := NewEndpoint(cfg, opts)
	if err != nil {
		t.Fatalf("NewEndpoint: %v", err)
	}
	s := &sleeps{}
	ep.c.sleep = s.sleep
	return ep, s
}

func TestEndpointRequestShape(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		writeJSON(w, http.StatusOK, map[string]any{"got": c.JSON(t)["query"], "seen": n})
	})
	cfg := testConfig(f)
	cfg.Provider = "pinecone"
	ep, _ := newTestEndpoint(t, cfg, EndpointOptions{
		Op:         "rerank",
		Path:       "rerank",
		AuthHeader: "api-key",
		Header:     http.Header{"x-pinecone-api-version": {"2025-10"}},
	})
	var out echoReply
	if err := ep.Do(context.Background(), map[string]any{"query": "q"}, &out); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if out != (echoReply{Got: "q", Seen: 1}) {
		t.Fatalf("reply = %+v", out)
	}
	c := f.Calls()[0]
	if c.Method != http.MethodPost || c.Path != "/v1/rerank" {
		t.Errorf("%s %s, want POST /v1/rerank", c.Method, c.Path)
	}
	if got := c.Header.Get("Api-Key"); got != testKey {
		t.Errorf("Api-Key = %q, want the key", got)
	}
	if got, ok := c.Header["Authorization"]; ok {
		t.Errorf("Authorization sent alongside Api-Key: %q", got)
	}
	if got := c.Header.Get("X-Pinecone-API-Version"); got != "2025-10" {
		t.Errorf("X-Pinecone-API-Version = %q", got)
	}
	if got := c.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestEndpointBearerByDefault(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) { writeRaw(w, 200, `{}`) })
	ep, _ := newTestEndpoint(t, testConfig(f), EndpointOptions{Op: "rerank"})
	if err := ep.Do(context.Background(), struct{}{}, &struct{}{}); err != nil {
		t.Fatal(err)
	}
	c := f.Calls()[0]
	if got := c.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q", got)
	}
	if c.Path != "/v1" {
		t.Errorf("path %q, want BaseURL's own with no Path", c.Path)
	}
}

func TestEndpointKeyStaysOnItsHost(t *testing.T) {
	other := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) { writeRaw(w, 200, `{}`) })
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusTemporaryRedirect)
	})
	ep, _ := newTestEndpoint(t, testConfig(f), EndpointOptions{AuthHeader: "Api-Key"})
	if err := ep.Do(context.Background(), struct{}{}, &struct{}{}); err != nil {
		t.Fatal(err)
	}
	calls := other.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d requests reached the redirect target", len(calls))
	}
	if got := calls[0].Header.Get("Api-Key"); got != "" {
		t.Fatalf("the key followed a redirect to another host: Api-Key %q", got)
	}
}

func TestEndpointRetryDecision(t *testing.T) {
	only503 := func(e *APIError) bool { return e.Status == http.StatusServiceUnavailable }
	tests := []struct {
		status int
		want   int // requests
	}{
		{http.StatusServiceUnavailable, 2},
		{http.StatusInternalServerError, 1},
	}
	for _, tt := range tests {
		f := newFake(t, failN(1, tt.status, nil, `{"error":"busy"}`))
		cfg := testConfig(f)
		cfg.MaxRetries = 3
		ep, s := newTestEndpoint(t, cfg, EndpointOptions{Retry: only503})
		err := ep.Do(context.Background(), struct{}{}, &struct{}{})
		if n := len(f.Calls()); n != tt.want {
			t.Errorf("HTTP %d: %d requests, want %d (err %v)", tt.status, n, tt.want, err)
		}
		if tt.want == 1 {
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Attempts != 1 || len(s.got()) != 0 {
				t.Errorf("HTTP %d: err %v, %d sleeps; want one attempt, no backoff", tt.status, err, len(s.got()))
			}
		}
	}
}

func TestEndpointHints(t *testing.T) {
	tests := []struct {
		name   string
		model  string
		status int
		want   string
	}{
		{"no model, not found", "", 404, "(check BaseURL)"},
		{"no model, bad request", "", 400, "(check the request options)"},
		{"model, bad request", "rr-1", 422, `(check the model name "rr-1" and the request options)`},
		{"model, not found", "rr-1", 404, `(check BaseURL and the model name "rr-1")`},
		{"unauthorised", "rr-1", 401, "(check TROVE_RERANK_API_KEY)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, failN(1000, tt.status, nil, `{"error":"nope"}`))
			cfg := testConfig(f)
			cfg.Model = tt.model
			cfg.Provider = "tei"
			cfg.KeyName = "TROVE_RERANK_API_KEY"
			ep, _ := newTestEndpoint(t, cfg, EndpointOptions{Op: "rerank", Path: "rerank", ModelOptional: true})
			err := ep.Do(context.Background(), struct{}{}, &struct{}{})
			wantPrefix := "tei rerank: HTTP "
			if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.HasSuffix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q...%q", err, wantPrefix, tt.want)
			}
		})
	}

	if _, err := NewEndpoint(Config{BaseURL: "http://x"}, EndpointOptions{}); err == nil || !strings.Contains(err.Error(), "Model is required") {
		t.Fatalf("NewEndpoint without a model: %v; want Model required unless ModelOptional", err)
	}
}

func TestEndpointBadReplies(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not JSON", `<html>`, "test rerank: reply is not valid JSON"},
		{"wrong shape", `{"got": 5}`, "test rerank: reply has an unexpected shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) { writeRaw(w, 200, tt.body) })
			cfg := testConfig(f)
			cfg.Provider = "test"
			ep, _ := newTestEndpoint(t, cfg, EndpointOptions{Op: "rerank"})
			var out echoReply
			err := ep.Do(context.Background(), struct{}{}, &out)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q...", err, tt.want)
			}
			if n := len(f.Calls()); n != 1 {
				t.Fatalf("%d requests; a bad reply is not retried", n)
			}
		})
	}
}

func TestEndpointKeyNeverInErrors(t *testing.T) {
	echo := `{"error":{"message":"bad key ` + testKey + `"}}`
	f := newFake(t, failN(1000, 401, nil, echo))
	ep, _ := newTestEndpoint(t, testConfig(f), EndpointOptions{AuthHeader: "Api-Key"})
	err := ep.Do(context.Background(), struct{}{}, &struct{}{})
	if err == nil || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v; want the key redacted", err)
	}
}

func TestEndpointTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	cfg := testConfig(f)
	cfg.Timeout = 30 * time.Millisecond
	cfg.MaxRetries = -1
	ep, _ := newTestEndpoint(t, cfg, EndpointOptions{})
	err := ep.Do(context.Background(), struct{}{}, &struct{}{})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want a *APIError with Timeout() true", err)
	}

	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close()
	cfg.BaseURL = refused.URL
	ep, _ = newTestEndpoint(t, cfg, EndpointOptions{})
	err = ep.Do(context.Background(), struct{}{}, &struct{}{})
	if !errors.As(err, &apiErr) || apiErr.Timeout() {
		t.Fatalf("err = %v; a refused connection is not a timeout", err)
	}
}

func TestTaskEmbedder(t *testing.T) {
	f := newFake(t, embeddingsOK(2))
	cfg := testConfig(f)
	cfg.Provider = "jina"
	cfg.BatchSize = 2
	te, err := NewTaskEmbedder(cfg, func(texts []string, query bool) any {
		task := "doc"
		if query {
			task = "query"
		}
		return map[string]any{"model": "m", "input": texts, "task": task}
	})
	if err != nil {
		t.Fatal(err)
	}
	te.e.c.sleep = (&sleeps{}).sleep
	ctx := context.Background()
	docs, err := te.Embed(ctx, []string{"a", "bb", "ccc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := te.EmbedQuery(ctx, []string{"q"}); err != nil {
		t.Fatal(err)
	}
	var tasks []any
	var inputs []any
	for _, c := range f.Calls() {
		if c.Path != "/v1/embeddings" {
			t.Errorf("path %q", c.Path)
		}
		body := c.JSON(t)
		tasks = append(tasks, body["task"])
		inputs = append(inputs, body["input"])
	}
	if want := []any{"doc", "doc", "query"}; !reflect.DeepEqual(tasks, want) {
		t.Errorf("tasks = %v, want %v", tasks, want)
	}
	if want := []any{[]any{"a", "bb"}, []any{"ccc"}, []any{"q"}}; !reflect.DeepEqual(inputs, want) {
		t.Errorf("inputs = %v, want batches of 2", inputs)
	}
	want := vectorFor("ccc", 2)
	embedding.Normalize(want)
	if !reflect.DeepEqual(docs[2], want) {
		t.Errorf("vector = %v, want %v (normalised)", docs[2], want)
	}
	if got := te.Info(); got != (embedding.Info{Provider: "jina", Model: "test-model", Dimensions: 2}) {
		t.Errorf("Info = %+v", got)
	}
	if _, err := NewTaskEmbedder(cfg, nil); err == nil {
		t.Error("NewTaskEmbedder accepted a nil RequestFunc")
	}
}
