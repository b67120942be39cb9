package capture

import (
	"context"
	"fmt"
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/memory"
)

// Explicit extracts the user's explicit statements by rules. It never
// captures what the assistant, the system or a tool said: an agent's own
// words are not facts about the user, and capturing them would let a
// prompt-injected reply write memories.
type Explicit struct{}

var _ Extractor = Explicit{}

// MaxCandidates bounds the statements taken from one turn.
const MaxCandidates = 20

// A rule recognises one kind of explicit statement.
type rule struct {
	name string
	re   *lazyre.Regexp
	// category is the memory's category; "" means classify the text.
	category   memory.Category
	importance float64
}

// remember rules: the matched prefix is an instruction to the memory, not
// part of it, so only the "rest" group is kept.
var rememberRules = []*lazyre.Regexp{
	lazyre.New(`(?is)^(?:please\s+|pls\s+|also\s+)?(?:remember|note|keep in mind|don'?t forget|do not forget|never forget)(?:\s+that)?\s*[:,]?\s+(?P<rest>.+)$`),
	lazyre.New(`(?s)^(?:请你?|你要|帮我)?(?:记住|记一下|记下|记得|别忘了|不要忘记|千万记住)(?:一下)?[：:，,、\s]*(?P<rest>.+)$`),
	lazyre.New(`(?is)^(?:bitte\s+)?(?:merk(?:e)?\s+dir|merken\s+Sie\s+sich|denk(?:e)?\s+daran|vergiss\s+nicht|vergessen\s+Sie\s+nicht|notier(?:e)?\s+dir)(?:\s*,)?(?:\s+(?:dass|das))?\s*[:,]?\s+(?P<rest>.+)$`),
}

// IsRemember reports whether a user message asks, in so many words, for
// something to be remembered ("remember that…", "merk dir…", "记住…"):
// capture extracts at once then, without waiting for more messages.
func IsRemember(text string) bool {
	for _, sentence := range sentences(text) {
		for _, re := range rememberRules {
			if re.MatchString(sentence) {
				return true
			}
		}
	}
	return false
}

// statement rules, in order of precedence: the first match names the rule.
var statementRules = []rule{
	{"prefer", lazyre.New(`(?i)\bI\s+(?:really\s+|much\s+|strongly\s+|usually\s+|generally\s+|mostly\s+)?(?:prefer|like|love|hate|dislike|enjoy|can'?t stand|don'?t like|do not like|would rather)\b|\bI'd rather\b|\bmy\s+favou?rite\b`), memory.CategoryPreference, 0.7},
	{"prefer", lazyre.New(`我(?:很|更|比较|非常|最|特别|一直|不太)?(?:喜欢|偏好|偏爱|讨厌|不喜欢|爱用|习惯|更喜欢)|我最爱`), memory.CategoryPreference, 0.7},
	{"decision", lazyre.New(`(?i)\b(?:we|I)\s+(?:have\s+|'ve\s+)?(?:decided|agreed|chose|settled on|switched to)\b|\b(?:we|I)(?:'ll| will| are going to| am going to)\s+(?:use|go with|stick with)\b|\b(?:from now on|going forward)\b|\blet'?s\s+(?:use|go with|stick with)\b`), memory.CategoryDecision, 0.75},
	{"decision", lazyre.New(`决定|定下来|改用|换成|以后用|统一用|今后用`), memory.CategoryDecision, 0.75},
	{"always-never", lazyre.New(`(?i)\b(?:always|never)\b`), "", 0.7},
	{"always-never", lazyre.New(`总是|从不|从来不|永远不要|永远别|千万别|一定要|以后都|每次都`), "", 0.7},
	{"my-is", lazyre.New(`(?i)\bmy\s+(?:[\p{L}\p{N}'’-]+\s+){1,3}(?:is|are)\b|\b(?:call me|my name'?s)\b`), memory.CategoryEntity, 0.7},
	{"my-is", lazyre.New(`我的.{1,12}?是|叫我|我叫|我的名字`), memory.CategoryEntity, 0.7},
}

// classify names a category for text that matched no categorising rule.
func classify(text string) memory.Category {
	for _, r := range statementRules {
		if r.category != "" && r.re.MatchString(text) {
			return r.category
		}
	}
	if alwaysNever.MatchString(text) {
		return memory.CategoryPreference
	}
	return memory.CategoryFact
}

