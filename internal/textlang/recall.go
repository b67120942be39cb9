package textlang

import (
	"regexp"
	"strings"
)

// The vocabulary of the auto-recall gate (service.NeedsRecall): which
// prompts ask about the past, which are a shell command typed at an agent,
// and what a host wraps around a user's message.

// memoryIntent is how a prompt asks about what was said or stored before,
// in English, German and Chinese (simplified and traditional). Go's \b is
// an ASCII word boundary: the German words begin and end in ASCII letters.
var memoryIntent = regexp.MustCompile(`(?i)` +
	// English
	`\b(?:remember|recall|forgot|forget|memory|memories|last time|previously|earlier|before|yesterday|ago|` +
	`what did (?:i|we)|did i (?:tell|say|mention)|i (?:told|mentioned to) you|we (?:discussed|talked about|agreed)|as i said|` +
	`(?:what'?s|what is|do you know) my|who am i|` +
	`my (?:name|email|e-mail|phone|number|address|birthday|timezone|time zone|job|preferences?|favou?rite))\b|` +
	// German
	`\b(?:erinnerst du dich|erinnere dich|wei(?:ß|ss)t du noch|letzte[snm]? ?mal|beim letzten mal|vorher|gestern|neulich|` +
	`damals|fr(?:ü|ue)her|was (?:war|ist) mein|wie hei(?:ß|ss)e ich|wer bin ich|merke? dir|` +
	`hab(?:e)? ich (?:dir )?(?:gesagt|erw(?:ä|ae)hnt)|` +
	`mein(?:e)? (?:name|e-mail|email|telefonnummer|nummer|adresse|geburtstag|zeitzone|vorliebe))\b|` +
	// Chinese
	`记得|記得|记住|記住|之前|上次|上回|以前|那次|提到过|提到過|说过|說過|告诉过你|告訴過你|` +
	`我叫什么|我叫什麼|我叫甚麼|我的名字|我的邮箱|我的郵箱|我的电话|我的電話|我的地址|我的生日|我是谁|我是誰`)

// MemoryIntent reports whether a prompt asks about the past or about the
// user ("remember", "last time", "what did I say", "my name", "weißt du
// noch", "letztes Mal", "mein Name", 记得, 上次, 我叫什么 …): such a prompt
// is worth a recall however short it is.
func MemoryIntent(prompt string) bool { return memoryIntent.MatchString(prompt) }

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
	shellArg = regexp.MustCompile(`^(?:--?[A-Za-z0-9][\w-]*(?:=\S*)?|\.{1,2}(?:/\S*)?|~\S*|/\S+|\S*/\S*|\S+\.(?:js|ts|go|py|json|ya?ml|toml|txt|md|sh|log|lock)|\||\|\||&&|>>?|<|\S+=\S*|\$\S+|\*\S*)$`)
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
	if p == "" || strings.ContainsAny(p, "\n?？") || len(p) > 200 {
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
// metadata):" and "Sender (…):" blocks up to the next blank line, a
// "[cron:<job> <name>]" prefix, and a "[Mon 2026-03-02 04:21 GMT+8]"
// timestamp.
var (
	envelopeHeader = regexp.MustCompile(`(?im)^(?:Conversation info|Sender) \(untrusted metadata\):[\s\S]*?(?:\n\s*\n|\z)`)
	cronPrefix     = regexp.MustCompile(`(?i)^\[cron:[^\]]+\]\s*`)
	stampPrefix    = regexp.MustCompile(`^\[[A-Za-z]{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2} [^\]]+\]\s*`)
)

// StripEnvelope returns what the user typed: the prompt without the
// envelopes a host put around it.
func StripEnvelope(prompt string) string {
	s := envelopeHeader.ReplaceAllString(strings.TrimSpace(prompt), "")
	s = cronPrefix.ReplaceAllString(strings.TrimSpace(s), "")
	s = stampPrefix.ReplaceAllString(strings.TrimSpace(s), "")
	return strings.TrimSpace(s)
}
