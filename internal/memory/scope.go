package memory

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scope names who a memory belongs to: "global", "agent:<id>", "user:<id>",
// "project:<id>" or "custom:<name>".
type Scope string

// GlobalScope is the default scope of new memories.
const GlobalScope Scope = "global"

var scopeKinds = []string{"agent", "user", "project", "custom"}

const maxScopeBytes = 200

// ParseScope validates a scope string. The name part may hold letters,
// digits and "-_.@/:"; nothing else, so scopes are safe to show and to log.
func ParseScope(s string) (Scope, error) {
	if s == string(GlobalScope) {
		return GlobalScope, nil
	}
	const hint = `use "global", "agent:<id>", "user:<id>", "project:<id>" or "custom:<name>"`
	if s == "" {
		return "", Invalidf("scope is empty: %s", hint)
	}
	if len(s) > maxScopeBytes || !utf8.ValidString(s) {
		return "", Invalidf("scope %q is too long or not UTF-8: %s", truncate(s, 40), hint)
	}
	kind, name, ok := strings.Cut(s, ":")
	if !ok {
		return "", Invalidf("scope %q is malformed: %s", s, hint)
	}
	known := false
	for _, k := range scopeKinds {
		if kind == k {
			known = true
		}
	}
	if !known {
		return "", Invalidf("scope %q has unknown kind %q: %s", s, kind, hint)
	}
	if name == "" {
		return "", Invalidf("scope %q has an empty name: %s", s, hint)
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r == '.' || r == '@' || r == '/' || r == ':' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return "", Invalidf("scope %q contains %q: names may use letters, digits and - _ . @ / :", s, r)
		}
	}
	return Scope(s), nil
}

// AgentScope returns "agent:<id>".
func AgentScope(agentID string) Scope { return Scope("agent:" + agentID) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