var alwaysNever = lazyre.New(`(?i)\b(?:always|never)\b|总是|从不|从来不|永远不要|千万别|一定要`)

// Extract implements Extractor.
func (Explicit) Extract(ctx context.Context, msgs []Message) ([]Candidate, []Skip, error) {
	var cands []Candidate
	var skipped []Skip
	seen := map[string]bool{}
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		role := strings.ToLower(strings.TrimSpace(m.Role))
		content := strings.TrimSpace(m.Content)
		if content == "" {
			continue
		}
		if role != "user" {
			skipped = append(skipped, Skip{Text: excerpt(content), Reason: fmt.Sprintf("%s message: only the user's own statements are captured", roleName(role))})
			continue
		}
		content, removed := stripInjected(content)
		if removed != "" {
			skipped = append(skipped, Skip{Text: excerpt(removed), Reason: "recalled memories and code blocks are never captured"})
		}
		for _, s := range sentences(content) {
			c, reason := statement(s)
			if reason != "" {
				skipped = append(skipped, Skip{Text: excerpt(s), Reason: reason})
				continue
			}
			key := Normalize(c.Text)
			if seen[key] {
				skipped = append(skipped, Skip{Text: excerpt(s), Reason: "repeats another statement in this turn"})
				continue
			}
			if len(cands) == MaxCandidates {
				skipped = append(skipped, Skip{Text: excerpt(s), Reason: fmt.Sprintf("over %d statements in one turn: store the rest explicitly", MaxCandidates)})
				continue
			}
			seen[key] = true
			cands = append(cands, c)
		}
	}
	return cands, skipped, nil
}

func roleName(role string) string {
	if role == "" {
		return "unattributed"
	}
	return role
}

// statement turns one sentence into a candidate, or says why not.
func statement(s string) (Candidate, string) {
	if reason := Noise(s); reason != "" {
		return Candidate{}, reason
	}
	for _, re := range rememberRules {
		m := re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		rest := strings.TrimSpace(m[re.SubexpIndex("rest")])
		if reason := Noise(rest); reason != "" {
			return Candidate{}, reason
		}
		return Candidate{Text: capitalise(rest), Category: classify(rest), Importance: 0.8, Rule: "remember"}, ""
	}
	for _, r := range statementRules {
		if !r.re.MatchString(s) {
			continue
		}
		cat := r.category
		if cat == "" {
			cat = classify(s)
		}
		return Candidate{Text: s, Category: cat, Importance: r.importance, Rule: r.name}, ""
	}
	return Candidate{}, "no explicit statement (remember…, I prefer…, always/never…, my … is …)"
}

func capitalise(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if !unicode.IsLower(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// injected matches blocks that are context trove or a host put into the
// conversation (recalled memories, system reminders) and code blocks:
// neither is a statement by the user.
var injected = lazyre.New("(?is)<(relevant-memories|system-reminder|memories|memory-context)\\b[^>]*>.*?</(?:relevant-memories|system-reminder|memories|memory-context)\\s*>|```.*?(?:```|$)")

func stripInjected(s string) (rest, removed string) {
	locs := injected.FindAllStringIndex(s, -1)
	if locs == nil {
		return s, ""
	}
	var b, r strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(s[last:l[0]])
		b.WriteString("\n")
		r.WriteString(s[l[0]:l[1]])
		last = l[1]
	}
	b.WriteString(s[last:])
	return b.String(), r.String()
}

// sentences splits text into trimmed sentences: at line breaks, and after
// sentence punctuation (Latin followed by a space, CJK anywhere).
func sentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "-*•>"))
		rs := []rune(line)
		start := 0
		for i, r := range rs {
			end := false
			switch r {
			case '。', '！', '？', '；':
				end = true
			case '.', '!', '?', ';':
				end = i+1 == len(rs) || unicode.IsSpace(rs[i+1])
			}
			if end {
				if s := strings.TrimSpace(string(rs[start : i+1])); s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
		if s := strings.TrimSpace(string(rs[start:])); s != "" {
			out = append(out, s)
		}
	}
	return out
}
