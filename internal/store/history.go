package store

import "github.com/trove-memory/trove/internal/memory"

// RestoreCheck is Tx.Restore's decision for every backend, from the
// memory's newest kept version as the transaction reads it (found false:
// it has none): nil when m may be restored. A memory whose newest
// version is not its deletion, or whose deleted scope acc does not
// reach, is *memory.NotFoundError; one deleted at another revision than
// m.Revision - 1 (deleted and restored meanwhile) *memory.ConflictError.
func RestoreCheck(acc memory.Access, m *memory.Memory, found bool, rev int64, change string, scope memory.Scope) error {
	if !found || change != ChangeDelete || !acc.Allows(scope) {
		return &memory.NotFoundError{ID: m.ID}
	}
	if rev != m.Revision-1 {
		return &memory.ConflictError{ID: m.ID, Expected: m.Revision - 1, Actual: rev}
	}
	return nil
}
