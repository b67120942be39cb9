package openaicompat_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/provider"
	"github.com/trove-memory/trove/internal/provider/jina"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
	"github.com/trove-memory/trove/internal/provider/pinecone"
	"github.com/trove-memory/trove/internal/provider/providertest"
	"github.com/trove-memory/trove/internal/provider/siliconflow"
	"github.com/trove-memory/trove/internal/provider/tei"
	"github.com/trove-memory/trove/internal/provider/voyage"
)

// These tests run the shared rerank machinery through the real vendors, so
// each vendor's reply format meets every check. The vendors' request shapes
// are tested in their own packages.

// rrKey is distinctive so a leak into any error string is easy to spot.
const rrKey = "rr-test-SECRET-0123456789"

var docs = []string{"uses vim", "likes tea", "prefers dark mode"}

func newReranker(name string, cfg openaicompat.RerankConfig) (*openaicompat.Reranker, error) {
	switch name {
	case provider.Jina:
		return jina.NewReranker(cfg)
	case provider.SiliconFlow:
		return siliconflow.NewReranker(cfg)
	case provider.Voyage:
		return voyage.NewReranker(cfg)
	case provider.Pinecone:
		return pinecone.NewReranker(pinecone.Config{RerankConfig: cfg})
	case provider.TEI:
		return tei.NewReranker(cfg)
	}
	return nil, errors.New("no such reranker: " + name)
}

func newTestReranker(t *testing.T, name string, cfg openaicompat.RerankConfig) *openaicompat.Reranker {
	t.Helper()
	rr, err := newReranker(name, cfg)
	if err != nil {
		t.Fatalf("NewReranker: %v", err)
	}
	return rr
}

func newFake(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int)) *providertest.Recorder {
	t.Helper()
	return providertest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int, _ providertest.Call) { reply(w, r, n) })
}

// answer replies with status and body every time.
func answer(status int, body string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		providertest.Reply(status, body)(w, r, n, providertest.Call{})
	}
}

// failThen answers the first failures requests with status, then body.
func failThen(failures, status int, header http.Header, body string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= failures {
			for k, v := range header {
				w.Header()[k] = v
			}
			answer(status, `{"error":{"message":"busy"}}`)(w, r, n)
			return
		}
		answer(http.StatusOK, body)(w, r, n)
	}
}

func TestRerankScoresInDocumentOrder(t *testing.T) {
	// An unsorted reply scoring every document, as TEI or a gateway gives.
	f := newFake(t, answer(http.StatusOK, `[{"index":0,"score":0.1},{"index":3,"score":0.7},{"index":1,"score":0.7},{"index":2,"score":0.9}]`))
	rr := newTestReranker(t, provider.TEI, openaicompat.RerankConfig{BaseURL: f.URL})
	got, err := rr.Rerank(context.Background(), "q", []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.1, 0.7, 0.9, 0.7}; !reflect.DeepEqual(got, want) {
		t.Errorf("scores %v, want %v", got, want)
	}
}

func TestRerankAsksForEveryDocument(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{"results":[{"index":1,"relevance_score":0.5},{"index":0,"relevance_score":0.4}]}`))
	rr := newTestReranker(t, provider.Jina, openaicompat.RerankConfig{BaseURL: f.URL, APIKey: rrKey})
	if _, err := rr.Rerank(context.Background(), "q", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls()[0].JSON(t)["top_n"]; n != 2.0 {
		t.Errorf("top_n %v, want the document count 2", n)
	}
}

func TestRerankNoDocumentsNoRequest(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{}`))
	rr := newTestReranker(t, provider.Jina, openaicompat.RerankConfig{BaseURL: f.URL})
	got, err := rr.Rerank(context.Background(), "q", nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Rerank(no docs) = %v, %v; want no scores, no error", got, err)
	}
	if _, err := rr.Rerank(context.Background(), "  ", docs); err == nil || err.Error() != "jina rerank: the query is empty" {
		t.Fatalf("empty query: err = %v", err)
	}
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("%d requests, want none", n)
	}
}

