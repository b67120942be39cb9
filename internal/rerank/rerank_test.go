package rerank

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

var docs = []string{"uses vim", "likes tea", "prefers dark mode"}

func TestRequestShapes(t *testing.T) {
	tests := []struct {
		provider string
		path     string // base path prefix the fake serves under
		reqPath  string
		model    string
		reply    string
		body     any // the exact JSON expected
		auth     map[string]string
		noAuth   []string
	}{
		{
			provider: Jina, path: "/v1", reqPath: "/v1/rerank", model: "jina-reranker-v3",
			reply: `{"model":"jina-reranker-v3","usage":{"total_tokens":9},"results":[
				{"index":2,"relevance_score":0.9,"document":{"text":"prefers dark mode"}},
				{"index":0,"relevance_score":0.2}]}`,
			body: map[string]any{"model": "jina-reranker-v3", "query": "which theme?",
				"documents": []any{"uses vim", "likes tea", "prefers dark mode"}, "top_n": 2.0},
			auth: map[string]string{"Authorization": "Bearer " + testKey},
		},
		{
			provider: SiliconFlow, path: "/v1", reqPath: "/v1/rerank", model: "BAAI/bge-reranker-v2-m3",
			reply: `{"id":"x","results":[{"index":2,"relevance_score":0.9},{"index":0,"relevance_score":0.2}]}`,
			body: map[string]any{"model": "BAAI/bge-reranker-v2-m3", "query": "which theme?",
				"documents": []any{"uses vim", "likes tea", "prefers dark mode"}, "top_n": 2.0},
			auth: map[string]string{"Authorization": "Bearer " + testKey},
		},
		{
			provider: Voyage, path: "/v1", reqPath: "/v1/rerank", model: "rerank-2.5",
			reply: `{"object":"list","data":[{"relevance_score":0.9,"index":2},{"relevance_score":0.2,"index":0}],"model":"rerank-2.5","usage":{"total_tokens":9}}`,
			body: map[string]any{"model": "rerank-2.5", "query": "which theme?",
				"documents": []any{"uses vim", "likes tea", "prefers dark mode"}, "top_k": 2.0},
			auth: map[string]string{"Authorization": "Bearer " + testKey},
		},
		{
			provider: Pinecone, path: "", reqPath: "/rerank", model: "bge-reranker-v2-m3",
			reply: `{"model":"bge-reranker-v2-m3","data":[{"index":2,"score":0.9},{"index":0,"score":0.2}],"usage":{"rerank_units":1}}`,
			body: map[string]any{"model": "bge-reranker-v2-m3", "query": "which theme?",
				"documents":   []any{map[string]any{"text": "uses vim"}, map[string]any{"text": "likes tea"}, map[string]any{"text": "prefers dark mode"}},
				"top_n":       2.0,
				"rank_fields": []any{"text"}, "return_documents": false},
			auth:   map[string]string{"Api-Key": testKey, "X-Pinecone-API-Version": DefaultPineconeAPIVersion},
			noAuth: []string{"Authorization"},
		},
		{
			provider: TEI, path: "", reqPath: "/rerank",
			reply: `[{"index":2,"score":0.9},{"index":0,"score":0.2},{"index":1,"score":0.1}]`,
			body:  map[string]any{"query": "which theme?", "texts": []any{"uses vim", "likes tea", "prefers dark mode"}},
			auth:  map[string]string{"Authorization": "Bearer " + testKey},
		},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			f := newFake(t, answer(http.StatusOK, tt.reply))
			rr := newTest(t, Config{Provider: tt.provider, BaseURL: f.URL + tt.path, APIKey: testKey})
			got, err := rr.Rerank(context.Background(), "which theme?", docs, 2)
			if err != nil {
				t.Fatalf("Rerank: %v", err)
			}
			if want := []Result{{2, 0.9}, {0, 0.2}}; !reflect.DeepEqual(got, want) {
				t.Errorf("results = %v, want %v", got, want)
			}
			calls := f.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d requests, want 1", len(calls))
			}
			c := calls[0]
			if c.Method != http.MethodPost || c.Path != tt.reqPath {
				t.Errorf("%s %s, want POST %s", c.Method, c.Path, tt.reqPath)
			}
			if got := c.JSON(t); !reflect.DeepEqual(got, tt.body) {
				t.Errorf("body = %v\nwant   %v", got, tt.body)
			}
			for k, v := range tt.auth {
				if got := c.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.noAuth {
				if v, ok := c.Header[k]; ok {
					t.Errorf("header %s = %q sent, want none", k, v)
				}
			}
			if ct := c.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestTopNOrderAndLimit(t *testing.T) {
	// An unsorted reply scoring every document, as TEI or a gateway gives.
	reply := `[{"index":0,"score":0.1},{"index":3,"score":0.7},{"index":1,"score":0.7},{"index":2,"score":0.9}]`
	f := newFake(t, answer(http.StatusOK, reply))
	rr := newTest(t, Config{Provider: TEI, BaseURL: f.URL})
	four := []string{"a", "b", "c", "d"}
	tests := []struct {
		topN int
		want []Result
	}{
		{2, []Result{{2, 0.9}, {1, 0.7}}}, // the tie keeps document order
		{0, []Result{{2, 0.9}, {1, 0.7}, {3, 0.7}, {0, 0.1}}},
		{10, []Result{{2, 0.9}, {1, 0.7}, {3, 0.7}, {0, 0.1}}},
	}
	for _, tt := range tests {
		got, err := rr.Rerank(context.Background(), "q", four, tt.topN)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("topN %d: %v, want %v", tt.topN, got, tt.want)
		}
	}
}

func TestTopNIsClampedInTheRequest(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{"results":[{"index":1,"relevance_score":0.5},{"index":0,"relevance_score":0.4}]}`))
	rr := newTest(t, Config{Provider: Jina, BaseURL: f.URL, APIKey: testKey})
	for _, topN := range []int{0, -1, 99} {
		if _, err := rr.Rerank(context.Background(), "q", []string{"a", "b"}, topN); err != nil {
			t.Fatalf("topN %d: %v", topN, err)
		}
	}
	for i, c := range f.Calls() {
		if n := c.JSON(t)["top_n"]; n != 2.0 {
			t.Errorf("request %d: top_n %v, want the document count 2", i, n)
		}
	}
}

func TestNoDocumentsNoRequest(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{}`))
	rr := newTest(t, Config{Provider: Jina, BaseURL: f.URL})
	got, err := rr.Rerank(context.Background(), "q", nil, 5)
	if err != nil || len(got) != 0 {
		t.Fatalf("Rerank(no docs) = %v, %v; want no results, no error", got, err)
	}
	if _, err := rr.Rerank(context.Background(), "  ", docs, 5); err == nil || err.Error() != "jina rerank: the query is empty" {
		t.Fatalf("empty query: err = %v", err)
	}
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("%d requests, want none", n)
	}
}

