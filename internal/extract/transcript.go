package extract

import (
	"github.com/trove-memory/trove/internal/lazyre"
	"strings"
	"unicode/utf8"

	"github.com/trove-memory/trove/internal/capture"
	"github.com/trove-memory/trove/internal/textlang"
)

// Message is one message of a conversation.
type Message = capture.Message

// TranscriptOptions shape the conversation shown to the extraction model.
type TranscriptOptions struct {
	// IncludeAssistant keeps the assistant's messages; by default only the
	// user's are shown (and only they can ground a memory).
	IncludeAssistant bool
	// MaxChars bounds the transcript, tags included, in characters
	// (runes); 0 means DefaultTranscriptChars.
	MaxChars int
}

// DefaultTranscriptChars is the transcript bound when MaxChars is 0.
const DefaultTranscriptChars = 8000

// The tags around each message of a transcript.
const (
	userOpen       = "<user_message>"
	userClose      = "</user_message>"
	assistantOpen  = "<assistant_message>"
	assistantClose = "</assistant_message>"
)

// Transcript renders msgs for the extraction prompt, oldest first, each
// message on its own lines between <user_message> and </user_message> (or
// the assistant's tags). Messages are cleaned (Clean); system and tool
// messages, assistant messages unless IncludeAssistant, and messages
// empty after cleaning are left out. When the whole does not fit in
// MaxChars, the newest whole messages that fit are kept; a message is
// never cut, except when the newest one alone is too long: then its start
// is cut off (at a character boundary, marked "…") and its end, the most
// recent words, kept.
//
// A tag typed inside a message ("</user_message>") is defused to
// ‹/user_message›, so no message can fake where another one begins.
func Transcript(msgs []Message, o TranscriptOptions) string {
	limit := o.MaxChars
	if limit <= 0 {
		limit = DefaultTranscriptChars
	}
	type block struct{ open, text, close string }
	var blocks []block
	for _, m := range msgs {
		open, close, ok := tags(m.Role, o.IncludeAssistant)
		if !ok {
			continue
		}
		text := Clean(m.Content)
		if text == "" {
			continue
		}
		blocks = append(blocks, block{open, defuseTags(text), close})
	}
	if len(blocks) == 0 {
		return ""
	}
	render := func(b block) string { return b.open + "\n" + b.text + "\n" + b.close }

	var kept []string // newest first
	used := 0
	for i := len(blocks) - 1; i >= 0; i-- {
		r := render(blocks[i])
		n := utf8.RuneCountInString(r)
		if len(kept) > 0 {
			n++ // the newline between blocks
		}
		if used+n <= limit {
			kept = append(kept, r)
			used += n
			continue
		}
		if len(kept) == 0 {
			// The newest message alone is too long: keep its end.
			b := blocks[i]
			room := limit - utf8.RuneCountInString(b.open+b.close) - 3 // two newlines and "…"
			if room > 0 {
				b.text = "…" + tail(b.text, room)
				kept = append(kept, render(b))
			}
		}
		break
	}
	var sb strings.Builder
	for i := len(kept) - 1; i >= 0; i-- {
		sb.WriteString(kept[i])
		if i > 0 {
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// tail returns the last n runes of s.
func tail(s string, n int) string {
	i := len(s)
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return s[i:]
}

// tags names the tags of a message from role, and whether the transcript
// keeps such messages at all.
func tags(role string, assistant bool) (open, close string, ok bool) {
	switch strings.ToLower(strings.TrimSpace(role)) {
	case "user":
		return userOpen, userClose, true
	case "assistant":
		return assistantOpen, assistantClose, assistant
	}
	return "", "", false
}

// UserMessages counts the user's messages that Transcript would show: the
// ones not empty after cleaning. The character bound plays no part.
func UserMessages(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		if _, _, ok := tags(m.Role, false); ok && Clean(m.Content) != "" {
			n++
		}
	}
	return n
}

// speakerTag matches a transcript tag written inside a message, with any
// padding, attributes or self-closing slash.
var speakerTag = lazyre.New(`(?i)<[\s\x{200B}-\x{200F}\x{2060}\x{FEFF}]*/?[\s\x{200B}-\x{200F}\x{2060}\x{FEFF}]*(?:user_message|assistant_message)\b[^<>]{0,200}>`)

func defuseTags(s string) string {
	return speakerTag.ReplaceAllStringFunc(s, func(t string) string {
		return "‹" + t[1:len(t)-1] + "›"
	})
}

// What a host or trove injects into a message. Each is removed by Clean.
var (
	// Context blocks: trove's recall block (service.RecallContext), and
	// the tags memory-lancedb-pro and agent hosts use for the same.
	injectedBlock = lazyre.New(`(?is)<(relevant-memories|system-reminder|memories|memory-context|recalled-memories)\b[^>]*>.*?</(?:relevant-memories|system-reminder|memories|memory-context|recalled-memories)\s*>`)
	// memory-lancedb-pro's untrusted-data frame, and OpenClaw's frame
	// around fetched external content (a web page, an email): neither is
	// the user's words.
	untrustedBlock = lazyre.New(`(?s)\[UNTRUSTED DATA[^\n\]]*\].*?\[END UNTRUSTED DATA\]|<<<EXTERNAL_UNTRUSTED_CONTENT\b.*?(?:<<<END_EXTERNAL_UNTRUSTED_CONTENT\b[^\n]*|$)`)
	// Channel envelopes: a label such as "Sender (untrusted metadata):"
	// followed by a fenced JSON block.
	envelopeBlock = lazyre.New("(?m)^[ \\t]*(?:Conversation info|Sender|Thread starter|Replied message|Forwarded message context|Chat history since last reply)\\s*\\(untrusted[^)\\n]*\\):[ \\t]*\\n```(?:json)?[ \\t]*\\n(?s:.*?)\\n[ \\t]*```[ \\t]*$")
	// Any fenced JSON block that is a message envelope (message_id and
	// sender_id).
	jsonFence = lazyre.New("(?s)```json[ \\t]*\\n.*?```")
	// "System: [2025-01-01 10:00:00 GMT+8] Feishu[acct] …" and "System:
	// [..] Exec completed …" lines.
	systemLine = lazyre.New(`(?m)^[ \t]*System:[ \t]*\[[0-9][0-9\-:+ .TZGMTUC/]*\][^\n]*$`)
	// Host markers on a line of their own.
	hostLine = lazyre.New(`(?m)^[ \t]*\[Queued messages while agent was busy\][ \t]*$`)
	// The session-reset preamble OpenClaw puts before the first message.
	resetPrefix = "A new session was started via /new or /reset."
	// A Discord mention id at the start: <@123456>.
	mentionPrefix = lazyre.New(`^<@!?[0-9]+>\s*`)
	// Sub-agent wrappers and their boilerplate.
	wrapperLine    = lazyre.New(`(?i)^\[(?:Subagent Context|Subagent Task)\][ \t]*`)
	wrapperNoise   = lazyre.New(`(?i)^(?:You are running as a subagent\b[^\n]*?(?:\.\s+|$)|Results auto-announce to your requester\.?\s*|do not busy-poll for status\.?\s*|Reply with a brief acknowledgment only\.?\s*|Do not use any memory tools\.?\s*)+`)
	blankLines     = lazyre.New(`\n[ \t]*\n(?:[ \t]*\n)+`)
	trailingSpaces = lazyre.New(`(?m)[ \t]+$`)
)

// Clean strips from a message what a host or trove put into it rather
// than what its author wrote: recalled-memory blocks (trove's
// <relevant-memories> and the like), untrusted-data and external-content
// frames, channel envelopes (sender and conversation metadata in fenced
// JSON, "System: [timestamp] …" lines), the session-reset preamble, a
// leading mention id and sub-agent wrappers. A message that is a host's
// or system's own (textlang.SystemMessage: heartbeats, "[System …",
// "New session …") cleans to "".
func Clean(content string) string {
	s := strings.ReplaceAll(content, "\r\n", "\n")
	s = injectedBlock.ReplaceAllString(s, "\n")
	s = untrustedBlock.ReplaceAllString(s, "\n")
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, resetPrefix) {
		if i := strings.Index(s, "\n\n"); i >= 0 {
			s = s[i+2:]
		} else {
			s = ""
		}
	}
	s = envelopeBlock.ReplaceAllString(s, "")
	s = jsonFence.ReplaceAllStringFunc(s, func(b string) string {
		if strings.Contains(b, `"message_id"`) && strings.Contains(b, `"sender_id"`) {
			return ""
		}
		return b
	})
	s = systemLine.ReplaceAllString(s, "")
	s = hostLine.ReplaceAllString(s, "")
	s = strings.TrimSpace(s)
	s = mentionPrefix.ReplaceAllString(s, "")
	s = stripWrappers(s)
	s = trailingSpaces.ReplaceAllString(s, "")
	s = strings.TrimSpace(blankLines.ReplaceAllString(s, "\n\n"))
	if textlang.SystemMessage(s) {
		return ""
	}
	return s
}

// stripWrappers removes the [Subagent Context] / [Subagent Task] lines
// that open a message, with the runtime's boilerplate on them or right
// after them; text after the wrapper on its line is kept. Wrappers later
// in the message are the user's own text (quoted, pasted) and stay.
func stripWrappers(s string) string {
	lines := strings.Split(s, "\n")
	wrapped := false
lines:
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
			continue
		case wrapperLine.MatchString(line):
			wrapped = true
			rest := wrapperNoise.ReplaceAllString(wrapperLine.ReplaceAllString(line, ""), "")
			lines[i] = strings.TrimSpace(rest)
			if lines[i] == "" {
				continue
			}
		case wrapped && wrapperNoise.MatchString(line):
			lines[i] = strings.TrimSpace(wrapperNoise.ReplaceAllString(line, ""))
			if lines[i] == "" {
				continue
			}
		}
		break lines
	}
	if !wrapped {
		return s
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
