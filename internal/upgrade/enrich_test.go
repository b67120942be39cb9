package upgrade

import (
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/memory"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		name, reply string
		wantL0      string // "" means: must be an error
		wantErr     string
	}{
		{"plain JSON", `{"l0_abstract":"User likes tea","l1_overview":"- tea","l2_content":"likes tea","resolved_category":"preferences"}`, "User likes tea", ""},
		{"fenced", "```json\n{\"l0_abstract\":\"fenced\"}\n```", "fenced", ""},
		{"leading prose", "Here you go:\n{\"l0_abstract\":\"after prose\", \"l1_overview\":\"- a\"} hope it helps", "after prose", ""},
		{"think block", "<think>{\"l0_abstract\":\"wrong\"} reasoning</think>{\"l0_abstract\":\"right\"}", "right", ""},
		{"unclosed think", "<think>still thinking {\"l0_abstract\":\"no\"", "", "no JSON"},
		{"braces in strings", `{"l0_abstract":"uses {curly} braces \"quoted\""}`, `uses {curly} braces "quoted"`, ""},
		{"prose only", "I cannot summarise this.", "", "no JSON"},
		{"truncated", `{"l0_abstract":"cut off`, "", "no JSON"},
		{"invalid JSON", `{"l0_abstract": tea}`, "", "invalid"},
		{"wrong type", `{"l0_abstract": 42}`, "", "not a string"},
		{"empty l0", `{"l0_abstract": "  "}`, "", "empty"},
		{"missing l0", `{"l1_overview":"- x"}`, "", "lacks l0_abstract"},
		{"l1 wrong type", `{"l0_abstract":"x","l1_overview":{"a":1}}`, "", "not text"},
		{"long l0 is cut to 30 words", `{"l0_abstract":"` + strings.Repeat("word ", 50) + `"}`, strings.TrimSpace(strings.Repeat("word ", 30)), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseReply(tc.reply)
			if tc.wantL0 == "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %+v, %v; want error containing %q", e, err, tc.wantErr)
				}
				return
			}
			if err != nil || e.L0 != tc.wantL0 {
				t.Fatalf("got %q, %v; want %q", e.L0, err, tc.wantL0)
			}
			if e.L1 == "" {
				t.Fatal("L1 not defaulted")
			}
		})
	}
	e, _ := ParseReply(`{"l0_abstract":"x","resolved_category":"nonsense"}`)
	if e.Category != "" {
		t.Fatalf("unknown category kept: %q", e.Category)
	}
}

func TestSmartCategory(t *testing.T) {
	tests := []struct {
		cat  memory.Category
		text string
		want memory.SmartCategory
	}{
		{memory.CategoryPreference, "likes tea", memory.SmartPreferences},
		{memory.CategoryEntity, "Atlas is our billing service", memory.SmartEntities},
		{memory.CategoryDecision, "chose Postgres", memory.SmartEvents},
		{memory.CategoryOther, "misc", memory.SmartPatterns},
		{memory.CategoryReflection, "next time, test first", memory.SmartPatterns},
		{memory.CategoryFact, "My name is Ada", memory.SmartProfile},
		{memory.CategoryFact, "I'm a night owl", memory.SmartProfile},
		{memory.CategoryFact, "I am based in Lisbon", memory.SmartProfile},
		{memory.CategoryFact, "我是一名后端工程师", memory.SmartProfile},
		{memory.CategoryFact, "我叫小明", memory.SmartProfile},
		{memory.CategoryFact, "我的生日是五月三日", memory.SmartProfile},
		{memory.CategoryFact, "The API returns HTTP 429 under load", memory.SmartCases},
		{memory.CategoryFact, "Miami is warm", memory.SmartCases}, // "i am" inside a word is not identity
		{memory.CategoryFact, "I am " + strings.Repeat("very ", 40) + "long", memory.SmartCases},
	}
	for _, tc := range tests {
		if got := smartCategory(tc.cat, tc.text); got != tc.want {
			t.Errorf("smartCategory(%s, %q) = %s, want %s", tc.cat, tc.text, got, tc.want)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	tests := map[string]string{
		"One. Two.":                    "One.",
		"Version 2.3.1 ships. Then x.": "Version 2.3.1 ships.",
		"第一句。第二句。":                     "第一句。",
		"line one\nline two":           "line one",
		strings.Repeat("a", 150):       strings.Repeat("a", 99) + "…",
	}
	for in, want := range tests {
		if got := firstSentence(in, 100); got != want {
			t.Errorf("firstSentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{`{"l0_abstract":"x"}`, "```json\n{}\n```", "<think>", `{"l0_abstract":["a"]}`, `{{{`, `"}{"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		e, err := ParseReply(reply)
		if err == nil && strings.TrimSpace(e.L0) == "" {
			t.Fatalf("accepted a reply without an L0: %q", reply)
		}
	})
}
