package extract

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/memory"
)

func smartRow(id string, c memory.SmartCategory, text string) memory.Memory {
	return memory.Memory{ID: id, Text: text, Format: memory.FormatSmart, Category: memory.StorageCategoryFor(c),
		Metadata: map[string]any{memory.KeyMemoryCategory: string(c)}}
}

// TestApplyRules runs every decision for every category against two
// offered rows of the candidate's own category, then checks the profile
// rule against other rows.
func TestApplyRules(t *testing.T) {
	type want struct {
		kind  Kind
		match int
	}
	keep := func(d Decision) want { return want{d.Kind, d.Match} }
	create := func(Decision) want { return want{Create, -1} }
	profileMerge := func(d Decision) want { // both rows are profile rows
		if d.Kind == Merge {
			return keep(d)
		}
		return want{Merge, 0}
	}
	decisions := []Decision{
		{Kind: Create, Match: -1},
		{Kind: Skip, Match: -1},
		{Kind: Skip, Match: 1},
		{Kind: Merge, Match: 1},
		{Kind: Supersede, Match: 1},
		{Kind: Support, Match: 1, ContextLabel: "evening"},
		{Kind: Contextualize, Match: 1, ContextLabel: "night"},
		{Kind: Contradict, Match: 1, ContextLabel: "weekend"},
		{Kind: Contradict, Match: 1, ContextLabel: "general"},
		{Kind: Contradict, Match: 1},
	}
	rules := map[memory.SmartCategory]func(Decision) want{
		memory.SmartPreferences: func(d Decision) want {
			if d.Kind == Contradict && (d.ContextLabel == "" || d.ContextLabel == "general") {
				return want{Supersede, d.Match}
			}
			return keep(d)
		},
		memory.SmartEntities: func(d Decision) want {
			if d.Kind == Contradict && (d.ContextLabel == "" || d.ContextLabel == "general") {
				return want{Supersede, d.Match}
			}
			return keep(d)
		},
		memory.SmartPatterns: func(d Decision) want {
			if d.Kind == Supersede {
				return create(d)
			}
			return keep(d)
		},
		memory.SmartEvents: func(d Decision) want {
			if d.Kind == Create || d.Kind == Skip {
				return keep(d)
			}
			return create(d)
		},
		memory.SmartCases: func(d Decision) want {
			if d.Kind == Create || d.Kind == Skip {
				return keep(d)
			}
			return create(d)
		},
		memory.SmartProfile: profileMerge,
	}
	for cat, rule := range rules {
		matches := []memory.Memory{smartRow("a", cat, "first"), smartRow("b", cat, "second")}
		for _, d := range decisions {
			t.Run(fmt.Sprintf("%s/%s/%d/%s", cat, d.Kind, d.Match, d.ContextLabel), func(t *testing.T) {
				d.Reason = "model says so"
				got := ApplyRules(d, Candidate{Category: cat, Abstract: "x: y"}, matches)
				w := rule(d)
				if got.Kind != w.kind || got.Match != w.match {
					t.Fatalf("ApplyRules(%+v) = %+v, want %s %d", d, got, w.kind, w.match)
				}
				if (got.Kind != d.Kind || got.Match != d.Match) && !strings.Contains(got.Reason, "model says so (") {
					t.Fatalf("a changed decision must keep the model's reason and say why: %q", got.Reason)
				}
				if got.ContextLabel != "" && got.Kind != Support && got.Kind != Contextualize && got.Kind != Contradict {
					t.Fatalf("%s keeps context label %q", got.Kind, got.ContextLabel)
				}
			})
		}
	}
}

func TestApplyRulesProfile(t *testing.T) {
	c := Candidate{Category: memory.SmartProfile, Abstract: "Name: Ada"}
	pref := smartRow("p", memory.SmartPreferences, "Coffee: black")
	prof := smartRow("q", memory.SmartProfile, "Name: Ada Lovelace, engineer")
	legacyProfile := memory.Memory{ID: "l", Text: "My name is Ada", Category: memory.CategoryFact} // reads as profile
	tests := []struct {
		name    string
		d       Decision
		matches []memory.Memory
		want    Decision
	}{
		{"no profile row: create", Decision{Kind: Merge, Match: 0}, []memory.Memory{pref}, Decision{Kind: Create, Match: -1}},
		{"no rows: create", Decision{Kind: Create, Match: -1}, nil, Decision{Kind: Create, Match: -1}},
		{"skip becomes merge into the profile row", Decision{Kind: Skip, Match: 0}, []memory.Memory{pref, prof}, Decision{Kind: Merge, Match: 1}},
		{"create becomes merge", Decision{Kind: Create, Match: -1}, []memory.Memory{prof}, Decision{Kind: Merge, Match: 0}},
		{"legacy profile row counts", Decision{Kind: Supersede, Match: 0}, []memory.Memory{pref, legacyProfile}, Decision{Kind: Merge, Match: 1}},
		{"merge into the profile row the model chose", Decision{Kind: Merge, Match: 1}, []memory.Memory{prof, legacyProfile}, Decision{Kind: Merge, Match: 1}},
		{"merge into a non-profile row is moved", Decision{Kind: Merge, Match: 0}, []memory.Memory{pref, prof}, Decision{Kind: Merge, Match: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ApplyRules(tt.d, c, tt.matches)
			if got.Kind != tt.want.Kind || got.Match != tt.want.Match {
				t.Fatalf("ApplyRules = %+v, want %s %d", got, tt.want.Kind, tt.want.Match)
			}
		})
	}
}

