package memory

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scope names who a memory belongs to. The grammar is memory-lancedb-pro's:
// the built-in kinds "global", "agent:<id>", "user:<id>", "project:<id>",
// "custom:<name>" and "reflection:agent:<id>", and any other name a
// configuration declares (its scopes.definitions), written with letters,
// digits and . _ : - (at most 100 characters).
//
// ParseScope checks only that a name is well formed: whether a declared
// name is in fact declared is known where the configuration is (the
// service refuses writes to undeclared names; an import keeps them and
// lists them). This package stays free of configuration.
type Scope string

// GlobalScope is the scope every agent reaches by default.
const GlobalScope Scope = "global"

// scopeKinds are the built-in kinds "<kind>:<name>". "reflection" takes
// only "reflection:agent:<id>".
var scopeKinds = []string{"agent", "user", "project", "custom", "reflection"}

const (
	maxScopeBytes = 200
	// MaxDeclaredScopeBytes bounds a declared (non-built-in) scope name,
	// as memory-lancedb-pro's scope manager does.
	MaxDeclaredScopeBytes = 100
)

const scopeHint = `use "global", "agent:<id>", "user:<id>", "project:<id>", "custom:<name>", "reflection:agent:<id>", or a name declared in the config's scopes.definitions`

// ParseScope validates a scope string. A built-in kind's name part may hold
// letters, digits and "-_.@/:"; a declared name letters, digits and
// "._:-". Nothing else, so scopes are safe to show and to log.
func ParseScope(s string) (Scope, error) {
	if s == string(GlobalScope) {
		return GlobalScope, nil
	}
	if s == "" {
		return "", Invalidf("scope is empty: %s", scopeHint)
	}
	if len(s) > maxScopeBytes || !utf8.ValidString(s) {
		return "", Invalidf("scope %q is too long or not UTF-8: %s", truncate(s, 40), scopeHint)
	}
	kind, name, ok := strings.Cut(s, ":")
	if ok && isKind(kind) {
		if kind == "reflection" {
			rest, found := strings.CutPrefix(name, "agent:")
			if !found {
				return "", Invalidf("scope %q is malformed: reflection scopes are reflection:agent:<id>", s)
			}
			name = rest
		}
		if name == "" {
			return "", Invalidf("scope %q has an empty name: %s", s, scopeHint)
		}
		for _, r := range name {
			if !(r == '-' || r == '_' || r == '.' || r == '@' || r == '/' || r == ':' ||
				r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
				return "", Invalidf("scope %q contains %q: names may use letters, digits and - _ . @ / :", s, r)
			}
		}
		return Scope(s), nil
	}
	if err := CheckDeclaredName(s); err != nil {
		return "", err
	}
	return Scope(s), nil
}

// CheckDeclaredName checks the shape of a name a configuration may declare
// as a scope: ^[A-Za-z0-9._:-]{1,100}$, as memory-lancedb-pro requires.
func CheckDeclaredName(s string) error {
	if s == "" || len(s) > MaxDeclaredScopeBytes {
		return Invalidf("scope %q is not a valid scope name (a declared name has 1 to %d characters): %s", truncate(s, 40), MaxDeclaredScopeBytes, scopeHint)
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return Invalidf("scope %q contains %q: declared scope names may use letters, digits and . _ : - (%s)", truncate(s, 40), r, scopeHint)
		}
	}
	return nil
}

func isKind(k string) bool {
	for _, x := range scopeKinds {
		if k == x {
			return true
		}
	}
	return false
}

// BuiltIn reports whether s is one of the built-in forms (global and the
// kinds), which need no declaration. s must have been parsed.
func (s Scope) BuiltIn() bool {
	if s == GlobalScope {
		return true
	}
	kind, _, ok := strings.Cut(string(s), ":")
	return ok && isKind(kind)
}

// AgentScope returns "agent:<id>".
func AgentScope(agentID string) Scope { return Scope("agent:" + agentID) }

// ReflectionScope returns "reflection:agent:<id>", where an agent's
// reflections live.
func ReflectionScope(agentID string) Scope { return Scope("reflection:agent:" + agentID) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