func TestRerankBadReplies(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		reply    string
		want     string
	}{
		{"index out of range", provider.Jina, `{"results":[{"index":7,"relevance_score":0.9},{"index":0,"relevance_score":0.1}]}`,
			"jina rerank: bad reply: result 0 has index 7, outside 0-2"},
		{"negative index", provider.Voyage, `{"data":[{"index":-1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}]}`,
			"voyage rerank: bad reply: result 0 has index -1, outside 0-2"},
		{"duplicate index", provider.Pinecone, `{"data":[{"index":1,"score":0.9},{"index":1,"score":0.8}]}`,
			"pinecone rerank: bad reply: index 1 appears twice"},
		{"missing score", provider.SiliconFlow, `{"results":[{"index":1,"score":0.9},{"index":0,"relevance_score":0.8}]}`,
			"siliconflow rerank: bad reply: result 0 has no relevance_score"},
		{"missing index", provider.TEI, `[{"score":0.9},{"index":0,"score":0.8}]`,
			"tei rerank: bad reply: result 0 has no index"},
		{"too few results", provider.Jina, `{"results":[{"index":1,"relevance_score":0.9}]}`,
			"jina rerank: bad reply: got 1 results, expected 3"},
		{"empty list", provider.Voyage, `{"data":[]}`,
			"voyage rerank: bad reply: got 0 results, expected 3"},
		{"too many results", provider.TEI, `[{"index":0,"score":1},{"index":1,"score":1},{"index":2,"score":1},{"index":3,"score":1}]`,
			"tei rerank: bad reply: got 4 results for 3 documents"},
		{"a very negative score is a score", provider.TEI, `[{"index":0,"score":1},{"index":1,"score":1},{"index":2,"score":-1e308}]`, ""},
		{"no list", provider.Jina, `{"data":[{"index":0,"relevance_score":0.9}]}`,
			`jina rerank: bad reply: the reply has no "results" list`},
		{"an error with status 200", provider.Pinecone, `{"error":{"code":"INVALID_ARGUMENT","message":"bad model"}}`,
			`pinecone rerank: bad reply: the reply is an error: {"code":"INVALID_ARGUMENT","message":"bad model"}`},
		{"null", provider.TEI, `null`, "tei rerank: bad reply: the reply has no list of scores"},
		{"not JSON", provider.Jina, `<html>oops</html>`, "jina rerank: reply is not valid JSON"},
		{"wrong shape", provider.Jina, `{"results":[{"index":"two","relevance_score":0.9}]}`, "jina rerank: reply has an unexpected shape"},
		{"fractional index", provider.Voyage, `{"data":[{"index":1.5,"relevance_score":0.9}]}`, "voyage rerank: reply has an unexpected shape"},
		{"object for TEI", provider.TEI, `{"results":[]}`, "tei rerank: reply has an unexpected shape"},
		{"score beyond float64", provider.Pinecone, `{"data":[{"index":0,"score":1e999}]}`, "pinecone rerank: reply has an unexpected shape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, answer(http.StatusOK, tt.reply))
			rr := newTestReranker(t, tt.provider, openaicompat.RerankConfig{BaseURL: f.URL, APIKey: rrKey})
			_, err := rr.Rerank(context.Background(), "q", docs)
			if tt.want == "" { // a valid reply in the table, to show the checks are not too strict
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %s...", err, tt.want)
			}
			if strings.Contains(tt.want, "bad reply") {
				var re *openaicompat.RerankReplyError
				if !errors.As(err, &re) || re.Provider != tt.provider {
					t.Errorf("err %#v: want a *RerankReplyError naming %s", err, tt.provider)
				}
			}
			if n := len(f.Calls()); n != 1 {
				t.Errorf("%d requests; a bad reply is not retried", n)
			}
		})
	}
}

func TestRerankTimeoutIsRetriedOnce(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select { // hang until the client gives up on this attempt
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // before f.Close, so no handler is left hanging
	rr := newTestReranker(t, provider.Jina, openaicompat.RerankConfig{BaseURL: f.URL, APIKey: rrKey, Timeout: 40 * time.Millisecond})
	_, err := rr.Rerank(context.Background(), "q", docs)
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

func TestRerankRetryPolicy(t *testing.T) {
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
			rr := newTestReranker(t, provider.Jina, openaicompat.RerankConfig{BaseURL: f.URL, APIKey: rrKey, MaxRetries: tt.maxRetries})
			_, err := rr.Rerank(context.Background(), "q", docs[:2])
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if n := len(f.Calls()); n != tt.wantCalls {
				t.Fatalf("%d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestRerankConnectionRefusedIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	rr := newTestReranker(t, provider.TEI, openaicompat.RerankConfig{BaseURL: srv.URL})
	_, err := rr.Rerank(context.Background(), "q", docs)
	var apiErr *openaicompat.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 0 || apiErr.Attempts != 1 {
		t.Fatalf("err = %v; want one failed attempt and no retry", err)
	}
	if !strings.HasSuffix(err.Error(), "(check BaseURL and that the server is up)") {
		t.Fatalf("err = %v; want the BaseURL hint", err)
	}
}

func TestRerankKeyNeverInErrors(t *testing.T) {
	echo := `{"error":{"message":"invalid key ` + rrKey + `"}}`
	for _, name := range []string{provider.Jina, provider.Voyage, provider.Pinecone, provider.TEI} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, answer(http.StatusUnauthorized, echo))
			rr := newTestReranker(t, name, openaicompat.RerankConfig{BaseURL: f.URL, APIKey: rrKey, KeyName: "TROVE_RERANK_API_KEY"})
			_, err := rr.Rerank(context.Background(), "q", docs)
			if err == nil {
				t.Fatal("no error for HTTP 401")
			}
			msg := err.Error()
			if strings.Contains(msg, rrKey) || !strings.Contains(msg, "[redacted]") {
				t.Fatalf("err = %q; want the key redacted", msg)
			}
			if want := name + " rerank: HTTP 401: "; !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "(check TROVE_RERANK_API_KEY)") {
				t.Fatalf("err = %q; want %q... and the key hint", msg, want)
			}
		})
	}
}

