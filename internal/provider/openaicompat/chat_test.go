package openaicompat

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/llm"
)

func chatRequestForTest() llm.Request {
	return llm.Request{System: "You enrich memories.", User: "likes tea", JSON: true, MaxTokens: 100, Temperature: 0.2}
}

func TestChatRequestShape(t *testing.T) {
	f := newFake(t, chatOK(`{"l0":"Likes tea."}`))
	ch, _ := newTestChat(t, testConfig(f))
	got, err := ch.Complete(context.Background(), chatRequestForTest())
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"l0":"Likes tea."}` {
		t.Fatalf("Complete = %q", got)
	}
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d requests", len(calls))
	}
	c := calls[0]
	if c.Method != http.MethodPost || c.Path != "/v1/chat/completions" {
		t.Fatalf("%s %s, want POST /v1/chat/completions", c.Method, c.Path)
	}
	if got := c.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Fatalf("Authorization %q", got)
	}
	if got := c.Header.Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q", got)
	}
	want := map[string]any{
		"model": "test-model",
		"messages": []any{
			map[string]any{"role": "system", "content": "You enrich memories."},
			map[string]any{"role": "user", "content": "likes tea"},
		},
		"temperature":     0.2,
		"max_tokens":      float64(100),
		"response_format": map[string]any{"type": "json_object"},
	}
	if body := c.JSON(t); !reflect.DeepEqual(body, want) {
		t.Fatalf("body = %v\nwant   %v", body, want)
	}
}

func TestChatPlainRequestShape(t *testing.T) {
	f := newFake(t, chatOK("hello"))
	ch, _ := newTestChat(t, testConfig(f))
	if _, err := ch.Complete(context.Background(), llm.Request{User: "hi"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"model":       "test-model",
		"messages":    []any{map[string]any{"role": "user", "content": "hi"}},
		"temperature": float64(0), // 0 is sent: it is a choice, not "unset"
	}
	if body := f.Calls()[0].JSON(t); !reflect.DeepEqual(body, want) {
		t.Fatalf("body = %v\nwant   %v", body, want)
	}
}

func TestChatBadReplies(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"empty choices", `{"choices":[]}`, "openai chat: reply has no choices"},
		{"no choices", `{"id":"x"}`, "openai chat: reply has no choices"},
		{"empty content", `{"choices":[{"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}`,
			`openai chat: reply is empty (finish_reason "stop")`},
		{"null content", `{"choices":[{"message":{"role":"assistant","content":null}}]}`, "openai chat: reply is empty"},
		{"token limit", `{"choices":[{"message":{"content":""},"finish_reason":"length"}]}`, "raise MaxTokens"},
		{"refusal", `{"choices":[{"message":{"content":null,"refusal":"I can't help with that."}}]}`,
			"openai chat: the model refused: I can't help with that."},
		{"not JSON", `data: {"choices":[]}`, "openai chat: reply is not valid JSON"},
		{"wrong shape", `{"choices":{"0":{}}}`, "openai chat: reply has an unexpected shape"},
		{"error with status 200", `{"error":{"message":"context length exceeded"}}`, "openai chat: reply is an error: context length exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
				writeRaw(w, http.StatusOK, tt.body)
			})
			ch, _ := newTestChat(t, testConfig(f))
			got, err := ch.Complete(context.Background(), llm.Request{User: "hi"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Complete = %q, %v; want error containing %q", got, err, tt.wantErr)
			}
			if n := len(f.Calls()); n != 1 {
				t.Fatalf("%d requests; a bad reply must not be retried", n)
			}
		})
	}
}

func TestChatEmptyUserMessage(t *testing.T) {
	f := newFake(t, chatOK("x"))
	ch, _ := newTestChat(t, testConfig(f))
	if _, err := ch.Complete(context.Background(), llm.Request{System: "s"}); err == nil || !strings.Contains(err.Error(), "no user message") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("%d requests for an invalid request", n)
	}
}

