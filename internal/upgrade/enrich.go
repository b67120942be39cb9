package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/llm"
	"github.com/trove-memory/trove/internal/memory"
)

// How a row was enriched, recorded as metadata.enriched_by.
const (
	ByLLM      = "llm"
	ByPlain    = "plain"    // --no-llm
	ByFallback = "fallback" // the LLM's reply was unusable; plain enrichment, redo later
)

// Enrichment is what an upgrade adds to a legacy row.
type Enrichment struct {
	L0, L1, L2 string
	Category   memory.SmartCategory
	By         string // ByLLM, ByPlain or ByFallback
	Reason     string // why a fallback happened
}

// smartCategory maps a storage category to a smart one.
func smartCategory(c memory.Category, text string) memory.SmartCategory {
	switch c {
	case memory.CategoryPreference:
		return memory.SmartPreferences
	case memory.CategoryEntity:
		return memory.SmartEntities
	case memory.CategoryDecision:
		return memory.SmartEvents
	case memory.CategoryFact:
		if aboutIdentity(text) {
			return memory.SmartProfile
		}
		return memory.SmartCases
	default: // other, reflection
		return memory.SmartPatterns
	}
}

// identityEN matches English identity statements on word boundaries; the
// Chinese forms are matched separately because \b does not work between
// CJK characters (the seed's single regex never matched them).
var identityEN = lazyre.New(`(?i)\b(my name is|i am|i'm|call me)\b`)

var identityZH = []string{"我是", "我叫", "我的"}

// maxIdentityRunes keeps "about the user's identity" to short statements:
// a long text that happens to contain "I am" is a case, not a profile.
const maxIdentityRunes = 120

func aboutIdentity(text string) bool {
	if utf8.RuneCountInString(text) > maxIdentityRunes {
		return false
	}
	if identityEN.MatchString(text) {
		return true
	}
	for _, s := range identityZH {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// plain builds the enrichment without an LLM: L0 is the first sentence
// (at most 100 characters), L1 is "- " + L0, L2 is the text.
func plain(m memory.Memory) Enrichment {
	l0 := firstSentence(m.Text, 100)
	return Enrichment{L0: l0, L1: "- " + l0, L2: m.Text, Category: smartCategory(m.Category, m.Text), By: ByPlain}
}

func firstSentence(text string, max int) string {
	text = strings.TrimSpace(text)
	end := len(text)
	for i, r := range text {
		if r == '\n' || r == '。' || r == '！' || r == '？' {
			end = i
			if r != '\n' {
				end += utf8.RuneLen(r)
			}
			break
		}
		if r == '.' || r == '!' || r == '?' {
			// A sentence ends at punctuation followed by space or the end.
			next := i + 1
			if next >= len(text) || text[next] == ' ' {
				end = next
				break
			}
		}
	}
	s := strings.Join(strings.Fields(text[:end]), " ")
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = strings.TrimRightFunc(string(r[:max-1]), unicode.IsSpace) + "…"
	}
	return s
}

const systemPrompt = `You turn a stored memory of an AI assistant into a layered record.
Answer with one JSON object and nothing else:
{"l0_abstract": "...", "l1_overview": "...", "l2_content": "...", "resolved_category": "..."}
- l0_abstract: one sentence of at most 30 words that works as a search key.
- l1_overview: 2 to 5 markdown bullet lines ("- ..."), the key points.
- l2_content: the full memory text, cleaned up (fix typos and whitespace), nothing added or lost.
- resolved_category: one of profile, preferences, entities, events, cases, patterns.
Write every field in the memory's own language.`

func userPrompt(m memory.Memory, suggested memory.SmartCategory) string {
	return fmt.Sprintf("Storage category: %s\nSuggested category: %s\nMemory:\n%s", m.Category, suggested, m.Text)
}

// enrichLLM asks the model. A reply that is not usable JSON falls back to
// plain enrichment (By = ByFallback); a failed call returns the error.
func enrichLLM(ctx context.Context, c llm.Client, m memory.Memory) (Enrichment, error) {
	suggested := smartCategory(m.Category, m.Text)
	reply, err := c.Complete(ctx, llm.Request{System: systemPrompt, User: userPrompt(m, suggested), JSON: true, MaxTokens: 1024})
	if err != nil {
		return Enrichment{}, err
	}
	e, perr := ParseReply(reply)
	if perr != nil {
		fb := plain(m)
		fb.By, fb.Reason = ByFallback, perr.Error()
		return fb, nil
	}
	if e.L2 == "" {
		e.L2 = m.Text
	}
	if e.Category == "" {
		e.Category = suggested
	}
	e.By = ByLLM
	return e, nil
}

var (
	thinkBlock = lazyre.New(`(?s)<think>.*?</think>`)
	errNoJSON  = errors.New("reply holds no JSON object")
)

// ParseReply reads the model's reply tolerantly: it drops <think> blocks,
// code fences and prose around the first JSON object, then checks fields.
func ParseReply(reply string) (Enrichment, error) {
	var e Enrichment
	s := thinkBlock.ReplaceAllString(reply, "")
	if i := strings.Index(s, "<think>"); i >= 0 { // an unclosed think block: drop it all
		s = s[:i]
	}
	obj, ok := firstObject(s)
	if !ok {
		return e, errNoJSON
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(obj), &raw); err != nil {
		return e, fmt.Errorf("reply JSON is invalid: %v", err)
	}
	var err error
	if e.L0, err = stringField(raw, "l0_abstract", true); err != nil {
		return e, err
	}
	if e.L1, err = bulletsField(raw, "l1_overview"); err != nil {
		return e, err
	}
	if e.L2, err = stringField(raw, "l2_content", false); err != nil {
		return e, err
	}
	if c, ok := raw["resolved_category"].(string); ok {
		e.Category, _ = memory.ParseSmartCategory(c) // unknown: caller's heuristic
	}
	e.L0 = limitWords(oneLine(e.L0), 30)
	if e.L1 == "" {
		e.L1 = "- " + e.L0
	}
	return e, nil
}

func stringField(raw map[string]any, key string, required bool) (string, error) {
	v, present := raw[key]
	if !present || v == nil {
		if required {
			return "", fmt.Errorf("reply lacks %s", key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("reply's %s is %T, not a string", key, v)
	}
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", fmt.Errorf("reply's %s is empty", key)
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("reply's %s is not clean UTF-8 text", key)
	}
	return s, nil
}

// bulletsField accepts a string or a list of strings (models do both).
func bulletsField(raw map[string]any, key string) (string, error) {
	switch v := raw[key].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case []any:
		var lines []string
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return "", fmt.Errorf("reply's %s holds %T, not text", key, x)
			}
			s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "- "))
			if s != "" {
				lines = append(lines, "- "+s)
			}
		}
		return strings.Join(lines, "\n"), nil
	default:
		return "", fmt.Errorf("reply's %s is %T, not text", key, v)
	}
}

// firstObject returns the first balanced {...} in s, honouring strings.
func firstObject(s string) (string, bool) {
	start := strings.IndexByte(s, '{')
	if start < 0 {
		return "", false
	}
	depth, inStr, esc := 0, false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return s[start : i+1], true
			}
		}
	}
	// Unbalanced from here: the reply was truncated.
	return "", false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func limitWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) <= n {
		return s
	}
	return strings.Join(f[:n], " ")
}
