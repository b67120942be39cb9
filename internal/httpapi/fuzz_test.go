package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/httpapi"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
)

// Request bodies are outside input: whatever arrives, the answer is a
// client error or success, never a server error, and errors always come
// as {"error":{"code","message"}}.
func FuzzBodies(f *testing.F) {
	st := servicetest.Store(f)
	svc := service.New(service.Options{Store: st, Embedder: servicetest.Embedder(), Searcher: &servicetest.Searcher{Store: st, Embedder: servicetest.Embedder()}})
	h := httpapi.New(httpapi.Options{Service: svc})
	routes := []string{"POST /v1/memories", "PATCH /v1/memories/abcdefgh", "POST /v1/search", "POST /v1/recall-context", "POST /v1/capture"}
	for _, s := range []string{`{"text":"x"}`, `{"text":"x","importance":2}`, `{"query":"q","scopes":["agent:x"]}`, `{"prompt":"remember?"}`,
		`{"messages":[{"role":"user","content":"I prefer tea"}]}`, `{"metadata":{"a":[1,{"b":null}]}}`, `[`, `{"text":"\u0000"}`, `{"text":1e999}`} {
		for i := range routes {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		method, path, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var b service.Body
			if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
				t.Fatalf("%s %s %q: error body %s", method, path, body, rec.Body)
			}
		} else if rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
			t.Fatalf("status %d", rec.Code)
		}
	})
}
