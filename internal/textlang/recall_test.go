package textlang

import "testing"

func TestShellCommand(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"ls -la", true},
		{"git status", true},
		{"git commit -m 'fix the build'", true},
		{"npm install express", true},
		{"cd ..", true},
		{"sudo apt-get update", true},
		{"kubectl get pods -n billing", true},
		{"make -j8", true},
		{"go test ./...", true},
		{"cat README.md | grep trove", true},
		{"find . -name '*.go'", true},
		{"docker compose up -d --build", true},
		// Sentences.
		{"find my notes about the billing migration", false},
		{"make it faster", false},
		{"test the login flow on staging", false},
		{"go home", false},
		{"git keeps asking for my password on every single push", false},
		{"Git status", false},                      // capitalised: a sentence
		{"git status?", false},                     // a question
		{"git status\nand then what broke", false}, // more than one line
		{"python", true},
		{"deploy", false},
		{"", false},
	} {
		if got := ShellCommand(tc.text); got != tc.want {
			t.Errorf("ShellCommand(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestMemoryIntent(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"Do you remember the queue we picked?", true},
		{"what did we decide", true},
		{"What's my email?", true},
		{"Erinnerst du dich an den Server?", true},
		{"Weißt du noch, wie der Server hieß?", true},
		{"wie beim letzten Mal", true},
		{"Was ist mein Lieblingseditor?", true},
		{"Merk dir das", true},
		{"你还记得我叫什么吗", true},
		{"我叫什么名字", true},
		{"上次我们用的是哪个库", true},
		{"還記得嗎", true},
		{"Please refactor the billing client", false},
		{"Erinnerungen sind wichtig", false}, // a word that begins alike
		{"membership renewal", false},
		{"重构账单服务", false},
	} {
		if got := MemoryIntent(tc.text); got != tc.want {
			t.Errorf("MemoryIntent(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestStripEnvelope(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Conversation info (untrusted metadata):\n```json\n{\"message_id\": \"m1\"}\n```\n\nSender (untrusted metadata):\n```json\n{\"name\": \"Bob\"}\n```\n\nwhat did we pick?", "what did we pick?"},
		{"[cron:abc nightly report] git status", "git status"},
		{"[Mon 2026-03-02 04:21 GMT+8] ok", "ok"},
		{"  plain prompt  ", "plain prompt"},
		{"[note] keep this", "[note] keep this"},
	} {
		if got := StripEnvelope(tc.in); got != tc.want {
			t.Errorf("StripEnvelope(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
