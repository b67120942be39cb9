package extracttest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/extract"
	"github.com/trove-memory/trove/internal/extract/extracttest"
	"github.com/trove-memory/trove/internal/memory"
)

// post sends a chat request with the given system prompt and schema name.
func post(t *testing.T, url, system, schema string) (*http.Response, map[string]any) {
	t.Helper()
	req := map[string]any{
		"model":    "m",
		"messages": []any{map[string]any{"role": "system", "content": system}, map[string]any{"role": "user", "content": "u"}},
	}
	if schema != "" {
		req["response_format"] = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": schema, "schema": map[string]any{}}}
	}
	b, _ := json.Marshal(req)
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestServerKindsAndCounts(t *testing.T) {
	var got []extracttest.Call
	srv := extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
		got = append(got, c) // one request at a time in this test
		return extracttest.Reply{Content: "ok", Header: map[string]string{"X-Kind": string(c.Kind)}}
	})
	resp, body := post(t, srv.URL, extract.ExtractionRequest("t", extract.PromptOptions{}).System, "")
	if resp.StatusCode != 200 || resp.Header.Get("X-Kind") != "extract" {
		t.Fatalf("status %d, X-Kind %q", resp.StatusCode, resp.Header.Get("X-Kind"))
	}
	content := body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
	if content != "ok" {
		t.Fatalf("content %v", content)
	}
	post(t, srv.URL, extract.ExtractionRequest("t", extract.PromptOptions{}).System, "")
	post(t, srv.URL, "no marker", extract.SchemaDecide) // by schema name
	post(t, srv.URL, extract.MergeRequest(memory.Memory{Text: "x"}, extract.Candidate{Abstract: "y"}).System, extract.SchemaMerge)
	post(t, srv.URL, "You summarise.", "")
	kinds := []extracttest.Kind{extracttest.Extract, extracttest.Extract, extracttest.Decide, extracttest.Merge, extracttest.Other}
	ns := []int{1, 2, 1, 1, 1}
	for i, c := range got {
		if c.Kind != kinds[i] || c.N != ns[i] {
			t.Errorf("call %d: kind %s N %d, want %s %d", i, c.Kind, c.N, kinds[i], ns[i])
		}
	}
	if got[2].ResponseFormat != "json_schema" || got[2].Schema != extract.SchemaDecide || got[0].User != "u" {
		t.Errorf("call 3: %+v", got[2])
	}
	for k, n := range map[extracttest.Kind]int{extracttest.Extract: 2, extracttest.Decide: 1, extracttest.Merge: 1, extracttest.Other: 1} {
		if srv.Calls(k) != n {
			t.Errorf("Calls(%s) = %d, want %d", k, srv.Calls(k), n)
		}
	}
	if len(srv.History()) != 5 {
		t.Errorf("History has %d calls", len(srv.History()))
	}
}

func TestServerErrorsAndRaw(t *testing.T) {
	srv := extracttest.NewServer(t, func(c extracttest.Call) extracttest.Reply {
		switch c.N {
		case 1:
			return extracttest.Reply{Status: http.StatusTooManyRequests, Content: "slow down", Header: map[string]string{"Retry-After": "1"}}
		case 2:
			return extracttest.Reply{Status: http.StatusBadGateway}
		}
		return extracttest.Reply{Raw: `{"choices": "garbage"`}
	})
	resp, body := post(t, srv.URL, "x", "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || body["error"].(map[string]any)["message"] != "slow down" {
		t.Fatalf("429 reply: %d %v", resp.StatusCode, body)
	}
	resp, body = post(t, srv.URL, "x", "")
	if resp.StatusCode != 502 || body["error"].(map[string]any)["message"] != "Bad Gateway" {
		t.Fatalf("502 reply: %d %v", resp.StatusCode, body)
	}
	resp, body = post(t, srv.URL, "x", "")
	if resp.StatusCode != 200 || body != nil {
		t.Fatalf("raw reply decoded: %v", body)
	}
}

func TestItemsReadsTheDecisionPrompt(t *testing.T) {
	paris := memory.Memory{Text: "The user lives in Paris.", Format: memory.FormatSmart, Category: memory.CategoryEntity,
		Metadata: map[string]any{memory.KeyMemoryCategory: "entities", memory.KeyL0: "Home city: Paris"}}
	tea := memory.Memory{Text: "Likes tea\nin the evening", Category: memory.CategoryPreference}
	req := extract.DecisionRequest([]extract.Item{
		{Candidate: extract.Candidate{Category: memory.SmartEntities, Abstract: "Home city: Berlin", Content: "Moved to Berlin."}, Matches: []memory.Memory{paris, tea}},
		{Candidate: extract.Candidate{Category: memory.SmartEvents, Abstract: "Trip to Rome in May", Overview: "- Rome\n- May"}},
	})
	items := extracttest.Items(req.User)
	if len(items) != 2 {
		t.Fatalf("Items = %+v", items)
	}
	a, b := items[0], items[1]
	if a.Index != 1 || a.Category != "entities" || a.Abstract != "Home city: Berlin" || !strings.Contains(a.Text, "Moved to Berlin.") {
		t.Errorf("item 1 = %+v", a)
	}
	if len(a.Stored) != 2 || !a.StoredContains(0, "Home city: Paris") || !a.StoredContains(1, "in the evening") || a.StoredContains(2, "") {
		t.Errorf("item 1 stored = %q", a.Stored)
	}
	if b.Index != 2 || b.Abstract != "Trip to Rome in May" || len(b.Stored) != 0 || !strings.Contains(b.Text, "- May") {
		t.Errorf("item 2 = %#v", b)
	}

	reply := extracttest.DecideEach(req.User, func(it extracttest.PromptItem) extracttest.Decided {
		if strings.Contains(it.Abstract, "Berlin") && it.StoredContains(0, "Paris") {
			return extracttest.Decided{Decision: extract.Supersede, Match: 1, Reason: "moved"}
		}
		return extracttest.Decided{Decision: extract.Create}
	})
	ds, err := extract.ParseDecisions(reply, []extract.Item{{Matches: []memory.Memory{paris, tea}}, {}})
	if err != nil {
		t.Fatal(err)
	}
	want := []extract.Decision{{Kind: extract.Supersede, Match: 0, Reason: "moved"}, {Kind: extract.Create, Match: -1, Reason: "scripted"}}
	if !reflect.DeepEqual(ds, want) {
		t.Fatalf("decisions = %+v, want %+v", ds, want)
	}
}

func TestReplyHelpersParse(t *testing.T) {
	c := extract.Candidate{Category: memory.SmartPreferences, Abstract: "Coffee: black", Overview: "- black", Content: "Drinks coffee black."}
	cands, rejected, err := extract.ParseExtraction(extracttest.ExtractReply(c))
	if err != nil || len(rejected) != 0 || len(cands) != 1 {
		t.Fatalf("ParseExtraction = %+v, %+v, %v", cands, rejected, err)
	}
	if c.Rule = "llm"; cands[0] != c {
		t.Fatalf("candidate = %+v, want %+v", cands[0], c)
	}
	m := extract.Merged{Abstract: "Coffee: black, no sugar", Overview: "- black\n- no sugar", Content: "Black, no sugar."}
	if got, err := extract.ParseMerge(extracttest.MergeReply(m)); err != nil || got != m {
		t.Fatalf("ParseMerge = %+v, %v", got, err)
	}
}
