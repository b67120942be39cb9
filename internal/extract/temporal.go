package extract

import (
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/memory"
)

// Temporal classifies a memory's text as memory-lancedb-pro's
// classifyTemporal and inferExpiry do (src/temporal-classifier.ts), with
// German added: typ is memory.TemporalDynamic when the text is
// time-sensitive ("today", "currently", "最近", "gerade") and
// memory.TemporalStatic otherwise; validUntil is when a text that names a
// near time stops being true, in unix milliseconds from now, and 0 when
// it names none:
//
//	day after tomorrow, 后天, übermorgen        now + 48h
//	tomorrow, 明天, morgen                      now + 24h
//	next week, 下周, nächste Woche              now + 7 days
//	this week, 这周, diese Woche                now + 3 days
//	next month, 下个月, nächsten Monat           now + 30 days
//	this month, 这个月, diesen Monat             now + 15 days
//	tonight, 今晚, heute Abend, heute Nacht     now + 12h
//	today, 今天, heute                          now + 18h
//
// The first row that matches wins. A text with an expiry is dynamic
// (memory-lancedb-pro leaves "next month" static while giving it an
// expiry). German "Morgen" is tomorrow only in lower case or at the start
// of a sentence, and never after heute, gestern, guten, jeden or am
// ("heute Morgen" is this morning).
func Temporal(text string, now time.Time) (typ string, validUntil int64) {
	typ = memory.TemporalStatic
	for _, r := range expiryRules {
		if r.match(text) {
			return memory.TemporalDynamic, now.Add(r.after).UnixMilli()
		}
	}
	if dynamicWords.MatchString(text) || containsAny(text, dynamicZH) || tomorrowDE(text) {
		typ = memory.TemporalDynamic
	}
	return typ, 0
}

// words compiles phrases matched case-insensitively as whole words (Go's
// \b knows only ASCII letters, and German words end in ü and ä).
func words(phrases ...string) *lazyre.Regexp {
	return lazyre.New(`(?i)(?:^|[^\pL\pN_])(?:` + strings.Join(phrases, "|") + `)(?:$|[^\pL\pN_])`)
}

type expiryRule struct {
	after    time.Duration
	re       *lazyre.Regexp
	zh       []string
	tomorrow bool // German "morgen", judged by tomorrowDE
}

func (r expiryRule) match(text string) bool {
	return r.re.MatchString(text) || containsAny(text, r.zh) || (r.tomorrow && tomorrowDE(text))
}

const day = 24 * time.Hour

var expiryRules = []expiryRule{
	{after: 2 * day, re: words(`day after tomorrow`, `übermorgen`), zh: []string{"后天"}},
	{after: day, re: words(`tomorrow`), zh: []string{"明天"}, tomorrow: true},
	{after: 7 * day, re: words(`next week`, `(?:nächste|nächsten|kommende|kommenden)\s+woche`), zh: []string{"下周"}},
	{after: 3 * day, re: words(`this week`, `(?:diese|dieser)\s+woche`), zh: []string{"这周"}},
	{after: 30 * day, re: words(`next month`, `(?:nächsten|nächster|kommenden)\s+monat`), zh: []string{"下个月"}},
	{after: 15 * day, re: words(`this month`, `(?:diesen|dieser|diesem)\s+monat`), zh: []string{"这个月"}},
	{after: 12 * time.Hour, re: words(`tonight`, `heute\s+(?:abend|nacht)`), zh: []string{"今晚"}},
	{after: 18 * time.Hour, re: words(`today`, `heute`), zh: []string{"今天"}},
}

var (
	dynamicWords = words(`today`, `yesterday`, `tomorrow`, `recently`, `currently`, `right now`, `this week`, `this month`,
		`last week`, `next week`, `this morning`, `tonight`, `later`,
		`heute`, `gestern`, `übermorgen`, `kürzlich`, `neulich`, `vor kurzem`, `gerade`, `zurzeit`, `zur zeit`, `derzeit`,
		`momentan`, `im moment`, `aktuell`, `später`, `(?:diese|dieser|letzte|letzten|nächste|nächsten)\s+woche`,
		`(?:diesen|dieser|nächsten|letzten)\s+monat`)
	dynamicZH = []string{"今天", "昨天", "明天", "最近", "正在", "刚才", "刚刚", "这周", "这个月", "上周", "下周", "目前", "现在",
		"今晚", "今早", "稍后", "待会"}
	morgenWord = words(`morgen`)
)

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// notTomorrow are the words after which "Morgen" is the morning.
var notTomorrow = map[string]bool{"heute": true, "gestern": true, "guten": true, "jeden": true, "am": true,
	"den": true, "diesen": true, "dem": true, "vom": true, "einen": true, "morgen": true, "schönen": true}

// tomorrowDE reports whether text says "morgen" meaning tomorrow.
func tomorrowDE(text string) bool {
	for _, loc := range morgenWord.FindAllStringIndex(text, -1) {
		i := loc[0]
		for i < loc[1] && !(i+6 <= len(text) && strings.EqualFold(text[i:i+6], "morgen")) {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
		}
		before := strings.TrimRightFunc(text[:i], unicode.IsSpace)
		prev := before
		if j := strings.LastIndexFunc(before, func(r rune) bool { return !unicode.IsLetter(r) }); j >= 0 {
			_, size := utf8.DecodeRuneInString(before[j:])
			prev = before[j+size:]
		}
		if notTomorrow[strings.ToLower(prev)] {
			continue
		}
		if text[i] == 'm' {
			return true
		}
		// "Morgen": a noun inside a sentence, "tomorrow" opening one.
		if prev == "" && (before == "" || strings.ContainsRune(".!?:;\n", lastRune(before))) {
			return true
		}
	}
	return false
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}
