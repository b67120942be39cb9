// Package store defines trove's storage contract: reads that take the
// caller's scope access, and one write entry point, Write, that runs a
// function inside one cross-process lock acquisition and one transaction.
// Bulk helpers (PutMany, PatchMany, DeleteMany) are built on Write.
//
// Nothing slow runs inside Write: the function gets a Tx with SQL-level
// operations only, never a provider. Callers embed, call LLMs and rerank
// before they call Write.
//
//	err := s.Write(ctx, memory.Owner(), func(tx store.Tx) error {
//		m, err := tx.Get(id)
//		if err != nil { return err }
//		m.Importance = 0.9
//		return tx.Update(&m) // checks m.Revision, bumps it
//	})
package store

import (
	"context"
	"slices"

	"github.com/trove-memory/trove/internal/memory"
)

// Store is a memory store shared by many processes.
type Store interface {
	Reader
	Historian
	// Write runs fn in one transaction under the cross-process write lock
	// (SQLite: one lock for the store; PostgreSQL: the locks of the rows
	// and facts fn reads with tx, held to the commit, so what fn read
	// with tx holds when it commits either way).
	// Write runs fn once, never again; fn must only use tx. If fn returns
	// an error nothing it did is kept and Write returns that error. On
	// PostgreSQL two writes that lock rows in opposite orders may
	// deadlock: one of them ends with an error that is Transient
	// (IsTransient), having saved nothing. Running it again is the
	// caller's decision: WriteAgain does it for an fn that resets its
	// state on each run (the bulk helpers and the service's writes use
	// it). Writers touching several rows lock them in id order, which
	// keeps such deadlocks rare.
	Write(ctx context.Context, acc memory.Access, fn func(Tx) error) error
	// Space returns the embedding space recorded for the store (zero when
	// nothing is recorded yet).
	Space(ctx context.Context) (Space, error)
	Close() error
}

// Reader is the read side of a store. Every call is limited to acc.
type Reader interface {
	Get(ctx context.Context, acc memory.Access, id string) (memory.Memory, error)
	// Resolve turns a full id or a unique prefix (≥ MinPrefix chars) into an id.
	Resolve(ctx context.Context, acc memory.Access, idOrPrefix string) (string, error)
	List(ctx context.Context, acc memory.Access, opts ListOptions) (Page, error)
	// Scan calls fn for every matching row in id order, page by page with
	// no cap. Rows committed during the scan may or may not be seen.
	Scan(ctx context.Context, acc memory.Access, opts ScanOptions, fn func(memory.Memory) error) error
	Count(ctx context.Context, acc memory.Access, f Filter) (int, error)
	Stats(ctx context.Context, acc memory.Access, f Filter) (Stats, error)
	// Facts returns the values a fact has had: every row (active or not)
	// whose fact_key is q.FactKey, in the scopes of acc ∩ q.Scopes, newest
	// valid_from first (then id, descending), at most q.Limit. An empty
	// FactKey is memory.ErrInvalid.
	Facts(ctx context.Context, acc memory.Access, q FactQuery) ([]memory.Memory, error)
}

// FactQuery asks for the rows of one fact (see Reader.Facts).
type FactQuery struct {
	FactKey string
	Scopes  []memory.Scope // empty: every accessible scope
	Limit   int            // 0: DefaultFactLimit
}

// DefaultFactLimit is how many rows Facts returns when the query gives no limit.
const DefaultFactLimit = 50

// MinPrefix is the shortest id prefix Resolve accepts.
const MinPrefix = 8

