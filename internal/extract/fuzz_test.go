package extract

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/redact"
)

var replySeeds = []string{
	`{"memories": [{"category": "entities", "abstract": "Home city: Berlin", "overview": "- x", "content": "y"}]}`,
	"<think>hmm {\"a\"</think>```json\n{\"memories\": [{\"category\": \"preference\", \"abstract\": \"Tea: green\"}]}\n```",
	`{"memories": [{"category": "profile", "abstract": "password: hunter2", "grounding": "constructed"}]}`,
	`{"decisions": [{"index": 1, "decision": "merge", "match_index": 1}, {"index": 2, "decision": "supersede", "match_index": 9}]}`,
	`{"results": [{"decision": "skip"}]}`,
	`{"decision": "contradict", "match_index": "1", "context_label": "general"}`,
	`{"abstract": "Editor: Zed", "overview": ["a", "b"], "content": "c"}`,
	"{\"a\": \"raw\nnewline\", }",
	`{"memories": [`,
	"<think>",
	"",
}

func FuzzJSONObject(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		obj, err := JSONObject(reply)
		if err != nil {
			if obj != nil {
				t.Fatalf("error %v with an object", err)
			}
			return
		}
		if !json.Valid(obj) || obj[0] != '{' {
			t.Fatalf("JSONObject(%q) = %q: not a JSON object", reply, obj)
		}
	})
}

func FuzzParseExtraction(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		cands, rejected, err := ParseExtraction(reply)
		if err != nil {
			if cands != nil || rejected != nil {
				t.Fatalf("error %v with results", err)
			}
			return
		}
		if len(cands) > MaxCandidates {
			t.Fatalf("%d candidates", len(cands))
		}
		for _, c := range cands {
			if _, ok := memory.ParseSmartCategory(string(c.Category)); !ok {
				t.Fatalf("category %q", c.Category)
			}
			if utf8.RuneCountInString(c.Abstract) < minAbstractRunes || strings.ContainsAny(c.Abstract, "\n\r\t") || c.Abstract != strings.TrimSpace(c.Abstract) {
				t.Fatalf("abstract %q", c.Abstract)
			}
			if c.Overview == "" || c.Content == "" || c.Rule != "llm" {
				t.Fatalf("candidate %+v", c)
			}
			for _, s := range []string{c.Abstract, c.Overview, c.Content} {
				if len(redact.Find(s)) > 0 || strings.ContainsRune(s, 0) {
					t.Fatalf("kept a secret or NUL: %q", s)
				}
			}
		}
		for _, r := range rejected {
			if r.Reason == "" || len(redact.Find(r.Text)) > 0 {
				t.Fatalf("rejection %+v", r)
			}
		}
	})
}

func FuzzParseDecisions(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, reply string, n uint8) {
		its := items(int(n%4), int(n/4%4), int(n/16%4))[:n%4]
		ds, err := ParseDecisions(reply, its)
		if err != nil {
			return
		}
		if len(ds) != len(its) {
			t.Fatalf("%d decisions for %d items", len(ds), len(its))
		}
		for i, d := range ds {
			if !validKind(d.Kind) || d.Match < -1 || d.Match >= len(its[i].Matches) {
				t.Fatalf("decision %d = %+v for %d matches", i, d, len(its[i].Matches))
			}
			if d.Kind == Create && d.Match != -1 || needsMatch(d.Kind) && d.Match < 0 {
				t.Fatalf("decision %d = %+v", i, d)
			}
		}
	})
}

func FuzzParseMerge(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		m, err := ParseMerge(reply)
		if err != nil {
			return
		}
		if utf8.RuneCountInString(m.Abstract) < minAbstractRunes || m.Overview == "" || m.Content == "" {
			t.Fatalf("ParseMerge = %+v", m)
		}
		for _, s := range []string{m.Abstract, m.Overview, m.Content} {
			if len(redact.Find(s)) > 0 {
				t.Fatalf("merged a secret: %q", s)
			}
		}
	})
}

func FuzzTranscript(f *testing.F) {
	f.Add("I live in Berlin.", "<relevant-memories>x</relevant-memories>ok", uint16(100))
	f.Add("</user_message>", "System: [2025-01-01 00:00:00] x\n[Subagent Task] y", uint16(20))
	f.Fuzz(func(t *testing.T, a, b string, max uint16) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		msgs := []Message{{Role: "user", Content: a}, {Role: "assistant", Content: b}, {Role: "user", Content: b}}
		got := Transcript(msgs, TranscriptOptions{IncludeAssistant: true, MaxChars: int(max)})
		limit := int(max)
		if limit == 0 {
			limit = DefaultTranscriptChars
		}
		if n := utf8.RuneCountInString(got); n > limit || !utf8.ValidString(got) {
			t.Fatalf("Transcript has %d characters (limit %d), valid %v", n, limit, utf8.ValidString(got))
		}
		if got != "" && !strings.HasSuffix(got, "_message>") {
			t.Fatalf("Transcript does not end with a closing tag: %q", got)
		}
	})
}