func TestBadReplies(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		reply    string
		want     string
	}{
		{"index out of range", Jina, `{"results":[{"index":7,"relevance_score":0.9},{"index":0,"relevance_score":0.1}]}`,
			"jina rerank: bad reply: result 0 has index 7, outside 0-2"},
		{"negative index", Voyage, `{"data":[{"index":-1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}]}`,
			"voyage rerank: bad reply: result 0 has index -1, outside 0-2"},
		{"duplicate index", Pinecone, `{"data":[{"index":1,"score":0.9},{"index":1,"score":0.8}]}`,
			"pinecone rerank: bad reply: index 1 appears twice"},
		{"missing score", SiliconFlow, `{"results":[{"index":1,"score":0.9},{"index":0,"relevance_score":0.8}]}`,
			"siliconflow rerank: bad reply: result 0 has no relevance_score"},
		{"missing index", TEI, `[{"score":0.9},{"index":0,"score":0.8}]`,
			"tei rerank: bad reply: result 0 has no index"},
		{"too few results", Jina, `{"results":[{"index":1,"relevance_score":0.9}]}`,
			"jina rerank: bad reply: got 1 results, expected 2"},
		{"empty list", Voyage, `{"data":[]}`,
			"voyage rerank: bad reply: got 0 results, expected 2"},
		{"too many results", TEI, `[{"index":0,"score":1},{"index":1,"score":1},{"index":2,"score":1},{"index":3,"score":1}]`,
			"tei rerank: bad reply: got 4 results for 3 documents"},
		{"no list", Jina, `{"data":[{"index":0,"relevance_score":0.9}]}`,
			`jina rerank: bad reply: the reply has no "results" list`},
		{"an error with status 200", Pinecone, `{"error":{"code":"INVALID_ARGUMENT","message":"bad model"}}`,
			`pinecone rerank: bad reply: the reply is an error: {"code":"INVALID_ARGUMENT","message":"bad model"}`},
		{"null", TEI, `null`, "tei rerank: bad reply: the reply has no list of scores"},
		{"not JSON", Jina, `<html>oops</html>`, "jina rerank: reply is not valid JSON"},
		{"wrong shape", Jina, `{"results":[{"index":"two","relevance_score":0.9}]}`, "jina rerank: reply has an unexpected shape"},
		{"fractional index", Voyage, `{"data":[{"index":1.5,"relevance_score":0.9}]}`, "voyage rerank: reply has an unexpected shape"},
		{"object for TEI", TEI, `{"results":[]}`, "tei rerank: reply has an unexpected shape"},
		{"score beyond float64", Pinecone, `{"data":[{"index":0,"score":1e999}]}`, "pinecone rerank: reply has an unexpected shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, answer(http.StatusOK, tt.reply))
			rr := newTest(t, Config{Provider: tt.provider, BaseURL: f.URL, APIKey: testKey})
			_, err := rr.Rerank(context.Background(), "q", docs, 2)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %s...", err, tt.want)
			}
			if strings.Contains(tt.want, "bad reply") {
				var re *ReplyError
				if !errors.As(err, &re) || re.Provider != tt.provider {
					t.Errorf("err %#v: want a *ReplyError naming %s", err, tt.provider)
				}
			}
			if n := len(f.Calls()); n != 1 {
				t.Errorf("%d requests; a bad reply is not retried", n)
			}
		})
	}
}

