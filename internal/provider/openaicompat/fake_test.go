package openaicompat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/provider/providertest"
)

// testKey is distinctive so a leak into any error string is easy to spot.
const testKey = "sk-test-SECRET-0123456789"

// The recording server is providertest's, shared with the vendor and
// rerank tests.
type (
	call = providertest.Call
	fake = providertest.Recorder
)

func newFake(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int, c call)) *fake {
	t.Helper()
	return providertest.NewRecorder(t, reply)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// vectorFor is the fake model: a deterministic vector for a text, so tests
// can tell which input a returned vector belongs to.
func vectorFor(text string, dims int) []float32 {
	v := make([]float32, dims)
	v[0] = float32(len(text) + 1)
	for i := 1; i < dims; i++ {
		v[i] = 1
	}
	return v
}

// embeddingsOK answers an embeddings request the way OpenAI does.
func embeddingsOK(dims int) func(http.ResponseWriter, *http.Request, int, call) {
	return func(w http.ResponseWriter, r *http.Request, n int, c call) {
		var req struct {
			Input []string `json:"input"`
		}
		json.Unmarshal(c.Body, &req)
		data := make([]map[string]any, len(req.Input))
		for i, text := range req.Input {
			data[i] = map[string]any{"object": "embedding", "index": i, "embedding": vectorFor(text, dims)}
		}
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": "m"})
	}
}

func chatOK(content string) func(http.ResponseWriter, *http.Request, int, call) {
	return func(w http.ResponseWriter, r *http.Request, n int, c call) {
		writeJSON(w, http.StatusOK, map[string]any{
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": content},
				"finish_reason": "stop",
			}},
		})
	}
}

// sleeps records the backoff delays a client asked for instead of
// waiting them out.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

func testConfig(f *fake) Config {
	return Config{BaseURL: f.URL + "/v1", APIKey: testKey, Model: "test-model"}
}

// newTestEmbedder returns an Embedder for cfg whose backoff sleeps are
// recorded, not slept.
func newTestEmbedder(t *testing.T, cfg Config) (*Embedder, *sleeps) {
	t.Helper()
	e, err := NewEmbedder(cfg)
	if err != nil {
		t.Fatalf("NewEmbedder: %v", err)
	}
	s := &sleeps{}
	e.c.sleep = s.sleep
	return e, s
}

func newTestChat(t *testing.T, cfg Config) (*Chat, *sleeps) {
	t.Helper()
	ch, err := NewChat(cfg)
	if err != nil {
		t.Fatalf("NewChat: %v", err)
	}
	s := &sleeps{}
	ch.c.sleep = s.sleep
	return ch, s
}
