package extract

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/memory"
)

func checkRequest(t *testing.T, req llm.Request, marker, schema string) {
	t.Helper()
	if !strings.HasPrefix(req.System, "<!-- "+marker+" -->\n") {
		t.Errorf("system prompt does not open with the %s marker: %.60q", marker, req.System)
	}
	if !req.JSON || req.Schema == nil || req.Schema.Name != schema || req.MaxTokens <= 0 {
		t.Errorf("request: JSON %v, schema %+v, max tokens %d", req.JSON, req.Schema, req.MaxTokens)
	}
	var s map[string]any
	if req.Schema != nil {
		if err := json.Unmarshal(req.Schema.JSON, &s); err != nil || s["type"] != "object" {
			t.Errorf("schema %s: %v", req.Schema.JSON, err)
		}
	}
	if strings.TrimSpace(req.User) == "" {
		t.Error("no user message")
	}
}

func TestExtractionRequest(t *testing.T) {
	tr := Transcript([]Message{{Role: "user", Content: "I live in Berlin."}, {Role: "assistant", Content: "Nice."}}, TranscriptOptions{IncludeAssistant: true})
	req := ExtractionRequest(tr, PromptOptions{IncludeAssistant: true, User: "Ada"})
	checkRequest(t, req, PromptKindExtract, SchemaExtract)
	for _, s := range []string{"<assistant_message>", "profile", "preferences", "entities", "events", "cases", "patterns", "<topic>: <value>", "At most 5", "Secrets", "language"} {
		if !strings.Contains(req.System, s) {
			t.Errorf("system prompt lacks %q", s)
		}
	}
	if !strings.Contains(req.User, tr) || !strings.Contains(req.User, "Ada") {
		t.Errorf("user prompt lacks the transcript or the name:\n%s", req.User)
	}
	plain := ExtractionRequest(tr, PromptOptions{User: "User"})
	if strings.Contains(plain.System, "<assistant_message>") || strings.Contains(plain.User, "name: User") {
		t.Errorf("user-only prompt mentions assistant blocks or the placeholder name:\n%s\n%s", plain.System, plain.User)
	}
}

func TestDecisionRequest(t *testing.T) {
	stored := smartRow("r1", memory.SmartEntities, "The user lives in Paris.")
	stored.CreatedAt = 1735689600000 // 2025-01-01
	stored.Metadata[memory.KeyL0] = "Home city: Paris"
	stored.Metadata[memory.KeyL1] = "- Paris\n- since 2020"
	legacy := memory.Memory{ID: "r2", Text: "I prefer tea", Category: memory.CategoryPreference}
	req := DecisionRequest([]Item{
		{Candidate: Candidate{Category: memory.SmartEntities, Abstract: "Home city: Berlin", Overview: "- Moved\n- 2025", Content: "Moved to Berlin in 2025."}, Matches: []memory.Memory{stored, legacy}},
		{Candidate: Candidate{Category: memory.SmartEvents, Abstract: "Went to Rome", Content: "Went to Rome"}},
	})
	checkRequest(t, req, PromptKindDecide, SchemaDecide)
	for _, s := range []string{"supersede", "contextualize", "context_label", "general, morning, evening", "events and cases", "match_index"} {
		if !strings.Contains(req.System, s) {
			t.Errorf("system prompt lacks %q", s)
		}
	}
	want := `# Candidates

## Candidate 1 (entities)
Abstract: Home city: Berlin
Overview:
  - Moved
  - 2025
Content: Moved to Berlin in 2025.

### Stored memories similar to candidate 1
1. [entities] stored 2025-01-01
Text: The user lives in Paris.
Abstract: Home city: Paris
Overview:
  - Paris
  - since 2020
2. [preferences]
Text: I prefer tea

## Candidate 2 (events)
Abstract: Went to Rome

### Stored memories similar to candidate 2
None.
`
	if req.User != want {
		t.Fatalf("user prompt =\n%s\nwant\n%s", req.User, want)
	}
}

func TestMergeRequest(t *testing.T) {
	stored := smartRow("r1", memory.SmartPreferences, "Likes coffee")
	stored.Metadata[memory.KeyL0] = "Coffee: likes it"
	req := MergeRequest(stored, Candidate{Category: memory.SmartPreferences, Abstract: "Coffee: black, no sugar", Content: "Takes coffee black."})
	checkRequest(t, req, PromptKindMerge, SchemaMerge)
	want := "# Stored memory (preferences)\nAbstract: Coffee: likes it\nContent: Likes coffee\n\n# New information (preferences)\nAbstract: Coffee: black, no sugar\nContent: Takes coffee black.\n"
	if req.User != want {
		t.Fatalf("user prompt =\n%s\nwant\n%s", req.User, want)
	}
}