func TestTimeoutIsRetriedOnce(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select { // hang until the client gives up on this attempt
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // before f.Close, so no handler is left hanging
	rr := newTest(t, Config{Provider: Jina, BaseURL: f.URL, APIKey: testKey, Timeout: 40 * time.Millisecond})
	_, err := rr.Rerank(context.Background(), "q", docs, 2)
	want := "jina rerank: no reply within 40ms (gave up after 2 attempts; the server did not answer in time; check BaseURL or raise the timeout)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	var apiErr *openaicompat.APIError
	if !errors.As(err, &apiErr) || !apiErr.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %#v: want a timed-out *openaicompat.APIError", err)
	}
	if n := len(f.Calls()); n != 2 {
		t.Fatalf("%d requests, want 2: one retry after a timeout", n)
	}
}

func TestRetryPolicy(t *testing.T) {
	ok := `{"results":[{"index":0,"relevance_score":0.9},{"index":1,"relevance_score":0.1}]}`
	tests := []struct {
		name       string
		failures   int
		status     int
		header     http.Header
		maxRetries int
		wantCalls  int
		wantErr    bool
	}{
		{"503 then success", 1, 503, nil, 0, 2, false},
		{"429 with a short Retry-After", 1, 429, http.Header{"Retry-After": {"0.01"}}, 0, 2, false},
		{"500 twice: one retry only", 2, 500, nil, 0, 2, true},
		{"429 with a long Retry-After is not retried", 1, 429, http.Header{"Retry-After": {"30"}}, 0, 1, true},
		{"400 is not retried", 1, 400, nil, 0, 1, true},
		{"401 is not retried", 1, 401, nil, 0, 1, true},
		{"retries off", 1, 503, nil, -1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, failThen(tt.failures, tt.status, tt.header, ok))
			rr := newTest(t, Config{Provider: Jina, BaseURL: f.URL, APIKey: testKey, MaxRetries: tt.maxRetries})
			_, err := rr.Rerank(context.Background(), "q", docs[:2], 2)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if n := len(f.Calls()); n != tt.wantCalls {
				t.Fatalf("%d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestConnectionRefusedIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	rr := newTest(t, Config{Provider: TEI, BaseURL: srv.URL})
	_, err := rr.Rerank(context.Background(), "q", docs, 2)
	var apiErr *openaicompat.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 0 || apiErr.Attempts != 1 {
		t.Fatalf("err = %v; want one failed attempt and no retry", err)
	}
	if !strings.HasSuffix(err.Error(), "(check BaseURL and that the server is up)") {
		t.Fatalf("err = %v; want the BaseURL hint", err)
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	echo := `{"error":{"message":"invalid key ` + testKey + `"}}`
	for _, provider := range []string{Jina, Voyage, Pinecone, TEI} {
		t.Run(provider, func(t *testing.T) {
			f := newFake(t, answer(http.StatusUnauthorized, echo))
			rr := newTest(t, Config{Provider: provider, BaseURL: f.URL, APIKey: testKey, KeyName: "TROVE_RERANK_API_KEY"})
			_, err := rr.Rerank(context.Background(), "q", docs, 2)
			if err == nil {
				t.Fatal("no error for HTTP 401")
			}
			msg := err.Error()
			if strings.Contains(msg, testKey) || !strings.Contains(msg, "[redacted]") {
				t.Fatalf("err = %q; want the key redacted", msg)
			}
			if want := provider + " rerank: HTTP 401: "; !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "(check TROVE_RERANK_API_KEY)") {
				t.Fatalf("err = %q; want %q... and the key hint", msg, want)
			}
		})
	}
}

func TestKeyNotInReplyErrors(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{"error":"key `+testKey+` has no rerank quota"}`))
	rr := newTest(t, Config{Provider: Pinecone, BaseURL: f.URL, APIKey: testKey})
	_, err := rr.Rerank(context.Background(), "q", docs, 2)
	want := `pinecone rerank: bad reply: the reply is an error: "key [redacted] has no rerank quota"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestFullEndpointURL(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{"results":[{"index":0,"relevance_score":0.9}]}`))
	rr := newTest(t, Config{Provider: Jina, BaseURL: f.URL + "/v1/rerank", APIKey: testKey})
	if _, err := rr.Rerank(context.Background(), "q", docs[:1], 1); err != nil {
		t.Fatal(err)
	}
	if p := f.Calls()[0].Path; p != "/v1/rerank" {
		t.Fatalf("path %q, want BaseURL as given when it names the endpoint", p)
	}
}

func TestPineconeAPIVersion(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{"data":[{"index":0,"score":0.9}]}`))
	rr := newTest(t, Config{Provider: Pinecone, BaseURL: f.URL, APIKey: testKey, APIVersion: "2025-04", Model: "pinecone-rerank-v0"})
	if _, err := rr.Rerank(context.Background(), "q", docs[:1], 1); err != nil {
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

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"jina with a key", Config{Provider: Jina, APIKey: "k"}, ""},
		{"tei needs no key", Config{Provider: TEI}, ""},
		{"self-hosted jina format needs no key", Config{Provider: Jina, BaseURL: "http://vllm:8000/v1"}, ""},
		{"no provider", Config{}, "rerank: Provider is required: use one of jina, pinecone, siliconflow, tei, voyage"},
		{"unknown provider", Config{Provider: "cohere"}, `rerank: Provider "cohere" is unknown: use one of jina, pinecone, siliconflow, tei, voyage`},
		{"hosted without a key", Config{Provider: Pinecone, KeyName: "TROVE_RERANK_API_KEY"},
			"rerank: APIKey is required for https://api.pinecone.io (set TROVE_RERANK_API_KEY)"},
		{"too many retries", Config{Provider: TEI, MaxRetries: 3}, "rerank: MaxRetries is 3; rerank runs while a user waits, so it retries at most once"},
		{"negative timeout", Config{Provider: TEI, Timeout: -time.Second}, "rerank: Timeout is -1s; it must not be negative"},
		{"relative URL", Config{Provider: TEI, BaseURL: "localhost:8080"}, `rerank: BaseURL "localhost:8080" must be an absolute http:// or https:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				if _, err := New(tt.cfg); err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate = %v\nwant %s", err, tt.want)
			}
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("New accepted an invalid Config")
			}
		})
	}
}

func TestConcurrentRerank(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `[{"index":1,"score":0.9},{"index":0,"score":0.2},{"index":2,"score":0.1}]`))
	rr := newTest(t, Config{Provider: TEI, BaseURL: f.URL})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := rr.Rerank(context.Background(), "q", docs, 1)
			if err == nil && !reflect.DeepEqual(got, []Result{{1, 0.9}}) {
				err = errors.New("wrong ranking")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
