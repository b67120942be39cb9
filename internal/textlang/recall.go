package textlang

import (
	"github.com/trove-memory/trove/internal/lazyre"
	"slices"
	"strings"
	"unicode"
)

// The vocabulary of the auto-recall gate (service.NeedsRecall): which
// prompts ask about the past, which are a shell command typed at an agent,
// and what a host wraps around a user's message.

// intentPhrases are how a prompt asks about what was said or stored
// before, in English, German and Chinese (simplified and traditional), in
// lower case; {a,b} stands for either. A Latin phrase matches whole words
// (memoryIntent), a CJK one anywhere. A table of phrases rather than one
// regular expression: Go's regexp runs a large case-folded alternation at
// some microseconds per byte, and the gate reads every prompt.
var intentPhrases = expand(
	// English
	"remember", "recall", "forgot", "forget", "memory", "memories", "last time", "previously", "earlier", "before",
	"yesterday", "ago", "what did {i,we}", "did i {tell,say,mention}", "i {told,mentioned to} you",
	"we {discussed,talked about,agreed}", "as i said", "{what's,whats,what is,do you know} my", "who am i",
	"my {name,email,e-mail,phone,number,address,birthday,timezone,time zone,job,preference,preferences,favorite,favourite}",
	// German
	"erinnerst du dich", "erinnere dich", "{weißt,weisst} du noch", "{letztes,letzte,letzten,letztem} mal", "letztesmal",
	"vorher", "gestern", "neulich", "damals", "{früher,frueher}", "was {war,ist} mein", "wie {heiße,heisse} ich",
	"wer bin ich", "{merk,merke} dir", "{hab,habe} ich {dir ,}{gesagt,erwähnt,erwaehnt}",
	"{mein,meine} {name,e-mail,email,telefonnummer,nummer,adresse,geburtstag,zeitzone,vorliebe}",
	// Chinese
	"记得", "記得", "记住", "記住", "之前", "上次", "上回", "以前", "那次", "提到过", "提到過", "说过", "說過", "告诉过你", "告訴過你",
	"我叫什么", "我叫什麼", "我叫甚麼", "我的名字", "我的邮箱", "我的郵箱", "我的电话", "我的電話", "我的地址", "我的生日", "我是谁", "我是誰",
)

// Phrases by their first word (Latin), and the CJK ones.
var intentByWord, intentCJK = func() (map[string][][]string, []string) {
	byWord := map[string][][]string{}
	var cjk []string
	for _, p := range intentPhrases {
		if HasCJK(p) {
			cjk = append(cjk, p)
			continue
		}
		w := strings.Fields(p)
		byWord[w[0]] = append(byWord[w[0]], w)
	}
	return byWord, cjk
}()

// expand writes out each phrase's {a,b} choices.
func expand(phrases ...string) []string {
	var out []string
	for _, p := range phrases {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			out = append(out, p)
			continue
		}
		j := i + strings.IndexByte(p[i:], '}')
		for _, alt := range strings.Split(p[i+1:j], ",") {
			out = append(out, expand(p[:i]+alt+p[j+1:])...)
		}
	}
	return out
}

// MemoryIntent reports whether a prompt asks about the past or about the
// user ("remember", "last time", "what did I say", "my name", "weißt du
// noch", "letztes Mal", "mein Name", 记得, 上次, 我叫什么 …): such a prompt
// is worth a recall however short it is.
func MemoryIntent(prompt string) bool {
	if HasCJK(prompt) {
		for _, p := range intentCJK {
			if strings.Contains(prompt, p) {
				return true
			}
		}
	}
	words := strings.FieldsFunc(strings.ToLower(prompt), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '\u2019' && r != '-'
	})
	for i, w := range words {
		for _, phrase := range intentByWord[strings.ReplaceAll(w, "\u2019", "'")] {
			if len(words)-i >= len(phrase) && slices.Equal(words[i+1:i+len(phrase)], phrase[1:]) {
				return true
			}
		}
	}
	return false
}

