package rerank

import (
	"io"
	"net/http"
	"testing"

	"github.com/trove-memory/trove/internal/provider/providertest"
)

// testKey is distinctive so a leak into any error string is easy to spot.
const testKey = "rr-test-SECRET-0123456789"

// The recording server is providertest's, shared with the provider tests.
type (
	call = providertest.Call
	fake = providertest.Recorder
)

func newFake(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int)) *fake {
	t.Helper()
	return providertest.NewRecorder(t, func(w http.ResponseWriter, r *http.Request, n int, _ call) { reply(w, r, n) })
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