func TestRerankKeyNotInReplyErrors(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{"error":"key `+rrKey+` has no rerank quota"}`))
	rr := newTestReranker(t, provider.Pinecone, openaicompat.RerankConfig{BaseURL: f.URL, APIKey: rrKey})
	_, err := rr.Rerank(context.Background(), "q", docs)
	want := `pinecone rerank: bad reply: the reply is an error: "key [redacted] has no rerank quota"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestRerankFullEndpointURL(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `{"results":[{"index":0,"relevance_score":0.9}]}`))
	rr := newTestReranker(t, provider.Jina, openaicompat.RerankConfig{BaseURL: f.URL + "/v1/rerank", APIKey: rrKey})
	if _, err := rr.Rerank(context.Background(), "q", docs[:1]); err != nil {
		t.Fatal(err)
	}
	if p := f.Calls()[0].Path; p != "/v1/rerank" {
		t.Fatalf("path %q, want BaseURL as given when it names the endpoint", p)
	}
}

func TestRerankValidate(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		cfg      openaicompat.RerankConfig
		want     string // "" = valid
	}{
		{"jina with a key", provider.Jina, openaicompat.RerankConfig{APIKey: "k"}, ""},
		{"tei needs no key", provider.TEI, openaicompat.RerankConfig{}, ""},
		{"self-hosted jina format needs no key", provider.Jina, openaicompat.RerankConfig{BaseURL: "http://vllm:8000/v1"}, ""},
		{"hosted without a key", provider.Pinecone, openaicompat.RerankConfig{KeyName: "TROVE_RERANK_API_KEY"},
			"pinecone rerank: APIKey is required for https://api.pinecone.io (set TROVE_RERANK_API_KEY)"},
		{"too many retries", provider.TEI, openaicompat.RerankConfig{MaxRetries: 3}, "tei rerank: MaxRetries is 3; rerank runs while a user waits, so it retries at most once"},
		{"negative timeout", provider.TEI, openaicompat.RerankConfig{Timeout: -time.Second}, "tei rerank: Timeout is -1s; it must not be negative"},
		{"relative URL", provider.TEI, openaicompat.RerankConfig{BaseURL: "localhost:8080"}, `tei rerank: BaseURL "localhost:8080" must be an absolute http:// or https:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newReranker(tt.provider, tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewReranker = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("NewReranker = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestConcurrentRerank(t *testing.T) {
	f := newFake(t, answer(http.StatusOK, `[{"index":1,"score":0.9},{"index":0,"score":0.2},{"index":2,"score":0.1}]`))
	rr := newTestReranker(t, provider.TEI, openaicompat.RerankConfig{BaseURL: f.URL})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := rr.Rerank(context.Background(), "q", docs)
			if err == nil && !reflect.DeepEqual(got, []float64{0.2, 0.9, 0.1}) {
				err = errors.New("wrong scores")
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

// replyTransport answers every request with one body, in memory.
type replyTransport struct{ body string }

func (rt replyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(rt.body)),
		Request:    req,
	}, nil
}

// FuzzRerankReplies feeds arbitrary reply bodies to every vendor's
// parser: Rerank must never panic, and whatever it accepts must be one
// finite score per document.
func FuzzRerankReplies(f *testing.F) {
	f.Add(`{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.2},{"index":2,"relevance_score":0.1}]}`)
	f.Add(`{"data":[{"index":0,"score":0.9},{"index":2,"score":0.2},{"index":1,"score":0.1}]}`)
	f.Add(`[{"index":2,"score":0.5},{"index":2,"score":0.4}]`)
	f.Add(`{"error":"overloaded"}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		for _, name := range provider.Rerankers() {
			rr, err := newReranker(name, openaicompat.RerankConfig{
				BaseURL:    "http://reranker.test",
				APIKey:     rrKey,
				MaxRetries: -1,
				HTTPClient: &http.Client{Transport: replyTransport{body}},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := rr.Rerank(context.Background(), "q", docs)
			if err != nil {
				continue
			}
			if len(got) != len(docs) {
				t.Fatalf("%s: %d scores for %d documents: %v", name, len(got), len(docs), got)
			}
			for _, s := range got {
				if math.IsNaN(s) || math.IsInf(s, 0) {
					t.Fatalf("%s: accepted a non-finite score: %v", name, got)
				}
			}
		}
	})
}
