package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/httpapi"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/service"
	"github.com/trove-memory/trove/internal/service/servicetest"
	"github.com/trove-memory/trove/internal/store"
)

// FuzzRequestLine covers the rest of a request that FuzzBodies does not:
// path ids, query strings and the agent header. Whatever arrives, the
// answer is never a server error, errors are {"error":{"code","message"}},
// and a row in agent:secret never shows to another agent. Only reads and
// a delete of an id that does not exist are fuzzed, so the store is the
// same for every input.
func FuzzRequestLine(f *testing.F) {
	st := servicetest.Store(f)
	if _, err := store.PutMany(ctx, st, memory.Owner(), []memory.Memory{
		{ID: "pub00001", Text: "a public note about tea"},
		{ID: "sec00001", Text: "the secret-marker note", Scope: "agent:secret"},
	}); err != nil {
		f.Fatal(err)
	}
	svc := service.New(service.Options{Store: st, Embedder: servicetest.Embedder(), Searcher: &servicetest.Searcher{Store: st, Embedder: servicetest.Embedder()}})
	h := httpapi.New(httpapi.Options{Service: svc})
	routes := []string{"GET /v1/memories", "GET /v1/memories/", "DELETE /v1/memories/nothere1", "GET /v1/stats"}
	for _, s := range []struct{ id, query, agent string }{
		{"", "", ""},
		{"sec00001", "", "other"},
		{"sec0", "", ""},
		{"", "scope=agent:secret&limit=2", "other"},
		{"", "limit=abc", ""},
		{"", "limit=-1&cursor=%ff", ""},
		{"", "limit=99999999999999999999", ""},
		{"", "expected_revision=1e3", ""},
		{"", "scope=global,agent:x';DROP TABLE memories;--", "x"},
		{"", "category=fact&category=%00", ""},
		{"%2F..%2F", "unknown=1", "a b"},
		{"pub00001", "", " secret "},
		{"", "scope=agent:secret", "secret\x00"},
	} {
		for i := range routes {
			f.Add(uint8(i), s.id, s.query, s.agent)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, id, query, agent string) {
		method, path, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		if strings.HasSuffix(path, "/") {
			path += id
		}
		req := httptest.NewRequest(method, "/", nil)
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", query
		req.RequestURI = req.URL.RequestURI()
		if agent != "" {
			req.Header[service.AgentHeader] = []string{agent}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s (agent %q): %d %s", method, path, query, agent, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var b service.Body
			if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
				t.Fatalf("%s %s?%s: error body %s", method, path, query, rec.Body)
			}
			return
		}
		if rec.Code != http.StatusOK && (rec.Code < 300 || rec.Code >= 400) {
			t.Fatalf("%s %s?%s: status %d", method, path, query, rec.Code)
		}
		if a := strings.TrimSpace(agent); a != "" && a != "secret" && strings.Contains(rec.Body.String(), "secret-marker") {
			t.Fatalf("%s %s?%s: agent %q was shown agent:secret's row: %s", method, path, query, agent, rec.Body)
		}
	})
}