func TestChatRetriesThenSucceeds(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			writeRaw(w, http.StatusTooManyRequests, `{"error":{"message":"slow down"}}`)
			return
		}
		chatOK("done")(w, r, n, c)
	})
	ch, s := newTestChat(t, testConfig(f))
	got, err := ch.Complete(context.Background(), llm.Request{User: "hi"})
	if err != nil || got != "done" {
		t.Fatalf("Complete = %q, %v", got, err)
	}
	if d := s.got(); len(d) != 1 || d[0].Seconds() != 2 {
		t.Fatalf("slept %v, want [2s]", d)
	}
}

func TestChatErrorMentionsChat(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		writeRaw(w, http.StatusBadRequest, `{"error":{"message":"response_format json_object is not supported"}}`)
	})
	cfg := testConfig(f)
	cfg.Provider = "groq"
	ch, _ := newTestChat(t, cfg)
	_, err := ch.Complete(context.Background(), chatRequestForTest())
	want := "groq chat: HTTP 400: response_format json_object is not supported (check the model name and options such as max tokens or JSON mode)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

var testSchema = &llm.Schema{Name: "trove_test", JSON: json.RawMessage(`{"type":"object","properties":{"l0":{"type":"string"}},"required":["l0"]}`)}

// responseFormatOf returns the response_format a request asked for.
func responseFormatOf(t *testing.T, c call) map[string]any {
	t.Helper()
	rf, _ := c.JSON(t)["response_format"].(map[string]any)
	return rf
}

func TestChatSchemaRequestShape(t *testing.T) {
	f := newFake(t, chatOK(`{"l0":"x"}`))
	ch, _ := newTestChat(t, testConfig(f))
	req := chatRequestForTest()
	req.JSON = false // a schema implies JSON
	req.Schema = testSchema
	if _, err := ch.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "json_schema",
		"json_schema": map[string]any{
			"name":   "trove_test",
			"strict": false,
			"schema": map[string]any{
				"type":       "object",
				"properties": map[string]any{"l0": map[string]any{"type": "string"}},
				"required":   []any{"l0"},
			},
		},
	}
	if got := responseFormatOf(t, f.Calls()[0]); !reflect.DeepEqual(got, want) {
		t.Fatalf("response_format = %v\nwant %v", got, want)
	}
}

// schemaRefusingServer refuses json_schema the way the given status and
// message say, and answers json_object requests.
func schemaRefusingServer(t *testing.T, status int, msg string) *fake {
	return newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		rf, _ := c.JSON(t)["response_format"].(map[string]any)
		if rf["type"] == "json_schema" {
			writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg}})
			return
		}
		chatOK(`{"l0":"ok"}`)(w, r, n, c)
	})
}

func TestChatSchemaFallsBackToJSONObject(t *testing.T) {
	tests := []struct {
		name   string
		status int
		msg    string
	}{
		{"400 response_format", http.StatusBadRequest, "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."},
		{"400 json_schema", http.StatusBadRequest, "unknown field json_schema"},
		{"422", http.StatusUnprocessableEntity, "Unprocessable Entity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := schemaRefusingServer(t, tt.status, tt.msg)
			ch, s := newTestChat(t, testConfig(f))
			req := llm.Request{User: "hi", Schema: testSchema}
			got, err := ch.Complete(context.Background(), req)
			if err != nil || got != `{"l0":"ok"}` {
				t.Fatalf("Complete = %q, %v", got, err)
			}
			calls := f.Calls()
			if len(calls) != 2 {
				t.Fatalf("%d requests, want 2 (json_schema, then json_object)", len(calls))
			}
			if rf := responseFormatOf(t, calls[1]); !reflect.DeepEqual(rf, map[string]any{"type": "json_object"}) {
				t.Fatalf("fallback response_format = %v", rf)
			}
			if len(s.got()) != 0 {
				t.Fatalf("slept %v: a refused schema is not a failure to back off from", s.got())
			}
			// Remembered: the next request asks for json_object at once.
			if _, err := ch.Complete(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			calls = f.Calls()
			if len(calls) != 3 {
				t.Fatalf("%d requests after the second Complete, want 3", len(calls))
			}
			if rf := responseFormatOf(t, calls[2]); rf["type"] != "json_object" {
				t.Fatalf("second Complete asked for %v; the refusal was not remembered", rf)
			}
		})
	}
}

