package rerank

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// testKey is distinctive so a leak into any error string is easy to spot.
const testKey = "rr-test-SECRET-0123456789"

// call is one request the fake server received.
type call struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// JSON decodes the request body for shape checks.
func (c call) JSON(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(c.Body, &v); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, c.Body)
	}
	return v
}

// fake is an httptest server that records requests and answers with
// reply, which gets the 1-based number of the request.
type fake struct {
	*httptest.Server
	mu    sync.Mutex
	calls []call
}

func newFake(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int)) *fake {
	t.Helper()
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, call{r.Method, r.URL.Path, r.Header.Clone(), body})
		n := len(f.calls)
		f.mu.Unlock()
		reply(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// answer replies with status and body every time.
func answer(status int, body string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
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

func newTest(t *testing.T, cfg Config) Reranker {
	t.Helper()
	rr, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rr
}
