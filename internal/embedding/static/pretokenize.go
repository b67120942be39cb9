package static

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is a span of normalised text on its way to the model. first marks
// the piece that starts the input (Metaspace's "first" prepend scheme).
type piece struct {
	text  string
	first bool
}

// preTokenizer splits normalised text into words, as the pre-tokenizer of
// the same name in Hugging Face tokenizers does. It appends to dst.
type preTokenizer interface {
	split(dst []piece, p piece) []piece
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch head.Type {
	case "BertPreTokenizer":
		return bertPreTokenizer{}, nil
	case "Whitespace":
		return whitespacePreTokenizer{}, nil
	case "WhitespaceSplit":
		return whitespaceSplit{}, nil
	case "Metaspace":
		var m struct {
			Replacement    string  `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			AddPrefixSpace *bool   `json:"add_prefix_space"` // before tokenizers 0.19
			Split          *bool   `json:"split"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("pre_tokenizer Metaspace: %w", err)
		}
		r, size := utf8.DecodeRuneInString(m.Replacement)
		if size == 0 || size != len(m.Replacement) {
			return nil, fmt.Errorf("pre_tokenizer Metaspace: replacement %q is not one character", m.Replacement)
		}
		ms := metaspace{replacement: r, str: m.Replacement, prepend: "always", splits: true}
		if m.AddPrefixSpace != nil && !*m.AddPrefixSpace {
			ms.prepend = "never"
		}
		if m.PrependScheme != nil {
			ms.prepend = *m.PrependScheme
		}
		switch ms.prepend {
		case "always", "first", "never":
		default:
			return nil, &UnsupportedError{Part: "pre_tokenizer", Name: "Metaspace with prepend_scheme " + ms.prepend}
		}
		if m.Split != nil {
			ms.splits = *m.Split
		}
		return ms, nil
	case "Sequence":
		var s struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("pre_tokenizer Sequence: %w", err)
		}
		var seq sequencePreTokenizer
		for _, r := range s.PreTokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, err
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return seq, nil
	}
	return nil, &UnsupportedError{Part: "pre_tokenizer", Name: head.Type}
}

type sequencePreTokenizer []preTokenizer

func (s sequencePreTokenizer) split(dst []piece, p piece) []piece {
	cur := []piece{p}
	for _, pt := range s {
		var next []piece
		for _, c := range cur {
			next = pt.split(next, c)
		}
		cur = next
	}
	return append(dst, cur...)
}

// bertPreTokenizer splits on whitespace (dropped) and isolates each
// punctuation character.
type bertPreTokenizer struct{}

func (bertPreTokenizer) split(dst []piece, p piece) []piece {
	s := p.text
	start := -1
	emit := func(a, b int) {
		dst = append(dst, piece{text: s[a:b], first: p.first && a == 0})
	}
	for i, r := range s {
		switch {
		case isWhitespace(r):
			if start >= 0 {
				emit(start, i)
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				emit(start, i)
				start = -1
			}
			emit(i, i+utf8.RuneLen(r))
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		emit(start, len(s))
	}
	return dst
}

// whitespacePreTokenizer keeps the matches of `\w+|[^\w\s]+`.
type whitespacePreTokenizer struct{}

func (whitespacePreTokenizer) split(dst []piece, p piece) []piece {
	s := p.text
	const (
		none = iota
		word
		other
	)
	kind, start := none, 0
	for i, r := range s {
		k := other
		switch {
		case isWordChar(r):
			k = word
		case isWhitespace(r):
			k = none
		}
		if k != kind {
			if kind != none {
				dst = append(dst, piece{text: s[start:i], first: p.first && start == 0})
			}
			kind, start = k, i
		}
	}
	if kind != none {
		dst = append(dst, piece{text: s[start:], first: p.first && start == 0})
	}
	return dst
}

// isWordChar is the regex class \w with Unicode: alphabetic, marks,
// decimal digits, connector punctuation and joiners.
func isWordChar(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.Nd, unicode.Nl, unicode.Pc, unicode.Other_Alphabetic, unicode.Join_Control)
}

// whitespaceSplit splits on whitespace only.
type whitespaceSplit struct{}

func (whitespaceSplit) split(dst []piece, p piece) []piece {
	s := p.text
	start := -1
	for i, r := range s {
		if isWhitespace(r) {
			if start >= 0 {
				dst = append(dst, piece{text: s[start:i], first: p.first && start == 0})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, piece{text: s[start:], first: p.first && start == 0})
	}
	return dst
}

// metaspace replaces spaces with the replacement character (▁), prepends
// one as its scheme says, and splits before each replacement character.
type metaspace struct {
	replacement rune
	str         string
	prepend     string // always, first, never
	splits      bool
}

func (m metaspace) split(dst []piece, p piece) []piece {
	s := strings.ReplaceAll(p.text, " ", m.str)
	if s == "" {
		return dst
	}
	if !strings.HasPrefix(s, m.str) && (m.prepend == "always" || (m.prepend == "first" && p.first)) {
		s = m.str + s
	}
	if !m.splits {
		return append(dst, piece{text: s, first: p.first})
	}
	// Each replacement character starts a new piece (merged with what follows).
	start := 0
	for i, r := range s {
		if r == m.replacement && i > start {
			dst = append(dst, piece{text: s[start:i], first: p.first && start == 0})
			start = i
		}
	}
	return append(dst, piece{text: s[start:], first: p.first && start == 0})
}
