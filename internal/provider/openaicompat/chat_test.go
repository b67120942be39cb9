package openaicompat

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

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
