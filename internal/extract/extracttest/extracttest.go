// Package extracttest is a scripted OpenAI-compatible chat server for
// tests of smart capture: each request is classified (extract, decide,
// merge or other, by the marker extract puts in each system prompt) and
// answered by a script, which sees the prompt it would answer.
//
//	srv := extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
//		switch c.Kind {
//		case extracttest.Extract:
//			return extracttest.Reply{Content: extracttest.ExtractReply(extract.Candidate{
//				Category: memory.SmartEntities, Abstract: "Home city: Berlin"})}
//		case extracttest.Decide:
//			return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(it extracttest.PromptItem) extracttest.Decided {
//				if strings.Contains(it.Abstract, "Berlin") && it.StoredContains(0, "Paris") {
//					return extracttest.Decided{Decision: extract.Supersede, Match: 1}
//				}
//				return extracttest.Decided{Decision: extract.Create}
//			})}
//		}
//		return extracttest.Reply{Status: 500}
//	})
//	chat, _ := openaicompat.NewChat(openaicompat.Config{BaseURL: srv.URL, Model: "test"})
//
// The script runs on the server's goroutines: report failures with
// t.Errorf, not t.Fatalf.
package extracttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/extract"
)

// Kind is what a request asks for.
type Kind string

// The kinds of request.
const (
	Extract Kind = "extract" // extract.ExtractionRequest
	Decide  Kind = "decide"  // extract.DecisionRequest
	Merge   Kind = "merge"   // extract.MergeRequest
	Other   Kind = "other"   // anything else
)

// Call is one request the server received.
type Call struct {
	Kind Kind
	// System and User are the request's system and user messages.
	System, User string
	// N numbers the calls of this Kind, from 1.
	N int
	// ResponseFormat is the response_format type asked for:
	// "json_schema", "json_object" or "".
	ResponseFormat string
	// Schema is the json_schema name, when one was sent.
	Schema string
	Body   []byte // the raw request body
}

// Reply is how the server answers a call.
type Reply struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Content is the assistant's text, sent in a chat.completion body.
	// With an error Status and no Raw it is the error's message instead.
	Content string
	// Raw, when set, is sent as the whole body instead (garbage, a
	// truncated body, an error in a vendor's own shape).
	Raw string
	// Delay holds the answer back (or until the client gives up).
	Delay time.Duration
	// Header is added to the response (Retry-After, ...).
	Header map[string]string
}

// Server is the fake. It is closed when the test ends.
type Server struct {
	URL string

	srv    *httptest.Server
	mu     sync.Mutex
	counts map[Kind]int
	calls  []Call
}

// NewServer starts a server answering every request with script.
func NewServer(t testing.TB, script func(call Call) Reply) *Server {
	t.Helper()
	s := &Server{counts: map[Kind]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c, err := parseCall(body)
		if err != nil {
			t.Errorf("extracttest: request to %s is not a chat request: %v\n%s", r.URL.Path, err, body)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.counts[c.Kind]++
		c.N = s.counts[c.Kind]
		s.calls = append(s.calls, c)
		s.mu.Unlock()

		rep := script(c)
		if rep.Delay > 0 {
			select {
			case <-time.After(rep.Delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range rep.Header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		status := rep.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		switch {
		case rep.Raw != "":
			io.WriteString(w, rep.Raw)
		case status != http.StatusOK:
			msg := rep.Content
			if msg == "" {
				msg = http.StatusText(status)
			}
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "test_error"}})
		default:
			json.NewEncoder(w).Encode(completion(rep.Content))
		}
	}))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Calls counts the requests of kind so far.
