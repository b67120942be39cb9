package service

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/trove-memory/trove/internal/archive"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// DeleteBulkInput selects the memories to delete: every memory in Scopes
// (required), optionally only Categories and only those created before
// Before (YYYY-MM-DD, UTC).
type DeleteBulkInput struct {
	Scopes     []string `json:"scopes"`
	Categories []string `json:"categories,omitempty"`
	Before     string   `json:"before,omitempty"`
	DryRun     bool     `json:"dry_run,omitempty"`
}

// DeleteBulkOutput counts what was (or, with DryRun, would be) deleted.
type DeleteBulkOutput struct {
	Deleted int  `json:"deleted"`
	DryRun  bool `json:"dry_run"`
}

// DeleteBulk deletes every matching memory, in batches: read a batch of
// matching ids, then one write that re-checks each row against the filter
// (it may have changed since it was read) and deletes it at the revision
// it has. The lock is released between batches. On an error, the batches
// already committed stay deleted and Deleted counts them.
func (s *Service) DeleteBulk(ctx context.Context, c Caller, in DeleteBulkInput) (DeleteBulkOutput, error) {
	acc, err := s.access(c)
	if err != nil {
		return DeleteBulkOutput{}, err
	}
	if len(in.Scopes) == 0 {
		return DeleteBulkOutput{}, Invalid("no scope given: name the scopes to delete from")
	}
	f := store.Filter{}
	if f.Scopes, err = parseScopes(in.Scopes); err != nil {
		return DeleteBulkOutput{}, err
	}
	if f.Categories, err = parseCategories(in.Categories); err != nil {
		return DeleteBulkOutput{}, err
	}
	if in.Before != "" {
		d, err := time.Parse("2006-01-02", in.Before)
		if err != nil {
			return DeleteBulkOutput{}, Invalid("before %q is not a date: use YYYY-MM-DD, e.g. 2026-01-31 (memories created before its start, UTC)", in.Before)
		}
		f.CreatedBefore = d.UnixMilli()
	}
	for _, sc := range f.Scopes {
		if !acc.Allows(sc) {
			return DeleteBulkOutput{}, ErrorOf(&memory.ScopeDeniedError{Scope: sc})
		}
	}
	out := DeleteBulkOutput{DryRun: in.DryRun}
	if in.DryRun {
		n, err := s.opts.Store.Count(ctx, acc, f)
		if err != nil {
			return out, ErrorOf(err)
		}
		out.Deleted = n
		return out, nil
	}
	after := ""
	for {
		page, err := store.ScanPage(ctx, s.opts.Store, acc, store.ScanOptions{Filter: f, AfterID: after}, DefaultDeleteBatch)
		if err != nil {
			return out, ErrorOf(err)
		}
		if len(page) == 0 {
			return out, nil
		}
		after = page[len(page)-1].ID
		n := 0
		err = store.WriteAgain(ctx, s.opts.Store, acc, func(tx store.Tx) error {
			n = 0 // a Write may run its function again
			for _, m := range page {
				cur, err := tx.Get(m.ID)
				if errors.Is(err, memory.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if !f.Matches(cur) {
					continue
				}
				if err := tx.Delete(cur.ID, cur.Revision); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return out, ErrorOf(err)
		}
		out.Deleted += n
	}
}

// ImportInput is an import file and how to import it.
type ImportInput struct {
	Reader io.Reader
	// Scope, when set, puts every row in this scope instead of its own.
	Scope string
	// DefaultScope is the scope of rows whose scope is null or blank
	// (memory-lancedb-pro's legacy rows, which no reader there sees);
	// "" is global. The report counts and lists those rows.
	DefaultScope string
	// LegacyImportance reads whole importances 1 to 5 on memory-lancedb-pro's
	// old scale (1→0.20 … 5→0.95); otherwise importance is clamped to [0,1].
	LegacyImportance bool
	DryRun           bool
	BatchSize        int // rows per write transaction; 0: DefaultImportBatch
}

// ImportReport is the outcome of an import.
type ImportReport = archive.Report

// Import reads trove JSON Lines or a memory-lancedb-pro export and writes
// its rows in batches (idempotent by id). Rows are embedded before each
// batch's write lock is taken. A bad row is reported with its position
// and the others go in.
func (s *Service) Import(ctx context.Context, c Caller, in ImportInput) (ImportReport, error) {
	acc, err := s.access(c)
	if err != nil {
		return ImportReport{}, err
	}
	n, err := limit("batch size", in.BatchSize, DefaultImportBatch, MaxImportBatch)
	if err != nil {
		return ImportReport{}, err
	}
	im := &archive.Importer{Store: s.opts.Store, Embedder: s.opts.Embedder, Access: acc, DryRun: in.DryRun, BatchSize: n,
		LegacyImportance: in.LegacyImportance, Declared: s.opts.Declared, DefaultScope: memory.GlobalScope}
	if in.DefaultScope != "" {
		sc, err := memory.ParseScope(in.DefaultScope)
		if err != nil {
			return ImportReport{}, Invalid("default scope: %s", err.Error())
		}
		if !acc.Allows(sc) {
			return ImportReport{}, ErrorOf(&memory.ScopeDeniedError{Scope: sc})
		}
		im.DefaultScope = sc
	}
	if in.Scope != "" {
		sc, err := memory.ParseScope(in.Scope)
		if err != nil {
			return ImportReport{}, Invalid("scope: %s", err.Error())
		}
		if !acc.Allows(sc) {
			return ImportReport{}, ErrorOf(&memory.ScopeDeniedError{Scope: sc})
		}
		im.ScopeOverride = sc
	}
	if s.opts.Embedder == nil && !in.DryRun {
		return ImportReport{}, Unavailable("no embedding provider is configured: rows without vectors cannot be imported")
	}
	sp, err := s.opts.Store.Space(ctx)
	if err != nil {
		return ImportReport{}, ErrorOf(err)
	}
	im.Dims = sp.Dimensions
	rep, err := im.Import(ctx, in.Reader)
	if err != nil {
		return rep, ErrorOf(err)
	}
	return rep, nil
}

// ExportInput selects what to export.
type ExportInput struct {
	Scopes []string
	// MemoryCategories exports only rows of these six-category
	// memory_categories (profile, preferences, ...; see ListInput).
	MemoryCategories []string
	WithVectors      bool
}

// Export writes every memory the caller may read (in Scopes, if given) to
// w as JSON Lines, one memory per line, and returns how many it wrote.
func (s *Service) Export(ctx context.Context, c Caller, w io.Writer, in ExportInput) (int, error) {
	acc, err := s.access(c)
	if err != nil {
		return 0, err
	}
	req, err := parseScopes(in.Scopes)
	if err != nil {
		return 0, err
	}
	smart, err := parseMemoryCategories(in.MemoryCategories)
	if err != nil {
		return 0, err
	}
	scopes, ignored := readScopes(acc, req)
	if len(ignored) > 0 {
		// An export silently missing a scope looks complete; refuse instead.
		return 0, ErrorOf(&memory.ScopeDeniedError{Scope: ignored[0]})
	}
	n, err := archive.Export(ctx, s.opts.Store, acc, w, archive.ExportOptions{Scopes: scopes, MemoryCategories: smart, WithVectors: in.WithVectors})
	if err != nil {
		return n, ErrorOf(err)
	}
	return n, nil
}
