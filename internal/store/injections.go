package store

import "context"

// Auto-recall injections: which memories recall-context injected into a
// session, on which of the session's turns (one turn per recall-context
// call with a session), so it does not inject one again within a few
// turns and feedback can name what the last turn injected. Sessions are
// per agent ("" for the owner). Entries are bookkeeping, not memories:
// they carry no scope, and are pruned by age (InjectionPruner).

// InjectionTx is what a Write's Tx offers for injections (found by type
// assertion, as BufferTx is).
type InjectionTx interface {
	// NextTurn advances the session's turn counter and returns the new
	// turn (1 for a session not seen, or pruned).
	NextTurn(session, agent string, at int64) (int64, error)
	// Injected returns the ids injected into the session on turns after
	// afterTurn, with the turn each was last injected on.
	Injected(session, agent string, afterTurn int64) (map[string]int64, error)
	// RecordInjections notes that ids were injected on turn at unix-ms at.
	RecordInjections(session, agent string, ids []string, turn, at int64) error
	// LastTurn returns the session's current turn (0 for none) and the
	// ids injected on it.
	LastTurn(session, agent string) (int64, []string, error)
}

// InjectionPruner deletes injection entries older than a time.
type InjectionPruner interface {
	// PruneInjections deletes entries last written before olderThan
	// (unix ms), in writes of at most batch rows (0: a default),
	// releasing the lock between them; it returns how many it deleted.
	PruneInjections(ctx context.Context, olderThan int64, batch int) (int, error)
}
