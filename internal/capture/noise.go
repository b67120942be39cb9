package capture

import (
	"fmt"
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/textlang"
)

var (
	question   = lazyre.New(`(?i)[?？]\s*$|[吗呢]\s*[。.!！]?\s*$|^(?:do|did|can|could|would|will) you\b`)
	metaMemory = lazyre.New(`(?i)\b(?:do|can|did) you (?:remember|recall|know about)\b|\b(?:did|have) I (?:tell|told|mention|mentioned|say|said|share|shared)\b|\bwhat did I (?:tell|say|mention)\b|你(?:还)?记得|我(?:有没有|是否|之前)(?:说过|提到过|告诉过)`)
	denial     = lazyre.New(`(?i)\bI (?:don'?t|do not) have (?:any )?(?:information|data|memory|memories|record|access)\b|\bI'?m not sure about\b|\bI (?:don'?t|do not) (?:recall|remember)\b|\bit looks like I (?:don'?t|do not)\b|\bI (?:wasn'?t|was not) able to find\b|\bno (?:relevant )?memories (?:were )?found\b|我不记得|没有找到相关`)
	secretWord = lazyre.New(`(?i)\b(?:password|passwd|passphrase|passcode|pin code|api[\s_-]?keys?|secret|access[\s_-]?token|auth[\s_-]?token|bearer|private[\s_-]?key|credit card|card number|cvv|ssn|social security number)\b|密码|口令|密钥|私钥|信用卡|身份证号`)
	secretLike = lazyre.New(`\b(?:sk|pk|rk|ghp|gho|ghs|github_pat|xox[abpr]|AKIA|AIza)[-_A-Za-z0-9]{12,}|\b[A-Za-z0-9+/_=-]{32,}\b|-----BEGIN`)
	codeChars  = lazyre.New(`[{};=<>$\\|]`)
)

// Noise says why text is not worth storing as a memory, or "" when it may
// be. It rejects what is too short or long, questions and talk about
// memory itself, an assistant saying what it does not know, greetings and
// session boilerplate, anything that looks like a secret, markup, code and
// strings of emoji.
func Noise(text string) string {
	t := strings.TrimSpace(text)
	n, cjk, emoji, letters := 0, 0, 0, 0
	for _, r := range t {
		n++
		switch {
		case textlang.IsCJK(r):
			cjk++
		case textlang.IsEmoji(r):
			emoji++
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			letters++
		}
	}
	min := minRunes
	if cjk > 0 {
		min = minRunesCJK
	}
	switch {
	case n < min:
		return "too short to be a statement"
	case n > MaxStatementRunes:
		return fmt.Sprintf("too long for an explicit statement (over %d characters): store it directly if it matters", MaxStatementRunes)
	case secretWord.MatchString(t) || secretLike.MatchString(t):
		return "looks like a secret (password, key or token): secrets are never captured"
	case isBoilerplate(t):
		return "greeting or session boilerplate"
	case metaMemory.MatchString(t):
		return "asks about memory itself, not a statement"
	case question.MatchString(t):
		return "a question, not a statement"
	case denial.MatchString(t):
		return "says what is not known, not a fact"
	case strings.HasPrefix(t, "<") && strings.Contains(t, ">"):
		return "markup or injected context, not a statement"
	case len(codeChars.FindAllStringIndex(t, 5)) >= 4:
		return "looks like code, not a statement"
	case emoji > 0 && emoji*2 >= emoji+letters+cjk:
		return "mostly emoji"
	}
	return ""
}

// isBoilerplate reports small talk (a greeting or acknowledgement, see
// textlang.Noise) and system markers. An assistant-style refusal is not
// boilerplate here: capture only reads what the user said, and "sorry, I
// can't help with the move on Saturday" is the user's own news.
func isBoilerplate(t string) bool {
	switch textlang.Noise(t) {
	case textlang.Greeting, textlang.Acknowledgement:
		return true
	}
	return textlang.SystemMessage(t)
}

// minStoreRunes is the shortest text memory_store keeps.
const minStoreRunes = 5

// StoreNoise says why text given to memory_store is noise, or "" when it
// may be stored. It is narrower than Noise (an agent chose to store it):
// only what is too short, small talk and session boilerplate, questions
// about memory itself and an assistant saying what it does not know.
func StoreNoise(text string) string {
	t := strings.TrimSpace(text)
	switch {
	case utf8.RuneCountInString(t) < minStoreRunes:
		return fmt.Sprintf("under %d characters: too short to be a memory", minStoreRunes)
	case isBoilerplate(t):
		return "a greeting, acknowledgement or session boilerplate"
	case metaMemory.MatchString(t):
		return "a question about memory itself, not a statement"
	case denial.MatchString(t):
		return "says what is not known, not a fact"
	}
	return ""
}
