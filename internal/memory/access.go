package memory

import "slices"

// Access is the set of scopes a caller may read and write. The zero value
// reaches nothing; Owner() reaches every scope (the CLI and requests that
// name no agent act as the owner). Stores enforce it in their queries.
type Access struct {
	all    bool
	scopes []Scope
	by     string
}

// OwnerName is who history records for a change the owner made.
const OwnerName = "owner"

// By returns a with who recorded as the author of the changes made with
// it (history's replaced_by): an agent's id, or "" for the owner.
func (a Access) By(who string) Access {
	a.by = who
	return a
}

// Who is the author recorded for changes made with a: the agent's id
// given to By, else OwnerName.
func (a Access) Who() string {
	if a.by == "" {
		return OwnerName
	}
	return a.by
}

// Owner returns access to every scope.
func Owner() Access { return Access{all: true} }

// Scopes returns access limited to the given scopes.
func Scopes(s ...Scope) Access {
	c := slices.Clone(s)
	slices.Sort(c)
	return Access{scopes: slices.Compact(c)}
}

// AgentAccess is the default access of an agent, as in memory-lancedb-pro:
// global, agent:<id> and reflection:agent:<id>, plus any extra scopes.
func AgentAccess(agentID string, extra ...Scope) Access {
	return Scopes(append([]Scope{GlobalScope, AgentScope(agentID), ReflectionScope(agentID)}, extra...)...)
}

// GrantedAccess is the access of an agent whose scopes a configuration
// lists (agentAccess.<id>): exactly those, plus the agent's own
// reflection:agent:<id>. The list replaces the default; it does not add to
// it (memory-lancedb-pro's meaning).
func GrantedAccess(agentID string, granted []Scope) Access {
	return Scopes(append(slices.Clone(granted), ReflectionScope(agentID))...)
}

// All reports whether access is unrestricted.
func (a Access) All() bool { return a.all }

// List returns the allowed scopes (nil when All).
func (a Access) List() []Scope { return a.scopes }

// Allows reports whether s is reachable.
func (a Access) Allows(s Scope) bool {
	if a.all {
		return true
	}
	_, ok := slices.BinarySearch(a.scopes, s)
	return ok
}

// Narrow returns the access limited to the requested scopes, and the
// requested scopes that were not allowed (ignored). With no request it
// returns a unchanged.
func (a Access) Narrow(requested []Scope) (Access, []Scope) {
	if len(requested) == 0 {
		return a, nil
	}
	var ok, ignored []Scope
	for _, s := range requested {
		if a.Allows(s) {
			ok = append(ok, s)
		} else {
			ignored = append(ignored, s)
		}
	}
	return Scopes(ok...).By(a.by), ignored
}
