// Package archive is trove's import and export: trove's own JSON Lines (one
// memory per line, what `trove export` writes) and the export JSON of
// memory-lancedb-pro, the TypeScript plugin trove replaces.
//
// Export streams every row a caller may read, in id order, with no cap.
// Import reads a file in batches: it validates each row (a bad row is
// reported with its position and the others go on), embeds the rows that
// carry no usable vector before it takes the write lock, and writes each
// batch in one store.Write. Ids are kept, so importing a file again adds
// nothing: rows already present are counted as skipped.
//
//	im := &archive.Importer{Store: s, Embedder: embedding.NewHash(0), Access: memory.Owner()}
//	rep, err := im.Import(ctx, f)
//	// rep.Imported, rep.Skipped, rep.Failed, rep.Errors[i].Pos ("line 7", "memories[3]")
//
//	n, err := archive.Export(ctx, s, memory.Owner(), w, archive.ExportOptions{WithVectors: true})
package archive

import (
	"strings"

	"github.com/trove-memory/trove/internal/memory"
)

// Names of the file formats Import reads (Report.Format).
const (
	FormatTroveJSONL = "trove-jsonl"
	FormatLanceDBPro = "lancedb-pro"
)

// Report is the outcome of an import. Imported+Skipped+Failed is the number
// of rows in the file (blank lines are not rows).
type Report struct {
	Imported int        `json:"imported"`
	Skipped  int        `json:"skipped"` // already present: the id is in the store
	Failed   int        `json:"failed"`
	Errors   []RowError `json:"errors"` // one per failed row, in file order
	Format   string     `json:"format"` // FormatTroveJSONL or FormatLanceDBPro
	// Adjustments counts, per reason (Adjust*), the rows imported or
	// already present that were adjusted to be kept.
	Adjustments map[string]int `json:"adjustments"`
	// DefaultScoped lists the positions of the rows whose null or blank
	// scope became the default scope (the first 10,000).
	DefaultScoped []string `json:"default_scoped"`
	// UndeclaredScopes are the scopes of imported rows that are neither
	// built in nor declared in the config: declare them (scopes.definitions)
	// and grant them (agentAccess) so agents can reach them.
	UndeclaredScopes []string `json:"undeclared_scopes"`
	// WaitedMS is how long the import waited for another import of the
	// same file (another process or host) to finish; its rows were then
	// skipped without being embedded again.
	WaitedMS int64 `json:"waited_ms,omitempty"`
}

// RowError is why one row was not imported.
type RowError struct {
	Pos   string `json:"pos"`          // "line 12" or "memories[3]"
	ID    string `json:"id,omitempty"` // the row's id when it has a readable one
	Error string `json:"error"`        // what is wrong and what to do, without Pos
}

// String returns "pos: error".
func (e RowError) String() string { return e.Pos + ": " + e.Error }

// ItemError is the error of a row Decode could not turn into a memory. It
// wraps memory.ErrInvalid.
type ItemError struct {
	Pos    string // "line 12" or "memories[3]"
	ID     string // the row's id when it was readable
	Reason string // what is wrong and what to do
}

func (e *ItemError) Error() string { return e.Pos + ": " + e.Reason }

func (e *ItemError) Unwrap() error { return memory.ErrInvalid }

// FileError is a problem with the file as a whole (empty, not JSON, an
// object without a memories array): nothing in it was read. It wraps
// memory.ErrInvalid.
type FileError struct{ Reason string }

func (e *FileError) Error() string { return "import file: " + e.Reason }

func (e *FileError) Unwrap() error { return memory.ErrInvalid }

// StopError is damage part way through a memory-lancedb-pro export that
// the JSON decoder cannot read past (a truncated file, a syntax error, data
// after the object). The rows before Pos were read, and an import keeps
// them; nothing from Pos on was read. It wraps memory.ErrInvalid.
type StopError struct {
	Pos    string // "memories[7]", or "line 120" after the array
	Reason string // what is wrong, where, and what to do
}

func (e *StopError) Error() string {
	return "import file: reading stopped at " + e.Pos + ": " + e.Reason
}

func (e *StopError) Unwrap() error { return memory.ErrInvalid }

// reason turns an error from memory's validators into the text after
// "invalid input: ", since positions and hints are added here.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), memory.ErrInvalid.Error()+": ")
}
