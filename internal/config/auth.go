package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/trove-memory/trove/internal/memory"
)

// MinTokenLen is the shortest bearer token the server accepts.
const MinTokenLen = 16

// Auth binds the server's bearer tokens to principals.
type Auth struct {
	// Tokens maps a bearer token to whom it speaks for: "owner" (every
	// scope), "agent:<id>" (that agent only, whatever the request's
	// X-Trove-Agent header says) or "agents:<pattern>" (any agent whose id
	// matches; "*" alone or a prefix ending in "*", e.g. "agents:team-*"),
	// which has no owner rights, so each request must name its agent.
	// TROVE_TOKENS=tok1=agent:alice,tok2=owner replaces the file's map.
	Tokens map[string]string `json:"tokens"`
}

// Principal is who a token speaks for (memory.Principal).
type Principal = memory.Principal

const principalHint = `use "owner", "agent:<id>" or "agents:<pattern>" (e.g. "agents:*" or "agents:team-*")`

// ParsePrincipal reads "owner", "agent:<id>" or "agents:<pattern>".
func ParsePrincipal(s string) (Principal, error) {
	s = strings.TrimSpace(s)
	kind, name, _ := strings.Cut(s, ":")
	switch {
	case s == "owner":
		return Principal{Owner: true}, nil
	case kind == "agent":
		if _, err := memory.ParseScope(string(memory.AgentScope(name))); err != nil || name == "" {
			return Principal{}, fmt.Errorf("%q does not name a valid agent id: %s", s, principalHint)
		}
		return Principal{Agent: name}, nil
	case kind == "agents":
		prefix, ok := strings.CutSuffix(name, "*")
		if !ok || strings.Contains(prefix, "*") {
			return Principal{}, fmt.Errorf("%q: the pattern must be \"*\" or a prefix ending in \"*\": %s", s, principalHint)
		}
		if prefix != "" {
			if _, err := memory.ParseScope(string(memory.AgentScope(prefix))); err != nil {
				return Principal{}, fmt.Errorf("%q: the prefix is not valid in an agent id: %s", s, principalHint)
			}
		}
		return Principal{Pattern: name}, nil
	}
	return Principal{}, fmt.Errorf("%q is not a principal: %s", s, principalHint)
}

// Principals parses every token's principal. Its errors never show a
// token: they name the entry by its principal and position.
func (a Auth) Principals() (map[string]Principal, error) {
	out := make(map[string]Principal, len(a.Tokens))
	var errs []error
	// Sorted by principal so the numbering in errors is stable and does
	// not order by (and so hint at) the tokens themselves.
	toks := make([]string, 0, len(a.Tokens))
	for t := range a.Tokens {
		toks = append(toks, t)
	}
	sort.Slice(toks, func(i, j int) bool { return a.Tokens[toks[i]] < a.Tokens[toks[j]] })
	for i, tok := range toks {
		p, err := ParsePrincipal(a.Tokens[tok])
		if err != nil {
			errs = append(errs, fmt.Errorf("auth.tokens (entry %d of %d): %w", i+1, len(toks), err))
			continue
		}
		if t := strings.TrimSpace(tok); len(t) < MinTokenLen || t != tok {
			errs = append(errs, fmt.Errorf("auth.tokens: the token for %s is %d characters or has surrounding spaces: use at least %d, e.g. from openssl rand -hex 32",
				p, len(t), MinTokenLen))
			continue
		}
		out[tok] = p
	}
	return out, errors.Join(errs...)
}

// applyEnv reads TROVE_TOKENS=tok1=agent:alice,tok2=owner; when set it
// replaces the file's tokens.
func (a *Auth) applyEnv(getenv func(string) string) error {
	v := strings.TrimSpace(getenv("TROVE_TOKENS"))
	if v == "" {
		return nil
	}
	toks := map[string]string{}
	for i, entry := range strings.Split(v, ",") {
		tok, who, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || tok == "" || who == "" {
			// The entry may be a token: name its position, never its text.
			return fmt.Errorf("TROVE_TOKENS: entry %d is not token=principal: write tok1=agent:alice,tok2=owner", i+1)
		}
		toks[tok] = who
	}
	a.Tokens = toks
	return nil
}
