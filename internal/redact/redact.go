// Package redact finds secrets in text: API keys of common providers,
// tokens, private keys, passwords and long random strings. trove never
// stores a memory that holds one: smart capture rejects such a candidate,
// and text that must be shown or logged can be passed through Redact.
//
//	redact.Find("my key is sk-proj-4f9K...")  // [{Kind: "openai_key", Start: 10, End: ...}]
//	redact.Redact("password=hunter2")          // "password=[REDACTED:password]"
//
// Detection is by pattern, so it errs in both directions; the patterns
// are tuned to flag what a person pastes into a chat (a key, a token, a
// password they type out) and to leave alone what engineers talk about
// all day: UUIDs, git SHAs and other hex digests, URLs, file paths and
// code identifiers. A hex string is never flagged by itself, however long
// (it is nearly always a hash or an id); as the value of a key, token or
// secret assignment it is.
package redact

import (
	"encoding/base64"
	"encoding/json"
	"github.com/trove-memory/trove/internal/lazyre"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The kinds of secret Find reports. They are stable names: they appear in
// rejection reasons and in Redact's output.
const (
	PrivateKey    = "private_key"   // -----BEGIN ... PRIVATE KEY----- blocks
	AnthropicKey  = "anthropic_key" // sk-ant-...
	OpenAIKey     = "openai_key"    // sk-..., sk-proj-...
	GitHubToken   = "github_token"  // ghp_, gho_, ghs_, ghu_, ghr_, github_pat_
	SlackToken    = "slack_token"   // xoxb-, xoxp-, ...
	SlackWebhook  = "slack_webhook" // https://hooks.slack.com/services/...
	AWSKey        = "aws_key"       // AKIA..., ASIA...
	GoogleKey     = "google_key"    // AIza...
	StripeKey     = "stripe_key"    // sk_live_, rk_live_, sk_test_, rk_test_
	JWT           = "jwt"           // three base64url parts, the first a JSON header
	Password      = "password"      // password=..., "password": "...", my password is ..., 密码是...
	Bearer        = "bearer"        // Bearer <token>
	BasicAuth     = "basic_auth"    // Authorization: Basic <base64>
	URLPassword   = "url_password"  // scheme://user:password@host
	Secret        = "secret"        // api_key=..., token: ..., client_secret=...
	HighEntropy   = "high_entropy"  // a long random-looking token
	redactedStart = "[REDACTED"
)

// Finding is one secret in a text: its kind and its byte span.
type Finding struct {
	Kind       string
	Start, End int
}

// Find returns the secrets in text, in order, not overlapping. Where two
// detections overlap, the more specific kind wins (a provider's key over
// a generic assignment over a high-entropy token).
func Find(text string) []Finding {
	var f finder
	f.text = text
	f.lower = strings.ToLower(text)
	if strings.Contains(text, "-----BEGIN") {
		f.pem()
	}
	for _, p := range patterns {
		if !strings.Contains(f.lower, p.cue) {
			continue
		}
		for _, loc := range p.re.FindAllStringSubmatchIndex(text, -1) {
			start, end := loc[0], loc[1]
			if len(loc) >= 4 && loc[2] >= 0 { // the secret is group 1
				start, end = loc[2], loc[3]
			}
			if p.check == nil || p.check(text[start:end]) {
				f.add(p.kind, start, end)
			}
		}
	}
	f.assignments()
	f.highEntropy()
	return f.found
}

// Redact replaces every secret Find reports with [REDACTED:<kind>]. What
// is left holds nothing Find reports: a replacement can change how the
// text around it reads (a long value that was too long to be a password
// gets shorter), so Redact repeats until Find reports nothing (four
// rounds at most; in practice one, or two for contrived input).
func Redact(text string) string {
	for range 4 {
		found := Find(text)
		if len(found) == 0 {
			return text
		}
		text = replace(text, found)
	}
	return text
}

func replace(text string, found []Finding) string {
	var b strings.Builder
	last := 0
	for _, x := range found {
		b.WriteString(text[last:x.Start])
		b.WriteString(redactedStart + ":" + x.Kind + "]")
		last = x.End
	}
	b.WriteString(text[last:])
	return b.String()
}

type finder struct {
	text  string
	lower string // text in lower case, for the cues
	found []Finding
}

// add records a finding unless it overlaps one already recorded: the
// detectors run from the most specific to the least. found stays sorted
// by Start, so the check is a binary search.
func (f *finder) add(kind string, start, end int) {
	if start >= end {
		return
	}
	// i is the first finding starting at or after end; the one before it
	// is the only one that can overlap [start, end).
	i, _ := slices.BinarySearchFunc(f.found, end, func(x Finding, end int) int { return x.Start - end })
	if i > 0 && f.found[i-1].End > start {
		return
	}
	f.found = slices.Insert(f.found, i, Finding{Kind: kind, Start: start, End: end})
}

var (
	pemBegin = lazyre.New(`-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----`)
	pemEnd   = lazyre.New(`-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----`)
)

// pem finds private key blocks; one cut off before its END line runs to
// the end of the text.
func (f *finder) pem() {
	for i := 0; i < len(f.text); {
		b := pemBegin.FindStringIndex(f.text[i:])
		if b == nil {
			return
		}
		start, end := i+b[0], len(f.text)
		if e := pemEnd.FindStringIndex(f.text[i+b[1]:]); e != nil {
			end = i + b[1] + e[1]
		}
		f.add(PrivateKey, start, end)
		i = end
	}
}

type pattern struct {
	kind string
	// cue is a string every match contains (lower case): a text without
	// it is not searched, which keeps Find cheap on ordinary prose.
	cue   string
	re    *lazyre.Regexp
	check func(secret string) bool // nil: every match counts
}

// patterns are the provider formats, most specific first.
var patterns = []pattern{
	{AnthropicKey, "sk-ant-", lazyre.New(`\bsk-ant-[A-Za-z0-9_-]{20,}`), mixed},
	{StripeKey, "k_", lazyre.New(`\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}`), nil},
	{OpenAIKey, "sk-", lazyre.New(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`), func(s string) bool { return mixed(s) && variety(s) >= 10 }},
	{GitHubToken, "_", lazyre.New(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})`), nil},
	{SlackWebhook, "hooks.slack.com", lazyre.New(`https://hooks\.slack\.com/services/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9]+`), nil},
	{SlackToken, "xox", lazyre.New(`\bxox[abposr]-[A-Za-z0-9-]{10,}`), mixed},
	{AWSKey, "ia", lazyre.New(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`), nil},
	{GoogleKey, "aiza", lazyre.New(`\bAIza[0-9A-Za-z_-]{35}`), nil},
	{JWT, "eyj", lazyre.New(`\beyJ[A-Za-z0-9_-]{8,}={0,2}\.[A-Za-z0-9_-]{8,}={0,2}\.[A-Za-z0-9_-]*`), jwtHeader},
	{URLPassword, "://", lazyre.New(`(?i)\b[a-z][a-z0-9+.-]{0,20}://[^/\s:@]{1,128}:([^/\s@]{1,256})@`), func(s string) bool { return !placeholder(s) }},
	{BasicAuth, "basic", lazyre.New(`(?i)\bauthorization["']?\s*[:=]\s*["']?basic\s+([A-Za-z0-9+/]{8,}={0,2})`), nil},
	{Bearer, "bearer", lazyre.New(`(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)`), func(s string) bool { return hasDigit(s) || (hasUpper(s) && hasLower(s)) }},
}

// jwtHeader checks that a JWT's first part is a base64url JSON object.
func jwtHeader(tok string) bool {
	head, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(head, "="))
	if err != nil {
		return false
	}
	var obj map[string]any
	return json.Unmarshal(raw, &obj) == nil
}

var (
	// Password assignments: password=..., "password": "...", db_passwd: ...
	passwordAssign = lazyre.New(`(?i)(?:password|passwd|passwort|kennwort|passphrase|passcode|pwd)["']?\s*[:=]\s*`)
	// Password statements: my password is ..., the password for the NAS is ..., das Passwort ist ...
	passwordSaid = lazyre.New(`(?i)\b(?:password|passwort|kennwort|passphrase|passcode)(?:\s+(?:for|to|of|on|für|von|zum|zur)(?:\s+\S+){1,3}?)?\s+(?:is|was|ist|lautet|war)\s*:?\s+`)
	// Chinese: 密码是..., 密码为..., 密码：..., 口令是...
	passwordZH = lazyre.New(`(?:密码|口令)(?:是|为|：|:)\s*`)
	// Secret assignments: api_key=..., "token": "...", CLIENT_SECRET: ...
	secretAssign = lazyre.New(`(?i)(?:api[_-]?key|apikey|secret[_-]?key|secret|access[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|private[_-]?key|token)["']?\s*[:=]\s*`)
)

// assignments finds the values after password and secret labels.
func (f *finder) assignments() {
	if strings.Contains(f.lower, "pass") || strings.Contains(f.lower, "pwd") || strings.Contains(f.lower, "kennwort") {
		for _, loc := range passwordAssign.FindAllStringIndex(f.text, -1) {
			if s, e, ok := f.value(loc[1], false); ok {
				f.add(Password, s, e)
			}
		}
		for _, loc := range passwordSaid.FindAllStringIndex(f.text, -1) {
			if s, e, ok := f.value(loc[1], false); ok {
				f.add(Password, s, e)
			}
		}
	}
	if strings.Contains(f.text, "密码") || strings.Contains(f.text, "口令") {
		for _, loc := range passwordZH.FindAllStringIndex(f.text, -1) {
			if s, e, ok := f.value(loc[1], true); ok {
				f.add(Password, s, e)
			}
		}
	}
	if strings.Contains(f.lower, "key") || strings.Contains(f.lower, "token") || strings.Contains(f.lower, "secret") {
		for _, loc := range secretAssign.FindAllStringIndex(f.text, -1) {
			s, e, ok := f.value(loc[1], false)
			if ok && secretValue(f.text[s:e]) {
				f.add(Secret, s, e)
			}
		}
	}
}

// maxValue bounds a password or secret value: longer runs are not one,
// and the bound keeps Find linear on texts of repeated labels.
const maxValue = 256

// value reads the value that starts at i: a quoted string, or a token up
// to white space (or, in CJK text, up to CJK punctuation). An unquoted
// value counts only when it looks like a password rather than the next
// word of a sentence: it has a character other than a letter, or it ends
// its line ("password: swordfish").
func (f *finder) value(i int, cjk bool) (start, end int, ok bool) {
	t := f.text
	if i >= len(t) {
		return 0, 0, false
	}
	if q := t[i]; q == '"' || q == '\'' || q == '`' {
		j := strings.IndexByte(t[i+1:min(len(t), i+1+maxValue)], q)
		if j <= 0 || strings.ContainsAny(t[i+1:i+1+j], "\n") {
			return 0, 0, false
		}
		start, end = i+1, i+1+j
		return start, end, !placeholder(t[start:end])
	}
	end = i
	for end < len(t) {
		if end-i > maxValue {
			return 0, 0, false
		}
		r, size := utf8.DecodeRuneInString(t[end:])
		if unicode.IsSpace(r) || strings.ContainsRune(`"'<>,;`, r) || (cjk && strings.ContainsRune("，。；！？、）", r)) {
			break
		}
		end += size
	}
	// A full stop or closing bracket right after the value ends the
	// sentence, not the password ("... is swordfish."); '!' and '?' are
	// common in passwords and stay (over-redacting is the safe side).
	for end > i && strings.ContainsRune(".)]", rune(t[end-1])) && !strings.HasPrefix(t[i:end], redactedStart) {
		end--
	}
	v := t[i:end]
	if v == "" || placeholder(v) {
		return 0, 0, false
	}
	if cjk {
		// A password is typed in Latin letters and digits: "密码是错误的"
		// (the password is wrong) says nothing secret.
		return i, end, strings.ContainsFunc(v, func(r rune) bool { return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) })
	}
	if strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) }) {
		return i, end, true
	}
	if notAPassword[strings.ToLower(v)] {
		return 0, 0, false
	}
	rest := strings.TrimLeft(t[end:], ".!?)]\"' \t")
	return i, end, rest == "" || rest[0] == '\n' || rest[0] == '\r'
}

