package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trove-memory/trove/internal/lazyre"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/redact"
	"github.com/trove-memory/trove/internal/textlang"
)

// Models break the format they are asked for: they think aloud first
// (<think>…</think>), fence the JSON in ```json, add a sentence before or
// after it, run out of tokens halfway, or put a raw newline inside a
// string. The readers here accept all of that and validate every field,
// so one bad item is rejected on its own and never fails the rest.

var (
	thinkBlock = lazyre.New(`(?is)<(think|thinking|reasoning)>.*?</(?:think|thinking|reasoning)>`)
	thinkClose = lazyre.New(`(?i)</(?:think|thinking|reasoning)>`)
	thinkOpen  = lazyre.New(`(?i)^<(?:think|thinking|reasoning)>`)
)

// maxStarts bounds how many opening braces JSONObject tries before it
// gives up, so a reply of stray braces costs linear time.
const maxStarts = 64

// JSONObject finds the JSON object in a model's reply. It drops reasoning
// blocks (<think>…</think>; text before a lone closing tag; an opening tag
// never closed, in which case the last object that parses is taken, as
// the answer comes after the reasoning), and reads past code fences and
// prose around the object. It returns the first complete top-level object
// that parses, after repairing the slips models make most (raw line breaks
// in strings, unescaped quotes, trailing commas). The error says what was
// wrong: an empty reply, no object, an object cut off (the token limit),
// or invalid JSON and where.
func JSONObject(reply string) ([]byte, error) {
	s := strings.TrimSpace(reply)
	if s == "" {
		return nil, errors.New("reply is empty")
	}
	s = thinkBlock.ReplaceAllString(s, "")
	if locs := thinkClose.FindAllStringIndex(s, -1); locs != nil {
		s = s[locs[len(locs)-1][1]:] // reasoning whose opening tag the server dropped
	}
	s = strings.TrimSpace(s)
	unclosed := false
	if loc := thinkOpen.FindStringIndex(s); loc != nil {
		unclosed = true
		s = s[loc[1]:]
	}
	if strings.TrimSpace(s) == "" {
		if unclosed {
			return nil, errors.New("reply is only reasoning (<think> never closed, no answer): the model probably hit the token limit")
		}
		return nil, errors.New("reply is only reasoning (<think> block), no answer")
	}

	var firstErr error
	var last []byte
	from, tries := 0, 0
	for tries < maxStarts {
		i := strings.IndexByte(s[from:], '{')
		if i < 0 {
			break
		}
		start := from + i
		from = start + 1
		if !objectStart(s[start+1:]) {
			continue // a brace in prose ("{name}"), not an object
		}
		tries++
		end, ok := objectEnd(s, start)
		if !ok {
			// Every brace after this one is inside it: the object is cut off.
			if last == nil && firstErr == nil && !unclosed {
				return nil, fmt.Errorf("reply is cut off inside a JSON object (%d bytes from its start): the model probably hit the token limit", len(s)-start)
			}
			break
		}
		obj := []byte(s[start:end])
		if !json.Valid(obj) {
			if fixed := repairJSON(obj); json.Valid(fixed) {
				obj = fixed
			} else {
				if firstErr == nil {
					firstErr = invalidJSON(obj)
				}
				from = end
				continue
			}
		}
		if !unclosed {
			return obj, nil
		}
		last = obj
		from = end
	}
	if last != nil {
		return last, nil
	}
	if unclosed {
		return nil, errors.New("reply is only unfinished reasoning (<think> never closed, no complete JSON object in it): the model probably hit the token limit")
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, fmt.Errorf("reply holds no JSON object: %q", clipRunes(strings.Join(strings.Fields(s), " "), 80))
}

// objectStart reports whether what follows an opening brace can begin a
// JSON object's body: a key, or the closing brace.
func objectStart(rest string) bool {
	rest = strings.TrimLeft(rest, " \t\r\n")
	return rest == "" || rest[0] == '"' || rest[0] == '}'
}

// objectEnd returns the end of the balanced {...} starting at s[start],
// honouring JSON strings, and false when the text ends first.
func objectEnd(s string, start int) (int, bool) {
	depth, inStr, esc := 0, false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inStr:
			switch c {
			case '\\':
				esc = true
			case '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

func invalidJSON(obj []byte) error {
	var v any
	err := json.Unmarshal(obj, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("reply has invalid JSON at byte %d of the object: %v", se.Offset, se)
	}
	return fmt.Errorf("reply has invalid JSON: %v", err)
}

// repairJSON fixes what models get wrong most inside otherwise good JSON,
// as memory-lancedb-pro's repairCommonJson does: raw line breaks and tabs
// inside strings, a quote inside a string left unescaped (one not followed
// by , } ] or :), and trailing commas.
func repairJSON(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	inStr, esc := false, false
	next := func(i int) byte { // the next byte after i that is not space
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case ' ', '\t', '\n', '\r':
				continue
			}
			return b[j]
		}
		return 0
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				switch next(i) {
				case 0, ',', '}', ']', ':':
					inStr = false
				default:
					out = append(out, '\\', '"')
					continue
				}
			case c == '\n':
				out = append(out, '\\', 'n')
				continue
			case c == '\r':
				out = append(out, '\\', 'r')
				continue
			case c == '\t':
				out = append(out, '\\', 't')
				continue
			}
			out = append(out, c)
			continue
		}
		switch c {
		case '"':
			inStr = true
		case ',':
			if n := next(i); n == '}' || n == ']' {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// ParseExtraction reads an extraction reply (see ExtractionRequest). It
// fails only when the reply as a whole is unusable: no JSON object, or no
// "memories" array; the caller then keeps the conversation for a later
// try. Each memory is validated on its own and either kept or rejected
// with the reason:
//
//   - category: one of the six (singular forms accepted); else rejected
//   - abstract: made one line; at least 5 characters; else rejected
//   - overview, content: default to "- <abstract>" and the abstract
//   - grounding "constructed": rejected as hypothetical
//   - noise (small talk, a refusal, "I don't remember", a question about
//     memory, a system line): rejected
//   - a secret anywhere (redact.Find): rejected as "secret: <kind>"
//   - near-identical to a memory kept before it: rejected
//   - beyond MaxCandidates: rejected
//
// Kept candidates have Rule "llm". A rejected memory's Text is its
// abstract with any secret redacted.
func ParseExtraction(reply string) ([]Candidate, []Rejected, error) {
	obj, err := JSONObject(reply)
	if err != nil {
		return nil, nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(obj, &top); err != nil {
		return nil, nil, fmt.Errorf("reply is not a JSON object: %v", err)
	}
	raw, ok := field(top, "memories")
	if !ok {
		return nil, nil, errors.New(`reply has no "memories" array`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, nil, fmt.Errorf(`reply's "memories" is not an array: %s`, clipRunes(string(raw), 60))
	}
	var cands []Candidate
	var rejected []Rejected
	reject := func(text, format string, args ...any) {
		// Redacted before and after clipping: clipping can neither show
		// part of a secret nor turn a long value into a short one.
		rejected = append(rejected, Rejected{Text: redact.Redact(excerpt(redact.Redact(text))), Reason: fmt.Sprintf(format, args...)})
	}
	for n, item := range items {
		var m map[string]any
		if err := json.Unmarshal(item, &m); err != nil || m == nil {
			reject(string(item), "memory %d is not a JSON object", n+1)
			continue
		}
		c, text, reason := candidate(m)
		if reason != "" {
			reject(text, "%s", reason)
			continue
		}
		if i := repeats(cands, c); i >= 0 {
			reject(text, "repeats memory %q of the same reply", excerpt(cands[i].Abstract))
			continue
		}
		if len(cands) == MaxCandidates {
			reject(text, "over the limit of %d memories per extraction", MaxCandidates)
			continue
		}
		cands = append(cands, c)
	}
	return cands, rejected, nil
}

// candidate validates one extracted memory. text names it for a
// rejection; reason is "" when it is kept.
func candidate(m map[string]any) (c Candidate, text, reason string) {
	abstract, aerr := stringValue(m, "abstract")
	text = oneLine(abstract)
	if text == "" {
		content, _ := stringValue(m, "content")
		text = content
	}
	catName, cerr := stringValue(m, "category")
	switch {
	case cerr != nil:
		return c, text, cerr.Error()
	case strings.TrimSpace(catName) == "":
		return c, text, "no category"
	}
	cat, ok := memory.NormalizeSmartCategory(catName)
	if !ok {
		return c, text, fmt.Sprintf("unknown category %q (want profile, preferences, entities, events, cases or patterns)", clipRunes(catName, 40))
	}
	if aerr != nil {
		return c, text, aerr.Error()
	}
	c = Candidate{Category: cat, Abstract: oneLine(abstract), Rule: "llm"}
	if n := utf8.RuneCountInString(c.Abstract); n < minAbstractRunes {
		return c, text, fmt.Sprintf("abstract too short (%d characters, at least %d)", n, minAbstractRunes)
	}
	var err error
	if c.Overview, err = bullets(m, "overview"); err != nil {
		return c, text, err.Error()
	}
	if c.Content, err = stringValue(m, "content"); err != nil {
		return c, text, err.Error()
	}
	c.Overview, c.Content = strings.TrimSpace(c.Overview), strings.TrimSpace(c.Content)
	if c.Overview == "" {
		c.Overview = "- " + c.Abstract
	}
	if c.Content == "" {
		c.Content = c.Abstract
	}
	if g, _ := m["grounding"].(string); constructed(g) {
		return c, text, "hypothetical: grounded in a what-if, role-play or made-up scenario, not a fact about the user"
	}
	if why := abstractNoise(c.Abstract); why != "" {
		return c, text, why
	}
	if kind := secretIn(c.Abstract, c.Overview, c.Content); kind != "" {
		return c, text, "secret: " + kind
	}
	return c, text, ""
}

// minAbstractRunes is memory-lancedb-pro's floor for an abstract.
const minAbstractRunes = 5

// groundingWord reads a grounding tag as its word, as memory-lancedb-pro
// does: "constructed (in-story)" and "Constructed." are constructed.
var groundingWord = lazyre.New(`^(real|constructed)\b`)

func constructed(g string) bool {
	m := groundingWord.FindStringSubmatch(strings.ToLower(strings.TrimSpace(g)))
	return m != nil && m[1] == "constructed"
}

// repeats returns the index of a kept candidate c nearly repeats, or -1.
func repeats(kept []Candidate, c Candidate) int {
	a := capture.Normalize(c.Abstract)
	for i, k := range kept {
		b := capture.Normalize(k.Abstract)
		if a == b || capture.TextSimilarity(a, b) >= capture.TextThreshold {
			return i
		}
	}
	return -1
}

func secretIn(texts ...string) string {
	for _, t := range texts {
		if f := redact.Find(t); len(f) > 0 {
			return f[0].Kind
		}
	}
	return ""
}

// Noise in an abstract, after memory-lancedb-pro's noise filter (isNoise):
// an assistant saying what it does not know, questions about memory
// itself and complaints about it, and the extractor's own artifacts.
// Greetings and small talk are textlang's (whole texts only, so "Hiking:
// every Sunday" is kept, which memory-lancedb-pro's prefix match drops).
var (
	denialNoise   = lazyre.New(`(?i)\bI don'?t have (?:any )?(?:information|data|memory|record)|\bI'?m not sure about\b|\bI don'?t (?:recall|remember)\b|\bit looks like I don'?t\b|\bI wasn'?t able to find\b|\bno (?:relevant )?memories found\b|\bI don'?t have access to\b|我不记得|没有找到相关|ich erinnere mich nicht|keine (?:passenden )?Erinnerungen gefunden`)
	metaNoise     = lazyre.New(`(?i)\bdo you (?:remember|recall|know about)\b|\bcan you (?:remember|recall)\b|\bdid I (?:tell|mention|say|share)\b|\bhave I (?:told|mentioned|said)\b|\bwhat did I (?:tell|say|mention)\b|\byou (?:never|don'?t|do not|can'?t|cannot) (?:remember|recall)\b|\bwhy (?:do|can) you (?:keep )?(?:forget|not remember|never remember)\b|\bwhy (?:is|are) (?:my|the) memor(?:y|ies) (?:wrong|missing|broken|not working)\b|你还?记得|记不记得|还记得.*吗|你[知晓]道.+吗|我(?:之前|上次|以前)(?:说|提|讲).*(?:吗|呢|？|\?)|只回复|erinnerst du dich|weißt du (?:noch|was ich)|hab(?:e)? ich (?:dir )?(?:gesagt|erzählt)`)
	artifactNoise = lazyre.New(`(?i)\bquery\s*->\s*(?:none|no explicit solution|unknown|not found)\b|\buser asked for\b.*\b(?:none|no explicit solution|unknown|not found)\b|\bno explicit solution\b`)
)

// abstractNoise says why an abstract is noise, or "".
func abstractNoise(a string) string {
	switch textlang.Noise(a) {
	case textlang.Greeting, textlang.Acknowledgement:
		return "noise: greeting or small talk"
	case textlang.Refusal:
		return "noise: an assistant's refusal"
	case textlang.NoWords:
		return "noise: no words"
	}
	switch {
	case textlang.SystemMessage(a):
		return "noise: a system or host message"
	case denialNoise.MatchString(a):
		return "noise: says what is not known, not a fact"
	case metaNoise.MatchString(a):
		return "noise: a question or complaint about memory itself"
	case artifactNoise.MatchString(a):
		return "noise: an extraction artifact"
	}
	return ""
}

// ParseDecisions reads a decision reply for items (see DecisionRequest)
// and returns one decision per item, Match 0-based. An item the reply
// does not decide usably (no entry, no or an unknown decision, a decision
// that needs a stored row without a valid match_index) gets Create, Match
// -1, and a Reason saying what was wrong, so the caller never loses a
// memory to a bad reply. A create's Match is always -1; a skip's is the
// row it repeats when match_index names one, else -1. The error is
// non-nil only when the reply holds no JSON object at all; the caller
// then creates every item.
//
// Besides {"decisions": [...]}, the reply may use memory-lancedb-pro's
// {"results": [...]}, and for a single item its single-object form
// {"decision": ..., "match_index": ...}. An entry without "index" is
// taken by its position when the reply has one entry per item.
func ParseDecisions(reply string, items []Item) ([]Decision, error) {
	obj, err := JSONObject(reply)
	if err != nil {
		return nil, err
	}
	out := make([]Decision, len(items))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(obj, &top); err != nil {
		return nil, fmt.Errorf("reply is not a JSON object: %v", err)
	}
	var entries []map[string]any
	raw, ok := field(top, "decisions")
	if !ok {
		raw, ok = field(top, "results")
	}
	switch {
	case ok:
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return fill(out, `reply's "decisions" is not an array`), nil
		}
		for _, e := range list {
			var m map[string]any
			if json.Unmarshal(e, &m) == nil && m != nil {
				entries = append(entries, m)
			} else {
				entries = append(entries, nil) // keeps positions
			}
		}
	case len(items) == 1 && top["decision"] != nil:
		var m map[string]any
		_ = json.Unmarshal(obj, &m) // obj is a valid object
		m["index"] = 1.0
		entries = []map[string]any{m}
	default:
		return fill(out, `reply has no "decisions" array`), nil
	}

	byItem := make([]map[string]any, len(items))
	positional := len(entries) == len(items)
	for pos, e := range entries {
		if e == nil {
			continue
		}
		n, ok := intValue(e["index"])
		if !ok && positional {
			n, ok = pos+1, true
		}
		if !ok || n < 1 || n > len(items) || byItem[n-1] != nil {
			continue // out of range, or a second answer for one item
		}
		byItem[n-1] = e
	}
	for i, it := range items {
		out[i] = decision(byItem[i], i+1, len(it.Matches))
	}
	return out, nil
}

func fill(out []Decision, why string) []Decision {
	for i := range out {
		out[i] = Decision{Kind: Create, Match: -1, Reason: why + ": created"}
	}
	return out
}

// needsMatch is the decisions about one stored row.
func needsMatch(k Kind) bool {
	switch k {
	case Merge, Supersede, Support, Contextualize, Contradict:
		return true
	}
	return false
}

// decision reads the entry for item n, which was offered matches rows.
func decision(e map[string]any, n, matches int) Decision {
	if e == nil {
		return Decision{Kind: Create, Match: -1, Reason: fmt.Sprintf("the reply has no decision for candidate %d: created", n)}
	}
	name, _ := e["decision"].(string)
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return Decision{Kind: Create, Match: -1, Reason: fmt.Sprintf("the reply's entry for candidate %d has no decision: created", n)}
	}
	k := Kind(name)
	if !validKind(k) {
		return Decision{Kind: Create, Match: -1, Reason: fmt.Sprintf("unknown decision %q for candidate %d: created", clipRunes(name, 30), n)}
	}
	d := Decision{Kind: k, Match: -1}
	d.Reason, _ = e["reason"].(string)
	d.Reason = clipRunes(oneLine(d.Reason), 300)
	if label, ok := e["context_label"].(string); ok {
		d.ContextLabel = clipRunes(strings.ToLower(strings.TrimSpace(label)), 40)
	}
	idx, hasIdx := intValue(e["match_index"])
	valid := hasIdx && idx >= 1 && idx <= matches
	switch {
	case k == Create:
		d.ContextLabel = ""
	case needsMatch(k) && !valid:
		got := "none"
		if v, ok := e["match_index"]; ok && v != nil {
			got = clipRunes(fmt.Sprint(v), 20)
		}
		return Decision{Kind: Create, Match: -1, Reason: fmt.Sprintf("%s for candidate %d without a valid match_index (got %s, %d stored rows offered): created", k, n, got, matches)}
	case valid:
		d.Match = idx - 1
	}
	return d
}

func validKind(k Kind) bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// intValue reads a JSON number (or numeric string) that is a whole number.
func intValue(v any) (int, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		g, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false
		}
		f = g
	default:
		return 0, false
	}
	if f != math.Trunc(f) || math.Abs(f) > 1e6 {
		return 0, false
	}
	return int(f), true
}

// ParseMerge reads a merge reply (see MergeRequest). The abstract is made
// one line and must have at least 5 characters; overview and content
// default to "- <abstract>" and the abstract. A merged memory holding a
// secret is an error: the caller keeps the stored row as it is.
func ParseMerge(reply string) (Merged, error) {
	obj, err := JSONObject(reply)
	if err != nil {
		return Merged{}, err
	}
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		return Merged{}, fmt.Errorf("reply is not a JSON object: %v", err)
	}
	abstract, err := stringValue(m, "abstract")
	if err != nil {
		return Merged{}, err
	}
	out := Merged{Abstract: oneLine(abstract)}
	if n := utf8.RuneCountInString(out.Abstract); n < minAbstractRunes {
		if _, ok := m["abstract"]; !ok {
			return Merged{}, errors.New(`merge reply has no "abstract"`)
		}
		return Merged{}, fmt.Errorf("merged abstract too short (%d characters, at least %d)", n, minAbstractRunes)
	}
	if out.Overview, err = bullets(m, "overview"); err != nil {
		return Merged{}, err
	}
	if out.Content, err = stringValue(m, "content"); err != nil {
		return Merged{}, err
	}
	out.Overview, out.Content = strings.TrimSpace(out.Overview), strings.TrimSpace(out.Content)
	if out.Overview == "" {
		out.Overview = "- " + out.Abstract
	}
	if out.Content == "" {
		out.Content = out.Abstract
	}
	if kind := secretIn(out.Abstract, out.Overview, out.Content); kind != "" {
		return Merged{}, fmt.Errorf("merged memory holds a secret: %s", kind)
	}
	return out, nil
}

