// Package textlang is trove's one vocabulary for reading text: which
// characters are CJK or emoji, which whole texts are small talk
// (greetings, acknowledgements), an assistant's refusal, or a system
// marker rather than something a person said, and how words are stemmed
// (English, or German where a text is guessed German). Capture, recall,
// the text index and the recall-context hook all read it, so a text is
// judged the same way wherever it appears.
//
//	textlang.IsCJK('喝')                      // true
//	textlang.Noise("Good morning, team!")     // textlang.Greeting
//	textlang.Noise("ok, thanks")              // textlang.Acknowledgement
//	textlang.Noise("Hi Bob, the key is in 1P") // "": one segment says something
//	textlang.Stem("moving", textlang.English) // "move"
//	textlang.Stem("häuser", textlang.German)  // "haus"
package textlang

import (
	"strings"
	"unicode"
)

// IsCJK reports whether r is written without spaces between words: Han,
// Hiragana, Katakana or Hangul. U+30FC (the katakana long vowel mark, as
// in コーヒー) is script Common, but splitting words at it would break
// most loanwords, so it counts too.
func IsCJK(r rune) bool {
	if r < 0x1100 { // below Hangul Jamo there is nothing CJK
		return false
	}
	return r == 0x30FC || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// HasCJK reports whether s has any CJK character.
func HasCJK(s string) bool { return strings.IndexFunc(s, IsCJK) >= 0 }

// IsEmoji reports whether r is an emoji or a part of one (the pictograph
// blocks, dingbats and symbols, the variation selector and the
// zero-width joiner that build sequences).
func IsEmoji(r rune) bool {
	return r >= 0x1F000 && r <= 0x1FAFF || r >= 0x2600 && r <= 0x27BF || r == 0xFE0F || r == 0x200D
}

// OnlyEmoji reports whether s has at least one emoji and nothing else
// but space.
func OnlyEmoji(s string) bool {
	seen := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
		case IsEmoji(r):
			seen = true
		default:
			return false
		}
	}
	return seen
}