// notAPassword are the words that follow "password is" or "password:" in
// prose about passwords rather than in a disclosed one.
var notAPassword = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`required wrong incorrect invalid correct right expired missing empty blank
		set unset stored saved reset changed updated weak strong secure insecure long short same different
		hashed encrypted ok okay fine good bad mandatory needed necessary optional unknown known
		too not the a an in on at of case sensitive also still now there here none null nil true false
		falsch richtig erforderlich abgelaufen gespeichert leer geändert sicher unsicher`) {
		notAPassword[w] = true
	}
}

// placeholder reports values that stand for a secret without being one:
// a mask, a template variable, an environment reference, a redaction.
func placeholder(v string) bool {
	switch {
	case strings.HasPrefix(v, redactedStart), strings.HasPrefix(v, "$"), strings.HasPrefix(v, "{{"),
		strings.HasPrefix(v, "%("), strings.HasPrefix(v, "<"), strings.HasPrefix(v, "process.env"),
		strings.HasPrefix(v, "os.environ"), strings.HasPrefix(v, "os.Getenv"), strings.HasPrefix(v, "env."):
		return true
	}
	return strings.Trim(v, "*xX•.·") == ""
}

// secretValue reports whether the value of a key or token assignment looks
// like a credential rather than code or prose: at least 8 characters, no
// call or member access, and mixing letters with digits or long.
func secretValue(v string) bool {
	if len(v) < 8 || strings.ContainsAny(v, "()") {
		return false
	}
	return mixed(v) || len(v) >= 20 && variety(v) >= 10 && !isWords(v)
}

