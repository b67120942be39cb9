package memory

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	good := map[string]bool{ // scope -> built in
		"global": true, "agent:main": true, "user:alice@example.com": true, "project:atlas/api": true,
		"custom:notes-2026": true, "agent:研究员": true, "reflection:agent:main": true,
		// memory-lancedb-pro's declared names: well formed here; whether
		// they are declared is the configuration's business.
		"shared-team": false, "project-x": false, "team:x": false, "Global": false, "a.b_c:d-e": false,
	}
	for s, builtIn := range good {
		sc, err := ParseScope(s)
		if err != nil {
			t.Errorf("ParseScope(%q): %v", s, err)
			continue
		}
		if sc.BuiltIn() != builtIn {
			t.Errorf("ParseScope(%q).BuiltIn() = %v, want %v", s, sc.BuiltIn(), builtIn)
		}
	}
	bad := map[string]string{
		"":                                   "empty",
		"team x":                             "contains",
		"shared/team":                        "contains",
		strings.Repeat("x", 101):             "1 to 100 characters",
		"reflection:main":                    "reflection:agent:<id>",
		"reflection:agent:":                  "empty name",
		"agent:":                             "empty name",
		"agent:a b":                          "contains",
		"agent:x';DROP TABLE--":              "contains",
		"user:\x00":                          "contains",
		"custom:" + strings.Repeat("x", 300): "too long",
	}
	for s, want := range bad {
		_, err := ParseScope(s)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseScope(%q) = %v, want error containing %q", s, err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Memory{Text: "x", Category: CategoryFact, Scope: GlobalScope, Importance: 0.5}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(m *Memory){
		"text is empty":         func(m *Memory) { m.Text = " \n" },
		"not valid UTF-8":       func(m *Memory) { m.Text = "a\xffb" },
		"NUL byte":              func(m *Memory) { m.Text = "a\x00b" },
		"over the 32768-byte":   func(m *Memory) { m.Text = strings.Repeat("x", MaxTextBytes+1) },
		"importance NaN":        func(m *Memory) { m.Importance = math.NaN() },
		"importance +Inf":       func(m *Memory) { m.Importance = math.Inf(1) },
		"importance -0.1":       func(m *Memory) { m.Importance = -0.1 },
		"category \"secret\"":   func(m *Memory) { m.Category = "secret" },
		"space or control":      func(m *Memory) { m.ID = "a b" },
		"format 3":              func(m *Memory) { m.Format = 3 },
		"vector value 1":        func(m *Memory) { m.Vector = []float32{0, float32(math.NaN())} },
		"metadata is":           func(m *Memory) { m.Metadata = map[string]any{"big": strings.Repeat("x", MaxMetadataBytes)} },
		"cannot be encoded":     func(m *Memory) { m.Metadata = map[string]any{"f": math.Inf(1)} },
		"id is 129 bytes, over": func(m *Memory) { m.ID = strings.Repeat("i", 129) },
	}
	for want, mut := range cases {
		m := ok
		mut(&m)
		err := m.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestAccess(t *testing.T) {
	a := AgentAccess("bot", "project:x")
	if !a.Allows(GlobalScope) || !a.Allows("agent:bot") || !a.Allows("reflection:agent:bot") || !a.Allows("project:x") || a.Allows("agent:other") || a.All() {
		t.Fatalf("agent access wrong: %+v", a)
	}
	// A configured list replaces the default, keeping the own reflection scope.
	g := GrantedAccess("bot", []Scope{"project:x"})
	if g.Allows(GlobalScope) || g.Allows("agent:bot") || !g.Allows("project:x") || !g.Allows("reflection:agent:bot") {
		t.Fatalf("granted access wrong: %+v", g)
	}
	n, ignored := a.Narrow([]Scope{"agent:bot", "agent:other"})
	if !n.Allows("agent:bot") || n.Allows(GlobalScope) || len(ignored) != 1 || ignored[0] != "agent:other" {
		t.Fatalf("narrow: %+v %v", n, ignored)
	}
	if (Access{}).Allows(GlobalScope) {
		t.Fatal("zero access reaches global")
	}
	if !Owner().Allows("custom:anything") {
		t.Fatal("owner is limited")
	}
}

func TestChangeText(t *testing.T) {
	smart := Memory{Text: "old", Format: FormatSmart, Metadata: map[string]any{
		KeyL0: "old summary", KeyL1: "old overview", KeyL2: "old content", KeyTier: "core", KeyAccessCount: 4.0}}
	orig := smart.Metadata
	ChangeText(&smart, "new", []float32{1})
	if smart.Text != "new" || smart.Vector[0] != 1 || smart.Format != FormatLegacy {
		t.Fatalf("after a text change: %+v", smart)
	}
	for _, k := range []string{KeyL0, KeyL1, KeyL2} {
		if _, ok := smart.Metadata[k]; ok {
			t.Errorf("%s kept: it summarises the old text", k)
		}
	}
	if smart.Metadata[KeyTier] != "core" || smart.Metadata[KeyAccessCount] != 4.0 {
		t.Errorf("other metadata lost: %v", smart.Metadata)
	}
	if _, ok := orig[KeyL0]; !ok {
		t.Error("the caller's metadata map was changed")
	}
	same := Memory{Text: "same", Format: FormatSmart, Metadata: map[string]any{KeyL0: "s"}}
	ChangeText(&same, "same", nil)
	if same.Format != FormatSmart || same.Metadata[KeyL0] != "s" {
		t.Errorf("an unchanged text lost its enrichment: %+v", same)
	}
}
