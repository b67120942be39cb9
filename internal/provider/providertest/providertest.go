// Package providertest holds what the vendor packages' tests share: a
// server that records every request and answers as told (Recorder, Reply),
// and a fake embeddings endpoint in OpenAI's reply shape, so each test
// checks its vendor's request shape.
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
	"reflect"
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
	f := NewRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int, c Call) {
		var body map[string]any
		if err := json.Unmarshal(c.Body, &body); err != nil {
			t.Errorf("request body is not JSON: %s", c.Body)
		}
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
	})
	return f.Server, func() []Request {
		var out []Request
		for _, c := range f.Calls() {
			var body map[string]any
			_ = json.Unmarshal(c.Body, &body) // reported when it came in
			out = append(out, Request{c.Method, c.Path, c.Header, body})
		}
		return out
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

// Call is one request a Recorder received.
type Call struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// JSON decodes the request body, a JSON object, for shape checks.
func (c Call) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c.Body, &m); err != nil {
		t.Fatalf("request body is not a JSON object: %v\n%s", err, c.Body)
	}
	return m
}

// Recorder is an httptest server that records every request and answers
// with the reply it was made with.
type Recorder struct {
	*httptest.Server
	mu    sync.Mutex
	calls []Call
}

// NewRecorder starts a Recorder; reply gets the 1-based number of the
// request and the request as recorded.
func NewRecorder(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int, c Call)) *Recorder {
	t.Helper()
	f := &Recorder{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := Call{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		f.mu.Lock()
		f.calls = append(f.calls, c)
		n := len(f.calls)
		f.mu.Unlock()
		reply(w, r, n, c)
	}))
	t.Cleanup(f.Close)
	return f
}

// Calls lists the requests so far.
func (f *Recorder) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Reply answers every request with status and body, as JSON: the reply
// function for NewRecorder when the answer does not depend on the request.
func Reply(status int, body string) func(http.ResponseWriter, *http.Request, int, Call) {
	return func(w http.ResponseWriter, _ *http.Request, _ int, _ Call) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// CheckRerank checks the one request a reranker sent: POST to path, with
// exactly the JSON body want and the headers given ("" = must be absent).
func CheckRerank(t *testing.T, f *Recorder, path string, want map[string]any, header map[string]string) {
	t.Helper()
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d requests, want 1", len(calls))
	}
	c := calls[0]
	if c.Method != http.MethodPost || c.Path != path {
		t.Errorf("%s %s, want POST %s", c.Method, c.Path, path)
	}
	if got := c.JSON(t); !reflect.DeepEqual(got, want) {
		t.Errorf("body = %v\nwant   %v", got, want)
	}
	for k, v := range header {
		if v == "" {
			if got, ok := c.Header[k]; ok {
				t.Errorf("header %s = %q sent, want none", k, got)
			}
		} else if got := c.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if ct := c.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}