// field finds key in a decoded object, ignoring case when there is no
// exact match ("Memories").
func field(top map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := top[key]; ok && string(v) != "null" {
		return v, true
	}
	for k, v := range top {
		if strings.EqualFold(k, key) && string(v) != "null" {
			return v, true
		}
	}
	return nil, false
}

// stringValue reads a string field; absent or null is "". The text must
// be clean: no NUL characters.
func stringValue(m map[string]any, key string) (string, error) {
	switch v := m[key].(type) {
	case nil:
		return "", nil
	case string:
		if strings.ContainsRune(v, 0) {
			return "", fmt.Errorf("%s holds a NUL character", key)
		}
		return v, nil
	default:
		return "", fmt.Errorf("%s is a %s, not text", key, jsonType(v))
	}
}

// bullets reads an overview: text, or a list of lines that become
// markdown bullets (models send both).
func bullets(m map[string]any, key string) (string, error) {
	list, ok := m[key].([]any)
	if !ok {
		return stringValue(m, key)
	}
	var lines []string
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return "", fmt.Errorf("%s holds a %s, not text", key, jsonType(x))
		}
		if strings.ContainsRune(s, 0) {
			return "", fmt.Errorf("%s holds a NUL character", key)
		}
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "- "))
		if s != "" {
			lines = append(lines, "- "+s)
		}
	}
	return strings.Join(lines, "\n"), nil
}

func jsonType(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// oneLine collapses white space, line breaks included.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func excerpt(s string) string { return clipRunes(oneLine(s), 120) }
