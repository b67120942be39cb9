package store

import "time"

// The reports a backend gives `trove doctor` (internal/doctor declares the
// methods that return them). They live here, beside the contract, so that
// every backend fills the same types and the doctor names no backend.

// SchemaInfo is the schema version a store is at, the trove that wrote it,
// and the lowest trove version that may write it.
type SchemaInfo struct {
	Version   int    // the store's schema (migration) version
	Binary    int    // the schema version this binary writes for this backend
	WrittenBy string // the trove version that last migrated the store ("" when not recorded)
	MinWriter string // the lowest trove version that may write the store ("" when not recorded)
}

// FTSReport compares the keyword search index with the rows.
type FTSReport struct {
	Rows    int `json:"rows"`
	Indexed int `json:"indexed"`
	Missing int `json:"missing"` // rows without an index entry
	Extra   int `json:"extra"`   // index entries without a row
	// Stale: rows whose index entry differs from what this trove's
	// tokeniser makes of the row now (a store whose index is kept in the
	// row, PostgreSQL's; always 0 for SQLite's FTS5 table).
	Stale int `json:"stale,omitempty"`
	// Stats: scopes whose kept search statistics (row count, total
	// length, which ranking reads) differ from their rows (PostgreSQL).
	Stats int `json:"stats,omitempty"`
}

// Consistent reports whether every row is indexed exactly once, as this
// trove indexes it, and the statistics match.
func (r FTSReport) Consistent() bool {
	return r.Missing == 0 && r.Extra == 0 && r.Stale == 0 && r.Stats == 0 && r.Rows == r.Indexed
}

// TextIndexStatus says which text index search uses and how far the
// build of a newer one has come.
type TextIndexStatus struct {
	Version int `json:"version"` // 1: words as written; 2: Snowball stems
	// While the newer index is built (Version below the latest): rows built of all.
	Built int64 `json:"built,omitempty"`
	Rows  int64 `json:"rows,omitempty"`
}

// VectorCensus counts rows by the length of their stored vector.
type VectorCensus struct {
	Rows      int
	Missing   int         // rows with no vector (found by keyword search only)
	ByDims    map[int]int // rows per vector length, in float32s
	Malformed int         // vectors whose byte length is not a whole number of float32s
}

// PruneReport says what a PruneTombstones did.
type PruneReport struct {
	Pruned  int   `json:"pruned"`
	Batches int   `json:"batches"`
	Horizon int64 `json:"horizon"` // the change sequence up to which deletions may be gone
}

// ServerInfo describes the database server a server-backed store
// (PostgreSQL) is connected to.
type ServerInfo struct {
	// Version is the server's own version string (SHOW server_version),
	// VersionNum its number (server_version_num: 150018 is 15.18).
	Version    string
	VersionNum int
	Database   string // current_database()
	User       string // current_user
	// Extensions are those installed in the database (pg_extension).
	Extensions []Extension
	// VectorAvailable: the server can install pgvector (pg_available_extensions
	// has "vector"). VectorInUse: this store searches vectors with it.
	VectorAvailable bool
	VectorInUse     bool
	// Connections open to the server (client sessions, every database),
	// and its max_connections: every trove process keeps a pool.
	Connections    int
	MaxConnections int
}

// Extension is one installed extension.
type Extension struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// IndexStatus is one index the backend's schema expects.
type IndexStatus struct {
	Name    string `json:"name"`
	Table   string `json:"table"`
	Present bool   `json:"present"`
	// Valid is false for an index a failed CREATE INDEX CONCURRENTLY left
	// behind (pg_index.indisvalid): it is kept up to date but never used.
	Valid bool `json:"valid"`
	// Create is the statement that makes the index as the schema has it.
	Create string `json:"create,omitempty"`
}

// ServerSession is a session of the database server whose transaction has
// been open for long while holding or waiting for locks.
type ServerSession struct {
	PID         int           `json:"pid"`
	User        string        `json:"user"`
	Application string        `json:"application"`
	Client      string        `json:"client"` // client address, "" for a unix socket
	State       string        `json:"state"`  // pg_stat_activity.state: active, idle in transaction, ...
	XactStart   time.Time     `json:"xact_start"`
	Age         time.Duration `json:"age"`   // how long its transaction has been open
	Locks       int           `json:"locks"` // locks it holds (granted)
	Waiting     bool          `json:"waiting"`
	BlockedBy   []int         `json:"blocked_by,omitempty"` // pg_blocking_pids
	Blocking    int           `json:"blocking"`             // sessions waiting for it
	Query       string        `json:"query"`                // its current or last statement, cut short
}