// Commands typed at an agent as they would be at a shell. Most names are
// nothing else; the ones that are English verbs as well ("find my notes",
// "make it faster", "test the login") count only with an argument no
// sentence has: a flag, a path, a pipe, an assignment.
var (
	shellOnly = setOf(`ls ll cd pwd git npm npx pnpm yarn pip pip3 pipx poetry docker kubectl curl wget grep rg sudo ` +
		`vim vi nano emacs mkdir rmdir rm mv cp chmod chown ssh scp rsync unzip brew apt apt-get dnf yum pacman ` +
		`systemctl journalctl ps killall htop df du cargo rustc gcc clang python python3 deno tsc gofmt terraform ` +
		`ansible cmake mvn gradle dotnet whoami`)
	shellVerbs = setOf(`run build test find start stop install open watch deploy echo source touch diff sort ` +
		`go make node which export head tail kill top less cat env ping bun tar helm`)
	// An argument only a command line has.
	shellArg = lazyre.New(`^(?:--?[A-Za-z0-9][\w-]*(?:=\S*)?|\.{1,2}(?:/\S*)?|~\S*|/\S+|\S*/\S*|\S+\.(?:js|ts|go|py|json|ya?ml|toml|txt|md|sh|log|lock)|\||\|\||&&|>>?|<|\S+=\S*|\$\S+|\*\S*)$`)
)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// ShellCommand reports whether a prompt is a command line ("ls -la", "git
// status", "npm install express", "cd ..", "sudo systemctl restart nginx")
// rather than something said: one line, no question, the command's name
// typed in lower case, and either a name that is only a command with at
// most four arguments, or arguments such as flags and paths that no
// sentence has.
func ShellCommand(prompt string) bool {
	p := strings.TrimSpace(prompt)
	if p == "" || len(p) > 200 || strings.ContainsAny(p, "\n?？") {
		return false
	}
	f := strings.Fields(p)
	name := f[0]
	if name == "sudo" && len(f) > 1 {
		return true
	}
	args := f[1:]
	shellish := false
	for _, a := range args {
		if shellArg.MatchString(a) {
			shellish = true
			break
		}
	}
	switch {
	case shellOnly[name]:
		return shellish || len(args) <= 4
	case shellVerbs[name]:
		return shellish
	}
	return false
}

// Host envelopes around a user's message (as memory-lancedb-pro strips
// them before gating): OpenClaw's "Conversation info (untrusted
// metadata):" and "Sender (untrusted metadata):" blocks up to the next
// blank line, a "[cron:<job> <name>]" prefix, and a "[Mon 2026-03-02 04:21
// GMT+8]" timestamp. They come first, so only the start is read.
var (
	envelopeHeaders = []string{"Conversation info (untrusted metadata):", "Sender (untrusted metadata):"}
	cronPrefix      = lazyre.New(`(?i)^\[cron:[^\]]+\]\s*`)
	stampPrefix     = lazyre.New(`^\[[A-Za-z]{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2} [^\]]+\]\s*`)
)

// StripEnvelope returns what the user typed: the prompt without the
// envelopes a host put around it.
func StripEnvelope(prompt string) string {
	s := strings.TrimSpace(prompt)
	for stripped := true; stripped; {
		stripped = false
		for _, h := range envelopeHeaders {
			if strings.HasPrefix(s, h) {
				s, stripped = strings.TrimSpace(afterBlankLine(s)), true
			}
		}
	}
	if len(s) > 0 && s[0] == '[' {
		s = strings.TrimSpace(cronPrefix.ReplaceAllString(s, ""))
		s = strings.TrimSpace(stampPrefix.ReplaceAllString(s, ""))
	}
	return s
}

// afterBlankLine returns what follows the first blank line of s, or "".
func afterBlankLine(s string) string {
	for rest := s; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if strings.TrimSpace(line) == "" {
			return rest
		}
	}
	return ""
}
