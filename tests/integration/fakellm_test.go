package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLLM is an OpenAI-compatible chat endpoint answering after a delay
// with an enrichment built from the memory text. hook, if set, runs before
// the answer (for a row whose id... text contains a marker).
type fakeLLM struct {
	*httptest.Server
	delay time.Duration
	calls atomic.Int64
	mu    sync.Mutex
	hooks map[string]func() // by a marker the memory text contains
	texts map[string]int    // calls by memory text
}

func newFakeLLM(t testing.TB, delay time.Duration) *fakeLLM {
	f := &fakeLLM{delay: delay, hooks: map[string]func(){}, texts: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// onText runs fn (once) when a request for a memory containing marker arrives.
func (f *fakeLLM) onText(marker string, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var once sync.Once
	f.hooks[marker] = func() { once.Do(fn) }
}

func (f *fakeLLM) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	var req struct {
		Messages []struct{ Role, Content string }
	}
	if r.URL.Path != "/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	user := req.Messages[len(req.Messages)-1].Content
	text := user[strings.Index(user, "Memory:\n")+len("Memory:\n"):]
	f.mu.Lock()
	f.texts[text]++
	var hooks []func()
	for marker, fn := range f.hooks {
		if strings.Contains(text, marker) {
			hooks = append(hooks, fn)
		}
	}
	f.mu.Unlock()
	for _, fn := range hooks {
		fn()
	}
	time.Sleep(f.delay)
	content, _ := json.Marshal(map[string]string{
		"l0_abstract": "About: " + text, "l1_overview": "- " + text, "l2_content": text, "resolved_category": "cases",
	})
	fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":%q}}]}`, content)
}

// callsByText returns how many calls each memory text has had.
func (f *fakeLLM) callsByText() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.texts)
}

func (f *fakeLLM) env() []string {
	return []string{"TROVE_LLM_BASE_URL=" + f.URL, "TROVE_LLM_MODEL=fake", "TROVE_LLM_API_KEY=test-key"}
}
