package extract

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

func TestJSONObject(t *testing.T) {
	tests := []struct {
		name, reply, want, wantErr string
	}{
		{"plain", `{"a":1}`, `{"a":1}`, ""},
		{"fenced", "```json\n{\"a\": 1}\n```", `{"a": 1}`, ""},
		{"bare fence", "```\n{\"a\": 1}\n```", `{"a": 1}`, ""},
		{"prose around", "Sure! Here it is:\n{\"a\": {\"b\": \"}\"}}\nHope that helps.", `{"a": {"b": "}"}}`, ""},
		{"think block", "<think>The user wants {x}. {\"draft\": 1}</think>\n{\"a\": 2}", `{"a": 2}`, ""},
		{"THINK upper case", "<THINK>hm</THINK>{\"a\": 2}", `{"a": 2}`, ""},
		{"closing tag only", "reasoning here {\"draft\":0}</think>{\"a\": 3}", `{"a": 3}`, ""},
		{"unclosed think takes last object", "<think>first {\"a\": 1} then maybe {\"a\": 2}", `{"a": 2}`, ""},
		{"brace in prose", "I found {some} things: {\"a\": 4}", `{"a": 4}`, ""},
		{"first of two", `{"a":1} {"a":2}`, `{"a":1}`, ""},
		{"invalid then valid", `{"a": nope} {"a": 5}`, `{"a": 5}`, ""},
		{"raw newline repaired", "{\"a\": \"line one\nline two\"}", `{"a": "line one\nline two"}`, ""},
		{"trailing comma repaired", `{"a": [1, 2,], "b": 3,}`, `{"a": [1, 2], "b": 3}`, ""},
		{"inner quote repaired", `{"a": "she said "hi" to me"}`, `{"a": "she said \"hi\" to me"}`, ""},
		{"empty", "  \n ", "", "reply is empty"},
		{"only think", "<think>hmm</think>", "", "only reasoning"},
		{"unclosed think no answer", "<think>let me think about {", "", "only unfinished reasoning"},
		{"no object", "I cannot answer that.", "", "reply holds no JSON object"},
		{"array only", `[{"a":1}]`, `{"a":1}`, ""},
		{"truncated", `{"memories": [{"category": "profile", "abstract": "Na`, "", "cut off inside a JSON object"},
		{"truncated after complete item", `{"memories": [{"category": "x"}, {"cat`, "", "cut off"},
		{"invalid", `{"a": tru}`, "", "invalid JSON at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JSONObject(tt.reply)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("JSONObject(%q) = %s, %v; want error containing %q", tt.reply, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("JSONObject(%q): %v", tt.reply, err)
			}
			if !jsonEqual(t, got, []byte(tt.want)) {
				t.Fatalf("JSONObject(%q) = %s, want %s", tt.reply, got, tt.want)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("want %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestParseExtraction(t *testing.T) {
	reply := "<think>ok</think>```json\n" + `{"memories": [
		{"category": "entities", "abstract": "Home city:  Berlin\n", "overview": "- Moved in 2024", "content": "The user lives in Berlin since 2024.", "grounding": "real"},
		{"category": "Preference", "abstract": "Coffee: black, no sugar"},
		{"category": "feelings", "abstract": "Is happy today"},
		{"category": "events", "abstract": "Hi"},
		{"category": "profile", "abstract": "Owns a dragon named Smaug", "grounding": "constructed (in the story)"},
		{"category": "events", "abstract": "Do you remember my sister's name?"},
		{"category": "entities", "abstract": "OpenAI key: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123456789"},
		{"category": "entities", "abstract": "Home city: Berlin."},
		{"category": "preferences", "abstract": "Editor: Zed", "overview": ["Uses Zed", "- Since 2025"]},
		"not an object",
		{"category": "events", "abstract": 42},
		{"category": "cases", "abstract": "Fixed flaky CI by pinning Node 20", "content": "CI failed randomly; pinning Node 20 fixed it."},
		{"category": "patterns", "abstract": "Release: tag, build, publish notes"},
		{"category": "profile", "abstract": "Name: Ada Lovelace"},
		{"category": "events", "abstract": "Hello there, good morning!"}
	]}` + "\n```\nLet me know!"
	cands, rejected, err := ParseExtraction(reply)
	if err != nil {
		t.Fatal(err)
	}
	want := []Candidate{
		{Category: memory.SmartEntities, Abstract: "Home city: Berlin", Overview: "- Moved in 2024", Content: "The user lives in Berlin since 2024.", Rule: "llm"},
		{Category: memory.SmartPreferences, Abstract: "Coffee: black, no sugar", Overview: "- Coffee: black, no sugar", Content: "Coffee: black, no sugar", Rule: "llm"},
		{Category: memory.SmartPreferences, Abstract: "Editor: Zed", Overview: "- Uses Zed\n- Since 2025", Content: "Editor: Zed", Rule: "llm"},
		{Category: memory.SmartCases, Abstract: "Fixed flaky CI by pinning Node 20", Overview: "- Fixed flaky CI by pinning Node 20", Content: "CI failed randomly; pinning Node 20 fixed it.", Rule: "llm"},
		{Category: memory.SmartPatterns, Abstract: "Release: tag, build, publish notes", Overview: "- Release: tag, build, publish notes", Content: "Release: tag, build, publish notes", Rule: "llm"},
	}
	if !reflect.DeepEqual(cands, want) {
		t.Fatalf("candidates:\n%+v\nwant\n%+v", cands, want)
	}
	wantReasons := []string{
		`unknown category "feelings"`,
		"abstract too short",
		"hypothetical",
		"noise: a question or complaint about memory itself",
		"secret: openai_key",
		"repeats memory",
		"memory 10 is not a JSON object",
		"abstract is a number, not text",
		"over the limit of 5",
		"noise: greeting or small talk",
	}
	if len(rejected) != len(wantReasons) {
		t.Fatalf("rejected %d: %+v", len(rejected), rejected)
	}
	for i, r := range rejected {
		if !strings.Contains(r.Reason, wantReasons[i]) {
			t.Errorf("rejected[%d] = %+v, want reason containing %q", i, r, wantReasons[i])
		}
		if strings.Contains(r.Text, "sk-proj-") {
			t.Errorf("rejected[%d] shows the secret: %q", i, r.Text)
		}
	}
	if rejected[4].Text != "OpenAI key: [REDACTED:openai_key]" {
		t.Errorf("secret rejection text = %q", rejected[4].Text)
	}
}

func TestParseExtractionWholeReply(t *testing.T) {
	tests := []struct {
		name, reply, wantErr string
		n                    int
	}{
		{"empty list", `{"memories": []}`, "", 0},
		{"register and items", `{"conversation_register": "real", "memories": [{"category": "profile", "abstract": "Name: Ada"}]}`, "", 1},
		{"capitalised key", `{"Memories": [{"category": "profile", "abstract": "Name: Ada"}]}`, "", 1},
		{"no memories", `{"items": []}`, `no "memories" array`, 0},
		{"null memories", `{"memories": null}`, `no "memories" array`, 0},
		{"memories not a list", `{"memories": {"a": 1}}`, `"memories" is not an array`, 0},
		{"not JSON", "Nothing to remember here.", "no JSON object", 0},
		{"truncated", `{"memories": [{"category": "profile", "abstract": "Name`, "cut off", 0},
		{"empty reply", "", "empty", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cands, _, err := ParseExtraction(tt.reply)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(cands) != tt.n {
				t.Fatalf("ParseExtraction = %d candidates, %v; want %d", len(cands), err, tt.n)
			}
		})
	}
}

func TestAbstractNoise(t *testing.T) {
	noise := []string{"Good morning, team!", "ok thanks", "I don't remember that", "Do you remember my dog?", "你还记得我的猫吗", "Weißt du noch, wo ich wohne?", "HEARTBEAT_OK", "Query -> none", "Why do you never remember my name?"}
	for _, a := range noise {
		if abstractNoise(a) == "" {
			t.Errorf("abstractNoise(%q) = \"\", want noise", a)
		}
	}
	fine := []string{"Hiking: every Sunday", "History of the project: started 2019", "Home city: Berlin", "咖啡偏好: 黑咖啡", "Wohnort: München", "Thanksgiving plans: visit parents"}
	for _, a := range fine {
		if why := abstractNoise(a); why != "" {
			t.Errorf("abstractNoise(%q) = %q, want none", a, why)
		}
	}
}

func items(matches ...int) []Item {
	out := make([]Item, len(matches))
	for i, n := range matches {
		out[i].Candidate = Candidate{Category: memory.SmartPreferences, Abstract: "x"}
		out[i].Matches = make([]memory.Memory, n)
	}
	return out
}

func TestParseDecisions(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		items []Item
		want  []Decision
	}{
		{"every kind", `{"decisions": [
			{"index": 1, "decision": "create", "match_index": 2, "reason": "new"},
			{"index": 2, "decision": "MERGE", "match_index": 2, "reason": "adds detail"},
			{"index": 3, "decision": "skip", "match_index": 1, "reason": "same"},
			{"index": 4, "decision": "skip", "reason": "nothing new"},
			{"index": 5, "decision": "supersede", "match_index": "1", "reason": "changed"},
			{"index": 6, "decision": "support", "match_index": 1, "reason": "confirms", "context_label": " Evening "},
			{"index": 7, "decision": "contextualize", "match_index": 3, "context_label": "night"},
			{"index": 8, "decision": "contradict", "match_index": 1, "context_label": "general"}
		]}`, items(2, 2, 1, 1, 1, 1, 3, 1), []Decision{
			{Kind: Create, Match: -1, Reason: "new"},
			{Kind: Merge, Match: 1, Reason: "adds detail"},
			{Kind: Skip, Match: 0, Reason: "same"},
			{Kind: Skip, Match: -1, Reason: "nothing new"},
			{Kind: Supersede, Match: 0, Reason: "changed"},
			{Kind: Support, Match: 0, Reason: "confirms", ContextLabel: "evening"},
			{Kind: Contextualize, Match: 2, ContextLabel: "night"},
			{Kind: Contradict, Match: 0, ContextLabel: "general"},
		}},
		{"results alias, out of order, fenced", "```json\n" + `{"results": [{"index": 2, "decision": "skip", "match_index": 1}, {"index": 1, "decision": "create"}]}` + "\n```",
			items(1, 1), []Decision{{Kind: Create, Match: -1}, {Kind: Skip, Match: 0}}},
		{"single object form", `{"decision": "merge", "match_index": 1, "reason": "r"}`, items(2), []Decision{{Kind: Merge, Match: 0, Reason: "r"}}},
		{"positional without index", `{"decisions": [{"decision": "skip"}, {"decision": "create"}]}`, items(1, 1),
			[]Decision{{Kind: Skip, Match: -1}, {Kind: Create, Match: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDecisions(tt.reply, tt.items)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseDecisions =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseDecisionsBadItems(t *testing.T) {
	reply := `{"decisions": [
		{"index": 1, "decision": "merge", "match_index": 4},
		{"index": 2, "decision": "supersede"},
		{"index": 3, "decision": "forget", "match_index": 1},
		{"index": 4, "reason": "no decision"},
		{"index": 9, "decision": "skip"},
		{"index": 5, "decision": "support", "match_index": 1.5},
		{"index": 6, "decision": "merge", "match_index": 1},
		{"index": 6, "decision": "skip"},
		"junk"
	]}`
	got, err := ParseDecisions(reply, items(3, 2, 1, 1, 1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	wantReasons := []string{
		"merge for candidate 1 without a valid match_index (got 4, 3 stored rows offered)",
		"supersede for candidate 2 without a valid match_index (got none",
		`unknown decision "forget"`,
		"has no decision",
		"support for candidate 5 without a valid match_index (got 1.5",
		"", // the first answer for candidate 6 counts
		"the reply has no decision for candidate 7",
	}
	if len(got) != 7 {
		t.Fatalf("%d decisions for 7 items", len(got))
	}
	for i, d := range got {
		if i == 5 {
			if d.Kind != Merge || d.Match != 0 {
				t.Errorf("decision 6 = %+v, want the first answer (merge 0)", d)
			}
			continue
		}
		if d.Kind != Create || d.Match != -1 || !strings.Contains(d.Reason, wantReasons[i]) {
			t.Errorf("decision %d = %+v, want create -1 with reason containing %q", i+1, d, wantReasons[i])
		}
	}
}

func TestParseDecisionsWholeReply(t *testing.T) {
	if _, err := ParseDecisions("I think you should create them all.", items(1)); err == nil {
		t.Fatal("no JSON: want an error")
	}
	if _, err := ParseDecisions(`{"decisions": [{"index": 1, "deci`, items(1)); err == nil {
		t.Fatal("truncated: want an error")
	}
	got, err := ParseDecisions(`{"verdicts": []}`, items(1, 1))
	if err != nil || len(got) != 2 || got[0].Kind != Create || !strings.Contains(got[1].Reason, `no "decisions" array`) {
		t.Fatalf("ParseDecisions = %+v, %v", got, err)
	}
	got, err = ParseDecisions(`{"decision": "skip"}`, items(1, 1)) // single form is for one item only
	if err != nil || got[0].Kind != Create || got[1].Kind != Create {
		t.Fatalf("ParseDecisions = %+v, %v", got, err)
	}
	got, err = ParseDecisions(`{"decisions": "skip all"}`, items(1))
	if err != nil || got[0].Kind != Create || !strings.Contains(got[0].Reason, "not an array") {
		t.Fatalf("ParseDecisions = %+v, %v", got, err)
	}
	if got, err := ParseDecisions(`{"decisions": []}`, nil); err != nil || len(got) != 0 {
		t.Fatalf("no items: %+v, %v", got, err)
	}
}

func TestParseMerge(t *testing.T) {
	got, err := ParseMerge("Here you go:\n```json\n" + `{"abstract": "Preferred editor:\nZed", "overview": ["Uses Zed", "Keeps VS Code for notebooks"]}` + "\n```")
	if err != nil {
		t.Fatal(err)
	}
	want := Merged{Abstract: "Preferred editor: Zed", Overview: "- Uses Zed\n- Keeps VS Code for notebooks", Content: "Preferred editor: Zed"}
	if got != want {
		t.Fatalf("ParseMerge = %+v, want %+v", got, want)
	}
	bad := []struct{ reply, wantErr string }{
		{`{"overview": "x"}`, `no "abstract"`},
		{`{"abstract": "Zed"}`, "too short"},
		{`{"abstract": ["a"]}`, "abstract is a list"},
		{`{"abstract": "Database login", "content": "password: hunter2"}`, "secret: password"},
		{`not json`, "no JSON object"},
		{`{"abstract": "Editor: Zed`, "cut off"},
	}
	for _, b := range bad {
		if _, err := ParseMerge(b.reply); err == nil || !strings.Contains(err.Error(), b.wantErr) {
			t.Errorf("ParseMerge(%q) err = %v, want %q", b.reply, err, b.wantErr)
		}
	}
}