// isWords reports identifiers made of words: only letters and _ . - /.
func isWords(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool {
		return !unicode.IsLetter(r) && !strings.ContainsRune("_.-/", r)
	})
}

// Thresholds of the high-entropy rule, measured on random tokens and on
// what must not be flagged. Random base62/base64url tokens of 32
// characters average 4.55 bits of entropy per character (minimum seen in
// 10,000: 3.8), of 40 characters 4.76; code identifiers and paths of that
// length score 3.9 to 4.4, UUIDs 3.4, hex digests at most 4. Entropy alone
// cannot tell a long identifier from a key, so a token must also switch
// between lower case, upper case and digits at 30% or more of its
// characters (random base62 does so at about 62%, with 40% missed by
// under 1% of 32-character tokens; a camel-case identifier such as
// AbstractSingletonProxyFactoryBean2 switches at 30%).
//
// Tokens inside a URL are left to the named rules (token=, key=, a
// provider's key format): a URL's ids (a playlist, a document) are as
// random as a key and are not secrets.
const (
	minEntropyLen  = 32
	minEntropy     = 4.0
	minSwitchRatio = 0.4
)

var urlRe = lazyre.New(`(?i)\b[a-z][a-z0-9+.-]{0,20}://[^\s"'<>]+`)

// highEntropy flags long random-looking tokens not already found.
func (f *finder) highEntropy() {
	t := f.text
	var urls [][]int
	if strings.Contains(t, "://") {
		urls = urlRe.FindAllStringIndex(t, -1)
	}
	inURL := func(s, e int) bool { // urls are sorted and disjoint
		i, _ := slices.BinarySearchFunc(urls, s, func(u []int, s int) int { return u[0] - s })
		if i < len(urls) && urls[i][0] == s {
			return e <= urls[i][1]
		}
		return i > 0 && e <= urls[i-1][1]
	}
	for i := 0; i < len(t); {
		if !tokenByte(t[i]) {
			i++
			continue
		}
		j := i
		for j < len(t) && tokenByte(t[j]) {
			j++
		}
		// The parts of the token that no finding covers are judged on
		// their own, as they would be once the findings are redacted.
		var parts [][2]int
		k, _ := slices.BinarySearchFunc(f.found, i, func(x Finding, i int) int { return x.End - i - 1 })
		for s := i; s < j; {
			e := j
			if k < len(f.found) && f.found[k].Start < j {
				e = max(s, f.found[k].Start)
			}
			parts = append(parts, [2]int{s, e})
			if e == j {
				break
			}
			s = f.found[k].End
			k++
		}
		for _, p := range parts {
			f.entropyCheck(p[0], p[1], inURL)
		}
		i = j
	}
}