func (s *Server) Calls(kind Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

// History returns every request so far, in order.
func (s *Server) History() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Close stops the server. It is safe to call more than once.
func (s *Server) Close() { s.srv.Close() }

func parseCall(body []byte) (Call, error) {
	var req struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		ResponseFormat *struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name string `json:"name"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return Call{}, err
	}
	c := Call{Body: body, Kind: Other}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			if c.System == "" {
				c.System = m.Content
			}
		case "user":
			c.User = m.Content
		}
	}
	if rf := req.ResponseFormat; rf != nil {
		c.ResponseFormat = rf.Type
		if rf.JSONSchema != nil {
			c.Schema = rf.JSONSchema.Name
		}
	}
	switch {
	case strings.Contains(c.System, extract.PromptKindExtract) || c.Schema == extract.SchemaExtract:
		c.Kind = Extract
	case strings.Contains(c.System, extract.PromptKindDecide) || c.Schema == extract.SchemaDecide:
		c.Kind = Decide
	case strings.Contains(c.System, extract.PromptKindMerge) || c.Schema == extract.SchemaMerge:
		c.Kind = Merge
	}
	return c, nil
}

func completion(content string) map[string]any {
	return map[string]any{
		"id":      "chatcmpl-extracttest",
		"object":  "chat.completion",
		"created": 1700000000,
		"model":   "extracttest",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content},
			"finish_reason": "stop",
		}},
		"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
	}
}

// ExtractReply is an extraction reply holding memories (grounding real).
// A memory's empty Overview or Content is left out of the reply.
func ExtractReply(memories ...extract.Candidate) string {
	items := make([]map[string]any, 0, len(memories))
	for _, m := range memories {
		item := map[string]any{"category": string(m.Category), "abstract": m.Abstract, "grounding": "real"}
		if m.Overview != "" {
			item["overview"] = m.Overview
		}
		if m.Content != "" {
			item["content"] = m.Content
		}
		items = append(items, item)
	}
	return mustJSON(map[string]any{"memories": items})
}

// Decided is one decision of a decision reply, as the model writes it.
type Decided struct {
	// Index is the candidate's number (1-based); DecideEach sets it.
	Index    int
	Decision extract.Kind
	// Match is the stored row's number in the candidate's list (1-based);
	// 0 leaves match_index out.
	Match        int
	Reason       string
	ContextLabel string
}

// DecideReply is a decision reply holding ds.
func DecideReply(ds ...Decided) string {
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		e := map[string]any{"index": d.Index, "decision": string(d.Decision), "reason": d.Reason}
		if e["reason"] == "" {
			e["reason"] = "scripted"
		}
		if d.Match != 0 {
			e["match_index"] = d.Match
		}
		if d.ContextLabel != "" {
			e["context_label"] = d.ContextLabel
		}
		out = append(out, e)
	}
	return mustJSON(map[string]any{"decisions": out})
}

// MergeReply is a merge reply holding m.
func MergeReply(m extract.Merged) string {
	return mustJSON(map[string]any{"abstract": m.Abstract, "overview": m.Overview, "content": m.Content})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// PromptItem is one candidate of a decision prompt, read back from the
// prompt's text, so a script can decide from what it was shown.
type PromptItem struct {
	Index    int    // the candidate's number, 1-based
	Category string // the candidate's category
	Abstract string // the candidate's abstract
	Text     string // the candidate's whole block (abstract, overview, content)
	// Stored holds the text shown for each stored row, in order: row i+1
	// of match_index is Stored[i].
	Stored []string
}

// StoredContains reports whether stored row i (0-based) exists and its
// text contains s.
func (it PromptItem) StoredContains(i int, s string) bool {
	return i >= 0 && i < len(it.Stored) && strings.Contains(it.Stored[i], s)
}

var (
	candidateHead = regexp.MustCompile(`^## Candidate (\d+) \(([^)]*)\)$`)
	storedHead    = regexp.MustCompile(`^### Stored memories similar to candidate \d+$`)
	storedRow     = regexp.MustCompile(`^(\d+)\. \[`)
)

// Items reads the candidates of a decision prompt's user message
// (extract.DecisionRequest).
func Items(user string) []PromptItem {
	var items []PromptItem
	var cur *PromptItem
	inStored := false
	var text, row strings.Builder
	flushRow := func() {
		if r := strings.TrimSpace(row.String()); cur != nil && r != "" {
			cur.Stored = append(cur.Stored, r)
		}
		row.Reset()
	}
	flush := func() {
		if cur == nil {
			return
		}
		flushRow()
		cur.Text = strings.TrimSpace(text.String())
		items = append(items, *cur)
		text.Reset()
	}
	for _, line := range strings.Split(user, "\n") {
		if m := candidateHead.FindStringSubmatch(line); m != nil {
			flush()
			n, _ := strconv.Atoi(m[1])
			cur = &PromptItem{Index: n, Category: m[2]}
			inStored = false
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case storedHead.MatchString(line):
			inStored = true
		case inStored && storedRow.MatchString(line):
			flushRow()
			row.WriteString(line + "\n")
		case inStored:
			if line != "None." {
				row.WriteString(line + "\n")
			}
		default:
			if a, ok := strings.CutPrefix(line, "Abstract: "); ok && cur.Abstract == "" {
				cur.Abstract = a
			}
			text.WriteString(line + "\n")
		}
	}
	flush()
	return items
}

// DecideEach is a decision reply for the prompt user (a decide Call's
// User): f decides each candidate, and its Index is set for it.
func DecideEach(user string, f func(PromptItem) Decided) string {
	var ds []Decided
	for _, it := range Items(user) {
		d := f(it)
		d.Index = it.Index
		ds = append(ds, d)
	}
	return DecideReply(ds...)
}