func TestApplyRulesCrossCategoryAndBadMatch(t *testing.T) {
	c := Candidate{Category: memory.SmartPreferences, Abstract: "Editor: Zed"}
	entity := smartRow("e", memory.SmartEntities, "Editor setup: VS Code")
	d := ApplyRules(Decision{Kind: Supersede, Match: 0, Reason: "r"}, c, []memory.Memory{entity})
	if d.Kind != Supersede || d.Match != 0 || d.Reason != "r" {
		t.Fatalf("a match in another category is judged on content and kept: %+v", d)
	}
	d = ApplyRules(Decision{Kind: Merge, Match: 3}, c, []memory.Memory{entity})
	if d.Kind != Create || d.Match != -1 || !strings.Contains(d.Reason, "not among the 1 rows") {
		t.Fatalf("match out of range: %+v", d)
	}
	d = ApplyRules(Decision{Kind: Support, Match: -1}, c, []memory.Memory{entity})
	if d.Kind != Create || d.Match != -1 {
		t.Fatalf("support without a row: %+v", d)
	}
	d = ApplyRules(Decision{Kind: Create, Match: 0, ContextLabel: "x"}, c, []memory.Memory{entity})
	if d != (Decision{Kind: Create, Match: -1}) {
		t.Fatalf("create is tidied: %+v", d)
	}
}

func TestFactKey(t *testing.T) {
	tests := []struct {
		cat      memory.SmartCategory
		abstract string
		want     string
	}{
		{memory.SmartEntities, "Home city: Paris", "entities:home city"},
		{memory.SmartEntities, "  Home   City :Paris", "entities:home city"},
		{memory.SmartPreferences, "Preferred editor -> Zed", "preferences:preferred editor"},
		{memory.SmartPreferences, "Preferred  Editor => Zed", "preferences:preferred editor"},
		{memory.SmartPreferences, "Editor -> Zed: fast", "preferences:editor -> zed"}, // a colon wins over an arrow
		{memory.SmartPreferences, "Likes black coffee.", "preferences:likes black coffee"},
		{memory.SmartPreferences, "Really?!", "preferences:really"},
		{memory.SmartPreferences, "咖啡偏好：黑咖啡", "preferences:咖啡偏好"},
		{memory.SmartEntities, "Wohnort: München", "entities:wohnort"},
		{memory.SmartEntities, strings.Repeat("x", 130) + ": y", "entities:" + strings.Repeat("x", 130) + ": y"},
		{memory.SmartEntities, ": nothing before", "entities:: nothing before"},
		{memory.SmartEntities, "   ", ""},
		{memory.SmartEntities, "...", ""},
		{memory.SmartProfile, "Name: Ada", ProfileFactKey},
		{memory.SmartEvents, "Moved: to Berlin", ""},
		{memory.SmartCases, "CI: fixed", ""},
		{memory.SmartPatterns, "Release: steps", ""},
	}
	for _, tt := range tests {
		if got := FactKey(tt.cat, tt.abstract); got != tt.want {
			t.Errorf("FactKey(%s, %q) = %q, want %q", tt.cat, tt.abstract, got, tt.want)
		}
	}
}

func TestImportance(t *testing.T) {
	want := map[memory.SmartCategory]float64{
		memory.SmartProfile: 0.9, memory.SmartPreferences: 0.8, memory.SmartEntities: 0.7,
		memory.SmartEvents: 0.6, memory.SmartCases: 0.8, memory.SmartPatterns: 0.85,
	}
	for c, w := range want {
		if got := Importance(c); got != w {
			t.Errorf("Importance(%s) = %v, want %v", c, got, w)
		}
	}
}