func TestChatOtherBadRequestIsNotASchemaRefusal(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		writeRaw(w, http.StatusBadRequest, `{"error":{"message":"max_tokens is too large"}}`)
	})
	ch, _ := newTestChat(t, testConfig(f))
	_, err := ch.Complete(context.Background(), llm.Request{User: "hi", Schema: testSchema})
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: max_tokens is too large") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.Calls()); n != 1 {
		t.Fatalf("%d requests; a 400 that is not about the schema must not be retried", n)
	}
	if ch.noSchema.Load() {
		t.Fatal("schema support was given up over an unrelated 400")
	}
}

func TestChatSchemaRefusalNotRememberedWhenFallbackFailsToo(t *testing.T) {
	// A 422 for every request: json_object is refused as well, so the
	// schema was not the problem and must not be given up for good.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		writeRaw(w, http.StatusUnprocessableEntity, `{"error":{"message":"model not loaded"}}`)
	})
	ch, _ := newTestChat(t, testConfig(f))
	_, err := ch.Complete(context.Background(), llm.Request{User: "hi", Schema: testSchema})
	if err == nil || !strings.Contains(err.Error(), "HTTP 422: model not loaded") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.Calls()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	if ch.noSchema.Load() {
		t.Fatal("schema support given up although json_object failed the same way")
	}
}

func TestChatJSONWithoutSchemaUnchanged(t *testing.T) {
	// A refusal remembered for schemas leaves plain JSON requests alone.
	f := newFake(t, chatOK(`{}`))
	ch, _ := newTestChat(t, testConfig(f))
	ch.noSchema.Store(true)
	if _, err := ch.Complete(context.Background(), llm.Request{User: "hi", JSON: true}); err != nil {
		t.Fatal(err)
	}
	if rf := responseFormatOf(t, f.Calls()[0]); !reflect.DeepEqual(rf, map[string]any{"type": "json_object"}) {
		t.Fatalf("response_format = %v", rf)
	}
}

func TestChatServerErrorsAreRetried(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		if n <= 2 {
			writeRaw(w, http.StatusServiceUnavailable, `{"error":{"message":"overloaded"}}`)
			return
		}
		chatOK("done")(w, r, n, c)
	})
	ch, s := newTestChat(t, testConfig(f))
	got, err := ch.Complete(context.Background(), llm.Request{User: "hi", Schema: testSchema})
	if err != nil || got != "done" {
		t.Fatalf("Complete = %q, %v", got, err)
	}
	if n := len(f.Calls()); n != 3 || len(s.got()) != 2 {
		t.Fatalf("%d requests, %d sleeps; want 3 and 2", n, len(s.got()))
	}
	if ch.noSchema.Load() {
		t.Fatal("a 503 was taken for a schema refusal")
	}
}

func TestChatTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, c call) {
		if n == 1 {
			select { // hang until the client gives up on this attempt
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		chatOK("late but fine")(w, r, n, c)
	})
	defer close(release)
	cfg := testConfig(f)
	cfg.Timeout = 50 * time.Millisecond
	ch, s := newTestChat(t, cfg)
	got, err := ch.Complete(context.Background(), llm.Request{User: "hi"})
	if err != nil || got != "late but fine" {
		t.Fatalf("Complete = %q, %v", got, err)
	}
	if n := len(f.Calls()); n != 2 || len(s.got()) != 1 {
		t.Fatalf("%d requests, %d sleeps; want 2 and 1", n, len(s.got()))
	}
}
