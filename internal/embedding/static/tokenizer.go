package static

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UnsupportedError names a part of tokenizer.json this package does not
// implement. Part is "normalizer", "pre_tokenizer" or "model".
type UnsupportedError struct {
	File string
	Part string
	Name string
}

func (e *UnsupportedError) Error() string {
	s := fmt.Sprintf("%s %q is not supported", e.Part, e.Name)
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s + " (supported: " + supported[e.Part] + ")"
}

var supported = map[string]string{
	"normalizer":    "BertNormalizer, Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Strip, Prepend, Replace with a string pattern, Sequence",
	"pre_tokenizer": "BertPreTokenizer, Whitespace, WhitespaceSplit, Metaspace, Sequence",
	"model":         "WordPiece, Unigram",
}

// Tokenizer is the encoding half of a Hugging Face tokenizer.json:
// added tokens, normalizer, pre-tokenizer and model. Special tokens are
// never added (model2vec encodes with add_special_tokens=False), so the
// post-processor, decoder, truncation and padding are not read.
type Tokenizer struct {
	normalizer normalizer
	pre        preTokenizer
	model      tokenModel
	raw        []addedToken // matched in the text as it is
	normalized []addedToken // matched in the normalised text
	vocabSize  int          // distinct tokens of the model and the added tokens
	maxID      int32
	medianLen  int // median token length in characters, for model2vec's truncation
}

type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
	pattern    string // Content, normalised if Normalized
}

// LoadTokenizer reads a tokenizer.json file.
func LoadTokenizer(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTokenizer(b)
	if err != nil {
		if u, ok := err.(*UnsupportedError); ok {
			u.File = path
			return nil, u
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTokenizer parses the contents of a tokenizer.json file.
func ParseTokenizer(b []byte) (*Tokenizer, error) {
	var f struct {
		AddedTokens  []addedToken    `json:"added_tokens"`
		Normalizer   json.RawMessage `json:"normalizer"`
		PreTokenizer json.RawMessage `json:"pre_tokenizer"`
		Model        json.RawMessage `json:"model"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("not a tokenizer.json: no model")
	}
	t := &Tokenizer{}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	vocab := make(map[string]int32, len(t.model.vocab())+len(f.AddedTokens))
	for tok, id := range t.model.vocab() {
		vocab[tok] = id
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			continue
		}
		vocab[a.Content] = a.ID
		a.pattern = a.Content
		if a.Normalized {
			if t.normalizer != nil {
				a.pattern = t.normalizer.normalize(a.Content)
			}
			if a.pattern != "" {
				t.normalized = append(t.normalized, a)
			}
		} else {
			t.raw = append(t.raw, a)
		}
	}
	t.vocabSize = len(vocab)
	lens := make([]int, 0, len(vocab))
	for tok, id := range vocab {
		lens = append(lens, utf8.RuneCountInString(tok))
		t.maxID = max(t.maxID, id)
	}
	sort.Ints(lens)
	// numpy's median: the middle value, or the mean of the two middle ones,
	// then truncated by int().
	if n := len(lens); n > 0 {
		if n%2 == 1 {
			t.medianLen = lens[n/2]
		} else {
			t.medianLen = (lens[n/2-1] + lens[n/2]) / 2
		}
	}
	return t, nil
}

// VocabSize is the number of distinct tokens (model vocabulary and added
// tokens), the row count an embedding matrix without a mapping must have.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// Encode returns the token ids of text, without special tokens, as the
// reference tokenizer's encode(text, add_special_tokens=False) does.
func (t *Tokenizer) Encode(text string) []int32 {
	var pieces []piece
	return t.encode(nil, &pieces, text)
}

// encode appends text's ids to dst, using *scratch for pre-tokenised pieces.
func (t *Tokenizer) encode(dst []int32, scratch *[]piece, text string) []int32 {
	segs := []match{{text: text, id: -1}}
	if len(t.raw) > 0 {
		segs = findAdded(t.raw, text)
	}
	pieces := (*scratch)[:0]
	defer func() { *scratch = pieces[:0] }()
	for _, sg := range segs {
		if sg.id >= 0 {
			dst = append(dst, sg.id)
			continue
		}
		s := sg.text
		if t.normalizer != nil {
			s = t.normalizer.normalize(s)
		}
		var parts []match
		if len(t.normalized) == 0 {
			parts = []match{{text: s, id: -1}}
		} else {
			parts = findAdded(t.normalized, s)
		}
		for _, p := range parts {
			if p.id >= 0 {
				dst = append(dst, p.id)
				continue
			}
			if p.text == "" {
				continue
			}
			pc := piece{text: p.text, first: sg.start == 0 && p.start == 0}
			pieces = pieces[:0]
			if t.pre != nil {
				pieces = t.pre.split(pieces, pc)
			} else {
				pieces = append(pieces, pc)
			}
			for _, w := range pieces {
				if w.text != "" {
					dst = t.model.tokenize(dst, w.text)
				}
			}
		}
	}
	return dst
}

// match is a span of text (starting at byte start): an added token
// (id >= 0) or text between them.
type match struct {
	text  string
	id    int32
	start int
}

// findAdded splits s at the added tokens it contains: leftmost-longest
// matches, honouring single_word, lstrip and rstrip as the reference does.
func findAdded(tokens []addedToken, s string) []match {
	var out []match
	last := 0 // end of the previous token match
	for i := 0; i < len(s); {
		best := -1
		for k := range tokens {
			p := tokens[k].pattern
			if strings.HasPrefix(s[i:], p) && (best < 0 || len(p) > len(tokens[best].pattern)) {
				best = k
			}
		}
		if best < 0 {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		a := tokens[best]
		start, end := i, i+len(a.pattern)
		if a.SingleWord {
			before, _ := utf8.DecodeLastRuneInString(s[:start])
			after, _ := utf8.DecodeRuneInString(s[end:])
			if (start > 0 && isAlnumOrUnderscore(before)) || (end < len(s) && isAlnumOrUnderscore(after)) {
				i = end
				continue
			}
		}
		if a.LStrip {
			start = max(last, len(strings.TrimRightFunc(s[:start], unicode.IsSpace)))
		}
		if a.RStrip {
			end = len(s) - len(strings.TrimLeftFunc(s[end:], unicode.IsSpace))
		}
		if start > last {
			out = append(out, match{text: s[last:start], id: -1, start: last})
		}
		out = append(out, match{text: s[start:end], id: a.ID, start: start})
		last, i = end, end
	}
	if last < len(s) || len(out) == 0 {
		out = append(out, match{text: s[last:], id: -1, start: last})
	}
	return out
}

func isAlnumOrUnderscore(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}
