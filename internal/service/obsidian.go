package service

import (
	"context"
	"errors"
	"io/fs"
	"slices"

	"github.com/trove-memory/trove/internal/archive"
	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// SyncObsidianInput says which vault to write and which memories.
type SyncObsidianInput struct {
	Vault string
	// Scopes limits the sync to these scopes (empty: every scope the
	// caller may read); notes of other scopes are left alone.
	Scopes []string
	// Overwrite rewrites and removes trove's notes that a person edited.
	Overwrite bool
	DryRun    bool
}

// SyncObsidianReport is the outcome of a sync.
type SyncObsidianReport = archive.ObsidianReport

// SyncObsidian writes one note per memory into an Obsidian vault and
// keeps it in step: changed memories' notes are rewritten, deleted
// memories' notes removed, files that are not trove's notes never
// touched (archive.ObsidianSync). It only reads the store.
func (s *Service) SyncObsidian(ctx context.Context, c Caller, in SyncObsidianInput) (SyncObsidianReport, error) {
	acc, err := s.access(c)
	if err != nil {
		return SyncObsidianReport{}, err
	}
	if in.Vault == "" {
		return SyncObsidianReport{}, Invalid("no vault given: name the Obsidian vault directory")
	}
	req, err := parseScopes(in.Scopes)
	if err != nil {
		return SyncObsidianReport{}, err
	}
	for _, sc := range req {
		if !acc.Allows(sc) {
			// A sync that silently skipped a scope would remove its notes.
			return SyncObsidianReport{}, ErrorOf(&memory.ScopeDeniedError{Scope: sc})
		}
	}
	o := &archive.ObsidianSync{Vault: in.Vault, Overwrite: in.Overwrite, DryRun: in.DryRun,
		Synced: func(sc memory.Scope) bool { return acc.Allows(sc) && (len(req) == 0 || slices.Contains(req, sc)) }}
	rep, err := o.Sync(ctx, func(fn func(memory.Memory) error) error {
		return s.opts.Store.Scan(ctx, acc, store.ScanOptions{Filter: store.Filter{Scopes: req}}, fn)
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Op == "vault" {
			return rep, &Error{Code: CodeNotFound, Err: memory.ErrNotFound, Message: err.Error() + ": give an existing vault directory"}
		}
		return rep, ErrorOf(err)
	}
	return rep, nil
}
