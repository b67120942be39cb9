package memory

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParseScope: scopes arrive from flags, config files, REST bodies and
// MCP tool arguments, and end up in SQL parameters, log lines and error
// messages. ParseScope must never panic; what it accepts must be short,
// printable, free of quotes, semicolons and whitespace, and parse again to
// itself; what it refuses must be ErrInvalid with a message that names the
// allowed forms.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"global", "agent:main", "user:alice@example.com", "project:atlas/api", "custom:notes-2026", "agent:研究员",
		"agent:a:b", "agent:", ":x", "agent", "Global", "team:x", "agent:x y", "agent:x'", `agent:"x"`, "agent:x;DROP TABLE memories",
		"agent:x\x00", "agent:\xff", "agent:x\n", "agent:x\u200b", "agent:x\u00a0", "agent:ａ", "agent:x\u202e", "agent:e\u0301",
		"agent:" + strings.Repeat("a", 194), "agent:" + strings.Repeat("a", 195), "agent:" + strings.Repeat("研", 65),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			if sc != "" {
				t.Fatalf("ParseScope(%q) returned %q with error %v", s, sc, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseScope(%q): error %v is not ErrInvalid", s, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "global") && !strings.Contains(msg, "names may use") && !strings.Contains(msg, "reflection:agent:<id>") {
				t.Fatalf("ParseScope(%q): error %q does not say what a scope may be", s, msg)
			}
			return
		}
		if string(sc) != s {
			t.Fatalf("ParseScope(%q) = %q: an accepted scope must be returned as given", s, sc)
		}
		if again, err := ParseScope(string(sc)); err != nil || again != sc {
			t.Fatalf("ParseScope(%q) = %q, %v: an accepted scope must parse to itself", sc, again, err)
		}
		if len(s) > maxScopeBytes {
			t.Fatalf("accepted a scope of %d bytes (limit %d)", len(s), maxScopeBytes)
		}
		if !utf8.ValidString(s) {
			t.Fatalf("accepted invalid UTF-8 %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || !unicode.IsPrint(r) ||
				strings.ContainsRune("\"'`;", r) {
				t.Fatalf("accepted %q holding %U", s, r)
			}
		}
		if !sc.BuiltIn() {
			// Anything else must have the shape of a declared name.
			if len(s) > MaxDeclaredScopeBytes || CheckDeclaredName(s) != nil {
				t.Fatalf("accepted %q, neither built in nor a declarable name", s)
			}
		} else if s != string(GlobalScope) {
			if _, name, ok := strings.Cut(s, ":"); !ok || name == "" {
				t.Fatalf("accepted %q without a kind and a name", s)
			}
		}
	})
}
