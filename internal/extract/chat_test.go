package extract_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/extract/extracttest"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/provider/openaicompat"
)

// These tests run the prompts and readers through the real chat client
// against the scripted server, as the capture pipeline does.

func newChat(t *testing.T, srv *extracttest.Server) *openaicompat.Chat {
	t.Helper()
	ch, err := openaicompat.NewChat(openaicompat.Config{
		BaseURL: srv.URL + "/v1", Model: "test", Timeout: 2 * time.Second,
		BackoffBase: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func stored(id string, c memory.SmartCategory, l0 string) memory.Memory {
	return memory.Memory{ID: id, Text: l0, Format: memory.FormatSmart, Category: memory.StorageCategoryFor(c),
		Metadata: map[string]any{memory.KeyMemoryCategory: string(c), memory.KeyL0: l0}}
}

func TestCaptureRoundTrip(t *testing.T) {
	ctx := context.Background()
	msgs := []extract.Message{
		{Role: "user", Content: "<relevant-memories>\n- [entity] Home city: Paris\n</relevant-memories>\nI moved to Berlin last month. Also, I take my coffee black."},
		{Role: "assistant", Content: "Congratulations on the move!"},
	}
	srv := extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
		switch c.Kind {
		case extracttest.Extract:
			if strings.Contains(c.User, "Home city: Paris") || strings.Contains(c.User, "Congratulations") {
				t.Errorf("extraction prompt shows injected memories or the assistant:\n%s", c.User)
			}
			if !strings.Contains(c.User, "<user_message>\nI moved to Berlin") {
				t.Errorf("extraction prompt lacks the user's message:\n%s", c.User)
			}
			return extracttest.Reply{Content: "<think>two facts</think>\n```json\n" + extracttest.ExtractReply(
				extract.Candidate{Category: memory.SmartEntities, Abstract: "Home city: Berlin", Content: "Moved to Berlin last month."},
				extract.Candidate{Category: memory.SmartPreferences, Abstract: "Coffee: black"},
			) + "\n```"}
		case extracttest.Decide:
			return extracttest.Reply{Content: extracttest.DecideEach(c.User, func(it extracttest.PromptItem) extracttest.Decided {
				switch {
				case strings.Contains(it.Abstract, "Berlin") && it.StoredContains(0, "Home city: Paris"):
					return extracttest.Decided{Decision: extract.Supersede, Match: 1, Reason: "moved"}
				case strings.Contains(it.Abstract, "Coffee") && it.StoredContains(0, "Coffee"):
					return extracttest.Decided{Decision: extract.Merge, Match: 1, Reason: "adds detail"}
				}
				return extracttest.Decided{Decision: extract.Create}
			})}
		case extracttest.Merge:
			if !strings.Contains(c.User, "Coffee: likes it") || !strings.Contains(c.User, "Coffee: black") {
				t.Errorf("merge prompt lacks a side:\n%s", c.User)
			}
			return extracttest.Reply{Content: extracttest.MergeReply(extract.Merged{Abstract: "Coffee: black, likes it", Overview: "- black", Content: "Likes coffee, black."})}
		}
		t.Errorf("unexpected %s call", c.Kind)
		return extracttest.Reply{Status: 500}
	})
	chat := newChat(t, srv)

	if n := extract.UserMessages(msgs); n != 1 {
		t.Fatalf("UserMessages = %d", n)
	}
	reply, err := chat.Complete(ctx, extract.ExtractionRequest(extract.Transcript(msgs, extract.TranscriptOptions{}), extract.PromptOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	cands, rejected, err := extract.ParseExtraction(reply)
	if err != nil || len(cands) != 2 || len(rejected) != 0 {
		t.Fatalf("ParseExtraction = %+v, %+v, %v", cands, rejected, err)
	}

	items := []extract.Item{
		{Candidate: cands[0], Matches: []memory.Memory{stored("paris", memory.SmartEntities, "Home city: Paris")}},
		{Candidate: cands[1], Matches: []memory.Memory{stored("tea", memory.SmartPreferences, "Coffee: likes it")}},
	}
	reply, err = chat.Complete(ctx, extract.DecisionRequest(items))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := extract.ParseDecisions(reply, items)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ds {
		ds[i] = extract.ApplyRules(ds[i], items[i].Candidate, items[i].Matches)
	}
	if ds[0].Kind != extract.Supersede || ds[0].Match != 0 || ds[1].Kind != extract.Merge || ds[1].Match != 0 {
		t.Fatalf("decisions = %+v", ds)
	}
	if key := extract.FactKey(cands[0].Category, cands[0].Abstract); key != "entities:home city" {
		t.Fatalf("FactKey = %q", key)
	}

	reply, err = chat.Complete(ctx, extract.MergeRequest(items[1].Matches[0], cands[1]))
	if err != nil {
		t.Fatal(err)
	}
	m, err := extract.ParseMerge(reply)
	if err != nil || m.Abstract != "Coffee: black, likes it" {
		t.Fatalf("ParseMerge = %+v, %v", m, err)
	}
	for k, n := range map[extracttest.Kind]int{extracttest.Extract: 1, extracttest.Decide: 1, extracttest.Merge: 1} {
		if got := srv.Calls(k); got != n {
			t.Errorf("%s calls = %d, want %d", k, got, n)
		}
	}
	for _, c := range srv.History() {
		if c.ResponseFormat != "json_schema" {
			t.Errorf("%s call asked for %q, want json_schema", c.Kind, c.ResponseFormat)
		}
	}
}

func TestCaptureSchemaRefused(t *testing.T) {
	// A server without json_schema: the chat client falls back to
	// json_object, and the prompt's marker still names the call.
	srv := extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
		if c.ResponseFormat == "json_schema" {
			return extracttest.Reply{Status: http.StatusBadRequest, Content: "response_format json_schema is not supported"}
		}
		return extracttest.Reply{Content: `{"memories": []}`}
	})
	chat := newChat(t, srv)
	req := extract.ExtractionRequest("<user_message>\nhi\n</user_message>", extract.PromptOptions{})
	for range 2 {
		reply, err := chat.Complete(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if cands, _, err := extract.ParseExtraction(reply); err != nil || len(cands) != 0 {
			t.Fatalf("ParseExtraction = %v, %v", cands, err)
		}
	}
	h := srv.History()
	if len(h) != 3 || h[0].ResponseFormat != "json_schema" || h[1].ResponseFormat != "json_object" || h[2].ResponseFormat != "json_object" {
		t.Fatalf("formats: %+v", h)
	}
	if srv.Calls(extracttest.Extract) != 3 {
		t.Fatalf("extract calls = %d", srv.Calls(extracttest.Extract))
	}
}

func TestCaptureBadReplies(t *testing.T) {
	ctx := context.Background()
	srv := extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
		switch c.Kind {
		case extracttest.Extract:
			switch c.N {
			case 1:
				return extracttest.Reply{Status: http.StatusServiceUnavailable} // retried by the client
			case 2:
				return extracttest.Reply{Content: "I found nothing worth keeping."}
			}
			return extracttest.Reply{Content: `{"memories": [{"category": "profile", "abstract": "Name: Ad`}
		case extracttest.Decide:
			return extracttest.Reply{Content: `{"decisions": [{"index": 1, "decision": "supersede", "match_index": 7}]}`}
		}
		return extracttest.Reply{Raw: "<html>gateway error</html>"}
	})
	chat := newChat(t, srv)
	req := extract.ExtractionRequest("<user_message>\nx\n</user_message>", extract.PromptOptions{})

	reply, err := chat.Complete(ctx, req)
	if err != nil {
		t.Fatalf("a 503 then a reply: %v", err)
	}
	if _, _, err := extract.ParseExtraction(reply); err == nil || !strings.Contains(err.Error(), "no JSON object") {
		t.Fatalf("prose reply: err = %v", err)
	}
	reply, err = chat.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := extract.ParseExtraction(reply); err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("truncated reply: err = %v", err)
	}

	items := []extract.Item{{Candidate: extract.Candidate{Category: memory.SmartPreferences, Abstract: "Editor: Zed"}, Matches: []memory.Memory{stored("a", memory.SmartPreferences, "Editor: VS Code")}}}
	reply, err = chat.Complete(ctx, extract.DecisionRequest(items))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := extract.ParseDecisions(reply, items)
	if err != nil || ds[0].Kind != extract.Create || ds[0].Match != -1 || !strings.Contains(ds[0].Reason, "match_index") {
		t.Fatalf("ParseDecisions = %+v, %v", ds, err)
	}

	if _, err := chat.Complete(ctx, extract.MergeRequest(items[0].Matches[0], items[0].Candidate)); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("garbage body: err = %v", err)
	}
}

func TestCaptureSlowServer(t *testing.T) {
	srv := extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
		if c.N == 1 {
			return extracttest.Reply{Delay: time.Minute, Content: `{"memories": []}`} // never sent: the client gives up
		}
		return extracttest.Reply{Delay: 10 * time.Millisecond, Content: `{"memories": []}`}
	})
	ch, err := openaicompat.NewChat(openaicompat.Config{BaseURL: srv.URL, Model: "m", Timeout: 100 * time.Millisecond,
		BackoffBase: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := ch.Complete(context.Background(), extract.ExtractionRequest("<user_message>\nx\n</user_message>", extract.PromptOptions{}))
	if err != nil || reply != `{"memories": []}` {
		t.Fatalf("Complete = %q, %v; want the retry's reply", reply, err)
	}
	if n := srv.Calls(extracttest.Extract); n != 2 {
		t.Fatalf("%d extract calls, want 2 (a timed-out attempt and its retry)", n)
	}
}