// entropyCheck flags t[s:e], trimmed of separators, when it is long and
// random-looking.
func (f *finder) entropyCheck(s, e int, inURL func(s, e int) bool) {
	t := f.text
	for s < e && (t[s] == '/' || t[s] == '-' || t[s] == '_' || t[s] == '+') {
		s++
	}
	for e > s && (t[e-1] == '/' || t[e-1] == '-' || t[e-1] == '_') {
		e--
	}
	if e-s >= minEntropyLen && randomToken(t[s:e]) && !inURL(s, e) {
		f.add(HighEntropy, s, e)
	}
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+/=_-", c) >= 0
}

func randomToken(s string) bool {
	if hexLike(s) || !mixed(s) {
		return false
	}
	return entropy(s) >= minEntropy && switchRatio(s) >= minSwitchRatio
}

// hexLike: hex digits and separators only (digests, git SHAs, UUIDs).
func hexLike(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// entropy is the Shannon entropy of s's bytes, in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h, n := 0.0, float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// switchRatio is the share of adjacent byte pairs in s that change class
// (lower case, upper case, digit, other).
func switchRatio(s string) float64 {
	if len(s) < 2 {
		return 0
	}
	class := func(c byte) int {
		switch {
		case c >= 'a' && c <= 'z':
			return 0
		case c >= 'A' && c <= 'Z':
			return 1
		case c >= '0' && c <= '9':
			return 2
		}
		return 3
	}
	n := 0
	for i := 1; i < len(s); i++ {
		if class(s[i]) != class(s[i-1]) {
			n++
		}
	}
	return float64(n) / float64(len(s)-1)
}

// mixed reports whether s has both a letter and a digit.
func mixed(s string) bool { return hasDigit(s) && strings.ContainsFunc(s, unicode.IsLetter) }

func hasDigit(s string) bool { return strings.ContainsFunc(s, unicode.IsDigit) }
func hasUpper(s string) bool { return strings.ContainsFunc(s, unicode.IsUpper) }
func hasLower(s string) bool { return strings.ContainsFunc(s, unicode.IsLower) }

// variety counts the distinct bytes of s.
func variety(s string) int {
	var seen [256]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			n++
		}
	}
	return n
}
