package memory

import "strings"

// Principal is what a token may act as: the owner, exactly one agent, or
// any agent matching a pattern (never the owner).
type Principal struct {
	Owner bool
	// Agent is the one agent of an "agent:<id>" token.
	Agent string
	// Pattern is the agents of an "agents:<pattern>" token: "*" or a
	// prefix followed by "*".
	Pattern string
}

// String is the principal as written in the config.
func (p Principal) String() string {
	switch {
	case p.Owner:
		return "owner"
	case p.Agent != "":
		return "agent:" + p.Agent
	}
	return "agents:" + p.Pattern
}

// Matches reports whether agent is one of the pattern's agents.
func (p Principal) Matches(agent string) bool {
	if p.Pattern == "" || agent == "" {
		return false
	}
	return strings.HasPrefix(agent, strings.TrimSuffix(p.Pattern, "*"))
}
