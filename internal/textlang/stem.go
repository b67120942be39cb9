package textlang

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/german"
)

// Lang is the language a text is stemmed in.
type Lang uint8

const (
	// Unknown: the text gives no sign either way (a short query, a name).
	// It is stemmed as English (see DocLang).
	Unknown Lang = iota
	English
	German
)

func (l Lang) String() string {
	switch l {
	case English:
		return "en"
	case German:
		return "de"
	}
	return "unknown"
}

// Guess tells English from German by general signs, never by what a data
// set happens to say: each word that is a function word of one language
// only (englishMarks, germanMarks) counts for it, and so does each word
// with an umlaut or ß, which English does not write. The language with
// more signs wins; with none, or as many of each, it is Unknown.
func Guess(text string) Lang {
	en, de := 0, 0
	// Marks are short ASCII words: a word is looked up only if it is one,
	// lower-cased in buf, so guessing allocates nothing.
	var buf [8]byte
	n, ascii, umlaut, in := 0, true, false, false
	end := func() {
		switch {
		case !in:
		case umlaut:
			de++
		case ascii && n <= len(buf):
			if englishMarks[string(buf[:n])] {
				en++
			} else if germanMarks[string(buf[:n])] {
				de++
			}
		}
		n, ascii, umlaut, in = 0, true, false, false
	}
	for _, r := range text {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			end()
			continue
		}
		in = true
		switch {
		case r < utf8.RuneSelf:
			if n < len(buf) {
				c := byte(r)
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf[n] = c
			}
			n++
		case strings.ContainsRune("äöüßÄÖÜ", r):
			umlaut, ascii = true, false
		default:
			ascii = false
		}
	}
	end()
	switch {
	case de > en:
		return German
	case en > de:
		return English
	}
	return Unknown
}

// DocLang is the language a text is stemmed in, a document or a query
// alike: German only when it is guessed German, English otherwise (most
// memories are English, and a text in a third language meets the same
// stemmer in its queries).
func DocLang(text string) Lang {
	if Guess(text) == German {
		return German
	}
	return English
}

// Stem returns the Snowball stem of one lower-case word in lang (English
// for Unknown): "moved"/"moving" → "move", "hikes"/"hiking" → "hike",
// German "häuser"/"haus" → "haus". A word is stemmed only if it is made of
// Latin letters alone and has at least three of them; anything else (a
// number, an identifier with digits, another script) is returned as it
// is. The text index, its queries and the relevance floor all stem
// through here, so they agree.
func Stem(w string, lang Lang) string {
	if len(w) < 3 || !latinLower(w) {
		return w
	}
	env := envPool.Get().(*snowballstem.Env)
	defer envPool.Put(env)
	env.SetCurrent(w)
	if lang == German {
		german.Stem(env)
	} else {
		english.Stem(env)
	}
	if s := env.Current(); s != "" {
		return s
	}
	return w
}

var envPool = sync.Pool{New: func() any { return snowballstem.NewEnv("") }}

func latinLower(w string) bool {
	for _, r := range w {
		if r < utf8.RuneSelf {
			if r < 'a' || r > 'z' {
				return false
			}
			continue
		}
		if !unicode.Is(unicode.Latin, r) || !unicode.IsLower(r) {
			return false
		}
	}
	return true
}

// StemText returns text with every word of Latin letters that has a
// shorter stem in lang replaced by it, and everything else left as it is: the
// words stay where they were, one for one, so a tokenizer finds as many
// tokens in the result (the same positions, the same phrases) as in the
// text. A word is a run of letters and digits, as SQLite's unicode61
// tokenizer cuts them.
func StemText(text string, lang Lang) string {
	var b strings.Builder
	last := 0
	forEachWord(text, func(w string, start, end int) {
		s := Stem(w, lang)
		if s == w {
			return // the word as written (the index folds its case)
		}
		if b.Len() == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[last:start])
		b.WriteString(s)
		last = end
	})
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// forEachWord calls fn with each run of letters and digits in text,
// lower-cased, and where it is.
func forEachWord(text string, fn func(w string, start, end int)) {
	start := -1
	lower := true
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			if start < 0 {
				start, lower = i, true
			}
			if !unicode.IsLower(r) && unicode.IsLetter(r) {
				lower = false
			}
			continue
		}
		if start >= 0 {
			emitWord(text[start:i], start, i, lower, fn)
			start = -1
		}
	}
	if start >= 0 {
		emitWord(text[start:], start, len(text), lower, fn)
	}
}

func emitWord(w string, start, end int, lower bool, fn func(string, int, int)) {
	if !lower {
		w = strings.ToLower(w)
	}
	fn(w, start, end)
}

// englishMarks and germanMarks are function words of one language that
// the other does not use as words ("die" and "will" are words of both and
// so are neither).
var englishMarks, germanMarks = map[string]bool{}, map[string]bool{}

func init() {
	for _, w := range strings.Fields(`the and is are were of to with that this it for on be
		have has had not but from they we you he she what which their there been would could should
		my your our its at by or if into about than then when where who how`) {
		englishMarks[w] = true
	}
	for _, w := range strings.Fields(`der das den dem des ein eine einen einem einer und ist sind war waren
		nicht mit von zu auf für ich du er wir ihr sie es sich auch noch nur oder aber wenn dass
		bei nach aus wie wird werden hat haben kann mein meine dein deine unser ist im vom zum zur
		ja nein sehr schon mehr immer`) {
		germanMarks[w] = true
	}
}
