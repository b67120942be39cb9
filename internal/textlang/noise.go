package textlang

import (
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Noise recognises texts that carry no information: an assistant's
// refusal, a greeting, a bare acknowledgement. Stored, they match every
// query a little; as a prompt, they need no recall; as a statement, they
// are not worth capturing.
//
// Greetings and acknowledgements are recognised only as whole texts. The
// text is cut into segments at sentence punctuation, and every segment
// must be a greeting or acknowledgement phrase ("Hi Bob!", "ok, thanks",
// "Danke, alles klar", "好的，谢谢"), or the one word of address after one
// ("good morning, team"). Phrases match as whole words, so "History of the project",
// "Hiking on Sundays", "Okinawa trip" and "Thanksgiving plans" are kept
// (memory-lancedb-pro's filter, matching a prefix, dropped every text
// starting with "Hi"), and so is "Hi Bob, the deploy key is …": one of its
// segments says something.
//
// Refusals are recognised by how they begin, and only in the forms an
// assistant uses ("I'm sorry, but I can't help with that", "As an AI, …",
// "抱歉，我无法提供…"): "I'm sorry, but I can't make Friday's meeting" is a
// user's statement worth keeping, so the verb after "can't" must be one of
// an assistant's (help, assist, provide, comply, …).

// The kinds of noise Noise reports.
const (
	Refusal         = "refusal"
	Greeting        = "greeting"
	Acknowledgement = "acknowledgement"
	NoWords         = "no words" // only punctuation, emoji or space
)

var (
	refusalPatterns = []*lazyre.Regexp{
		// "I'm sorry, but I can't help with that", "Sorry, I cannot provide …"
		lazyre.New(`^(?:(?:i'm|i am|im)(?: so| very| really| truly)? )?sorry[,.!]?(?: but)?,? i(?: can't| cannot| can not| won't| am unable to|'m unable to| am not able to|'m not able to| am not allowed to) (?:help|assist|provide|comply|fulfill|fulfil|answer|generate|engage|support|do that|do this|share that|give you|offer|create that|write that|continue with|discuss that|respond)\b`),
		// "I cannot help with that", "I can't assist you with this request"
		lazyre.New(`^i(?: can't| cannot| can not| won't| am unable to|'m unable to| am not able to|'m not able to) (?:help|assist)(?: you)?(?: with)? (?:that|this|your request|the request|such requests?)\b`),
		lazyre.New(`^i(?: can't| cannot| can not| won't| am unable to|'m unable to| am not able to|'m not able to) (?:comply|fulfill|fulfil)(?: with)?(?: that| this| your| the)? ?request\b`),
		// "As an AI, …", "As an AI language model, I …", "As a language model, …"
		lazyre.New(`^as an ai(?: language model| assistant| model| chatbot)?(?:,| i\b)`),
		lazyre.New(`^as an? (?:large )?language model(?:,| i\b)`),
		// Memory tools' own empty answers.
		lazyre.New(`^no (?:relevant )?memories (?:were )?found\b`),
		// "抱歉，我无法提供…", "对不起，我不能帮助…", "很抱歉，但我无法回答…"
		lazyre.New(`^(?:很|非常|十分)?(?:抱歉|对不起|不好意思)[，,。.！! ]*(?:但是?)?[，, ]*我?(?:无法|不能|没法|没办法|不可以)(?:为你|为您|帮你|帮您)?(?:帮助|协助|提供|回答|完成|满足|处理|执行|生成|回复|讨论|参与)`),
		// "作为一个AI，…", "作为人工智能语言模型，…"
		lazyre.New(`^作为(?:一个|一名)?(?:ai|人工智能)(?:语言模型|助手|模型)?[，,]`),
		// "我无法满足这个请求"
		lazyre.New(`^我(?:无法|不能)(?:帮助|协助|满足|完成|处理)(?:你|您)?(?:的)?(?:这个|此|该|这一)?请求`),
	}

	// The first letters of refusalPatterns: other texts skip them.
	refusalStarts = "isan很非十抱对不作我"

	// A greeting may name whom it greets ("hi bob", "hello there", "good
	// morning team"), and so may thanks ("thanks bob").
	addressable = `(?:hi|hello|hey|heya|hiya|howdy|greetings|good ?(?:morning|afternoon|evening|night|day)|` +
		`thanks|thank you|thanks a lot|thanks so much|thank you so much|thank you very much|thanks again|many thanks|thx|cheers|` +
		germanGreeting + `|danke|danke sch(?:ö|oe)n|vielen dank)`
	// German greetings and go-aheads ("Hallo!", "Danke, passt", "alles klar").
	germanGreeting = `(?:hallo|servus|moin|guten ?(?:morgen|tag|abend))`
	germanAck      = `(?:ja|jo|nein|genau|alles klar|passt|gut|super|prima|verstanden|weiter|mach weiter|mach das|bitte|klar|gerne)`
	// The rest stand alone: "no sugar" is a preference, not a "no", and
	// "morning run" is not a greeting.
	// The go-aheads at the end ("continue", "lgtm") are what a user types
	// to let an agent carry on: no memory, and nothing to recall for.
	standalone = `(?:yo|sup|what'?s up|how are you(?: doing)?(?: today)?|how's it going|ty|tysm|` +
		`ok|okay|okey|okie|k|kk|got it|gotcha|sure|sure thing|of course|yes|yep|yeah|yup|ya|no|nope|nah|` +
		`alright|all right|cool|great|nice|perfect|awesome|noted|understood|roger|roger that|sounds good|will do|` +
		`np|no problem|no worries|you're welcome|welcome|my pleasure|lol|haha|hahaha|hmm|mhm|uh huh|please|` +
		`fine|good|done|next|continue|proceed|go ahead|do it|lgtm|` + germanAck + `)`
	latinPhrase      = `(?:` + addressable + `(?: \pL+)?|` + standalone + `)`
	latinSmallTalk   = lazyre.New(`^` + latinPhrase + `(?: ` + latinPhrase + `)*$`)
	latinAddressable = lazyre.New(`^` + addressable + `$`)
	latinWord        = lazyre.New(`^\pL+$`)
	latinGreetStart  = lazyre.New(`^(?:hi|hello|hey|heya|hiya|howdy|greetings|good ?(?:morning|afternoon|evening|night|day)|yo|sup|what'?s up|how are you|how's it going|` + germanGreeting + `)\b`)

	cjkGreeting      = `(?:你好|您好|嗨|哈喽|哈啰|早上好|早安|早|中午好|下午好|晚上好|晚安|大家好|在吗|在不在|你们好)`
	cjkAck           = `(?:谢谢|多谢|感谢|谢了|辛苦了|好的|好吧|好滴|好嘞|好|嗯+|哦+|噢|行|可以|收到|明白了?|了解|知道了|懂了|没问题|不客气|不用谢|是的|对|继续|开始|ok|okay)`
	cjkSmallTalk     = lazyre.New(`^(?:(?:` + cjkGreeting + `|` + cjkAck + `)(?:你|您|大家|老师)?[呀啊哦啦吗呢哈嘛的吧~]*)+$`)
	cjkGreetingStart = lazyre.New(`^` + cjkGreeting)

	// Where a text is cut into segments.
	segmentBreaks = ",.!?;:…，。！？；：、~～"
)

// Noise says which kind of noise text is (Refusal, Greeting,
// Acknowledgement or NoWords), or "" when it may say something.
func Noise(text string) string {
	if !strings.ContainsFunc(text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) {
		return NoWords
	}
	// Refusals are judged by their start and small talk is short, so a long
	// text is only normalised as far as its start.
	long := len(text) > 1024
	if long {
		cut := 256
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	t := normaliseNoiseText(text)
	if first, _ := utf8.DecodeRuneInString(t); strings.ContainsRune(refusalStarts, first) {
		for _, re := range refusalPatterns {
			if re.MatchString(t) {
				return Refusal
			}
		}
	}
	if long || len(t) > 200 {
		return ""
	}
	var segs []string
	for _, s := range strings.FieldsFunc(t, func(r rune) bool { return strings.ContainsRune(segmentBreaks, r) }) {
		if s = strings.TrimSpace(s); s != "" {
			segs = append(segs, s)
		}
	}
	for i, s := range segs {
		switch {
		case len(s) > 48:
			return "" // longer than any run of small-talk phrases
		case latinSmallTalk.MatchString(s), !isASCII(s) && cjkSmallTalk.MatchString(s):
		case i > 0 && latinAddressable.MatchString(segs[i-1]) && latinWord.MatchString(s):
			// "good morning, team", "thanks, Bob"
		default:
			return ""
		}
	}
	if latinGreetStart.MatchString(segs[0]) || cjkGreetingStart.MatchString(segs[0]) {
		return Greeting
	}
	return Acknowledgement
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normaliseNoiseText lowercases text, straightens quotes, turns symbols
// (emoji) into spaces and collapses runs of space.
func normaliseNoiseText(text string) string {
	t := strings.Map(func(r rune) rune {
		switch {
		case r == '\u2019' || r == '\u2018' || r == '`' || r == '\u00b4':
			return '\''
		case r == '\u200d' || (r >= '\ufe00' && r <= '\ufe0f'):
			return -1 // zero-width joiner, variation selectors (emoji parts)
		case unicode.IsSymbol(r) || unicode.IsSpace(r) || unicode.IsControl(r):
			return ' '
		}
		return unicode.ToLower(r)
	}, text)
	return strings.Join(strings.Fields(t), " ")
}

// systemMarker is how messages that no person wrote begin: a host's
// heartbeat, a system notice, a session-start marker.
var systemMarker = lazyre.New(`(?i)^(?:heartbeat|\[system|new session|fresh session)`)

// SystemMessage reports whether text is a host's or system's message
// rather than something a person said.
func SystemMessage(text string) bool { return systemMarker.MatchString(strings.TrimSpace(text)) }