// Tx is what a Write function may do. All calls are scope-checked against
// the access given to Write.
type Tx interface {
	// Get reads the row as it is inside this transaction, without its
	// vector (Update keeps the stored vector when m.Vector is nil).
	Get(id string) (memory.Memory, error)
	// Insert adds m. Empty ID gets a new UUID; zero timestamps get now;
	// revision 0 becomes 1 (an imported revision is kept). On success m
	// holds the stored values. An existing id gives memory.ErrExists.
	Insert(m *memory.Memory) error
	// Update writes m over the row with id m.ID if its revision is still
	// m.Revision (else *memory.ConflictError). It bumps the revision and
	// updated_at; m holds the stored values afterwards. A nil m.Vector
	// keeps the stored vector.
	Update(m *memory.Memory) error
	// Delete removes the row; expectedRevision 0 skips the check.
	Delete(id string, expectedRevision int64) error
	// Touch records that the row was recalled n more times, the last at
	// unix-ms at: metadata access_count grows by n and last_accessed_at
	// becomes at if that is later. It is usage, not an edit: revision,
	// updated_at and the row's change sequence stay as they are (the
	// store's counter moves, as for any Write), so a caller holding the
	// row's revision (an upgrade, an update with --expected-revision) is
	// not made to conflict by someone's recall; Update keeps the larger
	// counters when it writes a row read before them.
	Touch(id string, n int, at int64) error
	// Bump applies bookkeeping to the row (auto-recall feedback): relative
	// changes to its importance and metadata counters, made in SQL from
	// the stored values. Like Touch it is not an edit: revision,
	// updated_at, the row's change sequence and its history stay as they
	// are. A row outside the caller's scopes is *memory.NotFoundError.
	Bump(id string, b Bump) error
	// Restore inserts m, a memory that was deleted (it has no row and its
	// newest version in history is its deletion), with m.Revision the
	// deleted revision + 1, and drops its tombstone. A row with that id
	// gives memory.ErrExists; a deleted revision other than
	// m.Revision - 1 (deleted and restored meanwhile) *memory.ConflictError.
	Restore(m *memory.Memory) error
	// Purge erases the memory id for good: its row, every version in
	// history, its tombstone, its search-index entry and its vectors
	// (including a reembed's shadow and kept vectors), and records the
	// erasure without content (sqlite: the erasures table). The caller
	// must reach every scope (the owner): anything else is
	// *memory.ScopeDeniedError. A memory with neither row nor history
	// gives *memory.NotFoundError.
	Purge(id string) (Erasure, error)
	// FactRows returns the rows of scope whose fact_key is factKey,
	// active or not, newest valid_from first (then id, descending),
	// without vectors, as they are inside this transaction: a decision
	// about a fact made from an earlier read (supersede, merge) checks
	// at commit whether a row of the fact was written since. A scope
	// the caller does not reach is *memory.ScopeDeniedError; an empty
	// factKey memory.ErrInvalid.
	FactRows(scope memory.Scope, factKey string) ([]memory.Memory, error)
}

// Bump is a bookkeeping change (Tx.Bump). Metadata keys are limited to
// letters, digits and underscores.
type Bump struct {
	// Importance is added to the importance; the change stops at Floor
	// (when negative) or Ceil (when positive), and never moves a value
	// already past that bound further, nor back to it.
	Importance  float64
	Floor, Ceil float64
	// Add grows integer metadata counters (a missing or non-numeric one
	// counts as 0); Set sets integer metadata values (times in unix ms).
	Add map[string]int64
	Set map[string]int64
}

// Historian reads the versions every edit and delete keeps (see Version).
type Historian interface {
	// History returns the kept versions of id, newest first, at most
	// limit (0: all). Only versions whose scope acc reaches are
	// returned, and none when the memory's current scope (or, once
	// deleted, the scope it had when deleted) is outside acc: then it is
	// *memory.NotFoundError, as is an id with no row and no history.
	// The current row, if any, is not a version: read it with Get.
	History(ctx context.Context, acc memory.Access, id string, limit int) ([]Version, error)
	// PruneHistory deletes versions beyond keep per memory (0: no count
	// limit) or replaced before olderThan unix-ms (0: no time limit), at
	// most batch per write, releasing the lock between writes.
	PruneHistory(ctx context.Context, keep int, olderThan int64, batch int) (int, error)
}

// Version is a memory as it was before an edit or delete replaced it.
type Version struct {
	ID         string          `json:"id"`
	Revision   int64           `json:"revision"`
	Text       string          `json:"text"`
	Category   memory.Category `json:"category"`
	Scope      memory.Scope    `json:"scope"`
	Importance float64         `json:"importance"`
	Format     memory.Format   `json:"format"`
	Metadata   map[string]any  `json:"metadata"`
	CreatedAt  int64           `json:"created_at"`
	UpdatedAt  int64           `json:"updated_at"`
	// ReplacedAt (unix ms) and ReplacedBy (an agent's id, or "owner")
	// say when and by whom the version was replaced; Change is how:
	// "update" or "delete".
	ReplacedAt int64  `json:"replaced_at"`
	ReplacedBy string `json:"replaced_by"`
	Change     string `json:"change"`
}

// The values of Version.Change.
const (
	ChangeUpdate = "update"
	ChangeDelete = "delete"
)

// Memory returns the version as a memory (no vector).
func (v Version) Memory() memory.Memory {
	return memory.Memory{ID: v.ID, Text: v.Text, Category: v.Category, Scope: v.Scope, Importance: v.Importance,
		Format: v.Format, Metadata: v.Metadata, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Revision: v.Revision}
}

// Erasure is what Purge erased, without content.
type Erasure struct {
	ID       string `json:"id"`
	HadRow   bool   `json:"had_row"`
	Versions int    `json:"versions"`
	At       int64  `json:"erased_at"`
	By       string `json:"erased_by"`
}