func TestFromRule(t *testing.T) {
	tests := []struct {
		in   capture.Candidate
		want memory.SmartCategory
	}{
		{capture.Candidate{Text: "I prefer tea", Category: memory.CategoryPreference, Rule: "prefer"}, memory.SmartPreferences},
		{capture.Candidate{Text: "My name is Ada", Category: memory.CategoryEntity, Rule: "my-is"}, memory.SmartEntities},
		{capture.Candidate{Text: "We decided to use Go", Category: memory.CategoryDecision, Rule: "decision"}, memory.SmartEvents},
		{capture.Candidate{Text: "I am a nurse", Category: memory.CategoryFact, Rule: "remember"}, memory.SmartProfile},
		{capture.Candidate{Text: "Deploys happen on Fridays", Category: memory.CategoryFact, Rule: "remember"}, memory.SmartCases},
		{capture.Candidate{Text: "Always run tests", Category: memory.CategoryOther, Rule: "always-never"}, memory.SmartPatterns},
	}
	for _, tt := range tests {
		got := FromRule(tt.in)
		want := Candidate{Category: tt.want, Abstract: tt.in.Text, Overview: "- " + tt.in.Text, Content: tt.in.Text, Rule: tt.in.Rule}
		if got != want {
			t.Errorf("FromRule(%+v) = %+v, want %+v", tt.in, got, want)
		}
	}
}

func TestTemporal(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	h := func(n int) int64 { return now.Add(time.Duration(n) * time.Hour).UnixMilli() }
	tests := []struct {
		text  string
		typ   string
		until int64
	}{
		{"Prefers tea", memory.TemporalStatic, 0},
		{"Favorite color: blue", memory.TemporalStatic, 0},
		{"Is currently in Tokyo", memory.TemporalDynamic, 0},
		{"Recently started running", memory.TemporalDynamic, 0},
		{"Meeting with Bob tomorrow", memory.TemporalDynamic, h(24)},
		{"Dentist the day after tomorrow", memory.TemporalDynamic, h(48)},
		{"Deadline next week", memory.TemporalDynamic, h(7 * 24)},
		{"On call this week", memory.TemporalDynamic, h(3 * 24)},
		{"Moving next month", memory.TemporalDynamic, h(30 * 24)},
		{"Busy this month", memory.TemporalDynamic, h(15 * 24)},
		{"Dinner with Ana tonight", memory.TemporalDynamic, h(12)},
		{"Works from home today", memory.TemporalDynamic, h(18)},
		{"Tomorrow and next week are busy", memory.TemporalDynamic, h(24)}, // the first rule wins
		{"Collateral damage is later cleaned", memory.TemporalDynamic, 0},
		{"Collateral agreements", memory.TemporalStatic, 0},
		{"Todays are numbered", memory.TemporalStatic, 0},
		// Chinese
		{"喜欢喝绿茶", memory.TemporalStatic, 0},
		{"最近在学日语", memory.TemporalDynamic, 0},
		{"明天去上海出差", memory.TemporalDynamic, h(24)},
		{"后天有考试", memory.TemporalDynamic, h(48)},
		{"下周交报告", memory.TemporalDynamic, h(7 * 24)},
		{"这周在家办公", memory.TemporalDynamic, h(3 * 24)},
		{"下个月搬家", memory.TemporalDynamic, h(30 * 24)},
		{"这个月很忙", memory.TemporalDynamic, h(15 * 24)},
		{"今晚加班", memory.TemporalDynamic, h(12)},
		{"今天不喝咖啡", memory.TemporalDynamic, h(18)},
		// German
		{"Trinkt gern Tee", memory.TemporalStatic, 0},
		{"Ist heute im Büro", memory.TemporalDynamic, h(18)},
		{"Hat heute Abend Training", memory.TemporalDynamic, h(12)},
		{"Morgen fliegt sie nach Rom", memory.TemporalDynamic, h(24)},
		{"Fliegt morgen nach Rom", memory.TemporalDynamic, h(24)},
		{"Ist übermorgen beim Arzt", memory.TemporalDynamic, h(48)},
		{"Urlaub nächste Woche", memory.TemporalDynamic, h(7 * 24)},
		{"Diese Woche im Homeoffice", memory.TemporalDynamic, h(3 * 24)},
		{"Zieht nächsten Monat um", memory.TemporalDynamic, h(30 * 24)},
		{"Diesen Monat viel Arbeit", memory.TemporalDynamic, h(15 * 24)},
		{"Ist gerade in Berlin", memory.TemporalDynamic, 0},
		{"Arbeitet zurzeit an trove", memory.TemporalDynamic, 0},
		{"Joggt heute Morgen", memory.TemporalDynamic, h(18)}, // "heute", not tomorrow
		{"Joggt jeden Morgen", memory.TemporalStatic, 0},
		{"Trinkt am Morgen Kaffee", memory.TemporalStatic, 0},
		{"Guten Morgen sagt sie immer", memory.TemporalStatic, 0},
		{"Geht morgens laufen", memory.TemporalStatic, 0},
	}
	for _, tt := range tests {
		typ, until := Temporal(tt.text, now)
		if typ != tt.typ || until != tt.until {
			t.Errorf("Temporal(%q) = %s, %d; want %s, %d", tt.text, typ, until, tt.typ, tt.until)
		}
	}
}
