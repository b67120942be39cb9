// Package providertest holds what the embedding vendor packages' tests
// share: a fake embeddings endpoint in OpenAI's reply shape that records
// every request, so each test checks its vendor's request shape.
//
//	srv, reqs := providertest.Embeddings(t, http.StatusOK, "")
//	... embed against srv.URL ...
//	body := reqs()[0].Body // the decoded JSON request
package providertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Request is one request the fake received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         map[string]any
}

// Embeddings starts a server that answers like an OpenAI-compatible
// embeddings endpoint: the vector of input i is [len(input i)+1, 1], and
// the data come in reverse order, so a client that places by index (as it
// must) rather than by position is checked too. With a status other than
// 200 it answers that status and errBody instead. The function returned
// lists the requests so far.
func Embeddings(t *testing.T, status int, errBody string) (*httptest.Server, func() []Request) {
	t.Helper()
	var mu sync.Mutex
	var reqs []Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request body is not JSON: %s", raw)
		}
		mu.Lock()
		reqs = append(reqs, Request{r.Method, r.URL.Path, r.Header.Clone(), body})
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
	return srv, func() []Request {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

// Keys returns m's keys, sorted: the fields a request body carries.
func Keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