// Space is the embedding model and dimensions recorded once per store.
type Space struct {
	Model      string `json:"model"`
	Dimensions int    `json:"dimensions"`
}

// Filter narrows reads within the caller's access.
type Filter struct {
	Scopes []memory.Scope // empty: every accessible scope
	// Categories keeps rows whose storage category (preference, fact,
	// decision, entity, reflection, other) is one of these; empty: all.
	Categories []memory.Category
	// MemoryCategories keeps rows whose six-category memory_category
	// (profile, preferences, entities, events, cases, patterns) is one of
	// these, as memory.SmartCategoryOf derives it: a smart row's metadata
	// memory_category, a legacy row's by memory-lancedb-pro's mapping of
	// its storage category. Empty: all. With Categories, a row must pass
	// both.
	MemoryCategories []memory.SmartCategory
	Format           *memory.Format // nil: both
	// CreatedBefore keeps rows created strictly before this unix-ms time (0: no bound).
	CreatedBefore int64
	// Metadata keeps rows whose metadata has these top-level string values.
	// Keys are limited to letters, digits and underscores.
	Metadata map[string]string
	// ActiveAt keeps rows active at this unix-ms time (memory.ActiveAt:
	// become true by then, neither invalidated nor expired at it). 0
	// applies no validity filter: every row, as get, export and batch
	// jobs read. Recall sets it (to now, or to the time asked for).
	ActiveAt int64
	// ExpiredBefore keeps rows whose valid_until is set and at or before
	// this unix-ms time (0: no bound): expiry archiving reads them.
	ExpiredBefore int64
	// Unarchived keeps rows that are not archived (memory.ArchivedAt 0).
	Unarchived bool
}

// Matches reports whether m passes the filter, for a write that re-checks
// a row read earlier (it may have changed since).
func (f Filter) Matches(m memory.Memory) bool {
	if len(f.Scopes) > 0 && !slices.Contains(f.Scopes, m.Scope) {
		return false
	}
	if len(f.Categories) > 0 && !slices.Contains(f.Categories, m.Category) {
		return false
	}
	if len(f.MemoryCategories) > 0 && !slices.Contains(f.MemoryCategories, memory.SmartCategoryOf(m)) {
		return false
	}
	if f.Format != nil && m.Format != *f.Format {
		return false
	}
	if f.CreatedBefore != 0 && m.CreatedAt >= f.CreatedBefore {
		return false
	}
	for k, v := range f.Metadata {
		if s, ok := m.Metadata[k].(string); !ok || s != v {
			return false
		}
	}
	if f.ActiveAt != 0 && !memory.ActiveAt(m, f.ActiveAt) {
		return false
	}
	if f.ExpiredBefore != 0 {
		if u := memory.ValidUntil(m); u == 0 || u > f.ExpiredBefore {
			return false
		}
	}
	if f.Unarchived && memory.ArchivedAt(m) != 0 {
		return false
	}
	return true
}

// ListOptions pages rows newest first (created_at, then id, descending).
type ListOptions struct {
	Filter
	Limit       int    // default 20
	Cursor      string // from Page.NextCursor
	WithVectors bool
}

// Page is one page of List.
type Page struct {
	Memories   []memory.Memory `json:"memories"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// ScanOptions configures Scan.
type ScanOptions struct {
	Filter
	AfterID     string // start after this id
	PageSize    int    // rows read per query (default 500)
	WithVectors bool
}

// Stats summarises rows.
type Stats struct {
	// Total counts every row of the filter, active or not (with
	// Filter.ActiveAt set, the filter keeps only the rows active then).
	Total int `json:"total"`
	// Inactive counts the rows of Total not active now (by the store's
	// clock; see Filter.ActiveAt): superseded, expired, or not yet valid.
	Inactive   int            `json:"inactive"`
	Legacy     int            `json:"legacy"`
	Smart      int            `json:"smart"`
	ByScope    map[string]int `json:"by_scope"`
	ByCategory map[string]int `json:"by_category"`
	// ByTier counts rows by lifecycle tier (core, working, peripheral; a
	// row with no or an unknown tier counts as working).
	ByTier map[string]int `json:"by_tier"`
	// ByState counts rows by governance state (pending, confirmed,
	// archived; a row with none is confirmed) and ByLayer by layer
	// (durable, working, reflection, archive; a row with none gets
	// memory-lancedb-pro's default for its source, state and category).
	ByState map[string]int `json:"by_state"`
	ByLayer map[string]int `json:"by_layer"`
	Oldest  int64          `json:"oldest_created_at,omitempty"`
	Newest  int64          `json:"newest_created_at,omitempty"`
}
