package cli

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/memory"
	"github.com/trove-memory/trove/internal/store"
)

// deleteBatch bounds the rows deleted per write, so the lock is held for
// milliseconds and live writers interleave.
const deleteBatch = 500

func newDeleteBulkCommand(a *app) *cobra.Command {
	var scopes, categories []string
	var before string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "delete-bulk --scope S... [--before YYYY-MM-DD]",
		Short: "Delete every memory in the given scopes (optionally created before a date)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(scopes) == 0 {
				return usagef("--scope is required: name the scopes to delete from (repeat --scope for several)")
			}
			f := store.Filter{}
			var err error
			if f.Scopes, err = parseScopes(scopes); err != nil {
				return err
			}
			if f.Categories, err = parseCategories(categories); err != nil {
				return err
			}
			if before != "" {
				d, err := time.Parse("2006-01-02", before)
				if err != nil {
					return usagef("--before %q: use a date such as 2026-01-31 (memories created before its start, UTC)", before)
				}
				f.CreatedBefore = d.UnixMilli()
			}
			for _, s := range f.Scopes {
				if !a.access().Allows(s) {
					return &memory.ScopeDeniedError{Scope: s}
				}
			}
			st, err := a.store(ctx)
			if err != nil {
				return err
			}
			var n int
			if dryRun {
				n, err = st.Count(ctx, a.access(), f)
			} else {
				n, err = deleteMatching(cmd, st, a.access(), f)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"deleted": n, "dry_run": dryRun})
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "would delete %d memories\n", n)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %d memories\n", n)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&scopes, "scope", nil, "scope to delete from (repeatable, required)")
	fl.StringArrayVar(&categories, "category", nil, "only this category (repeatable)")
	fl.StringVar(&before, "before", "", "only memories created before this date (YYYY-MM-DD, UTC)")
	fl.BoolVar(&dryRun, "dry-run", false, "count what would be deleted, delete nothing")
	fl.BoolVar(&asJSON, "json", false, "print the count as JSON")
	return cmd
}

// deleteMatching deletes in batches: read a batch of matching ids, then one
// write that re-checks each row against the filter (it may have changed
// since it was read) and deletes it at the revision it has.
func deleteMatching(cmd *cobra.Command, st store.Store, acc memory.Access, f store.Filter) (int, error) {
	ctx := cmd.Context()
	total := 0
	after := ""
	for {
		page, err := store.ScanPage(ctx, st, acc, store.ScanOptions{Filter: f, AfterID: after}, deleteBatch)
		if err != nil {
			return total, err
		}
		if len(page) == 0 {
			return total, nil
		}
		after = page[len(page)-1].ID
		ids := make([]string, len(page))
		for i, m := range page {
			ids[i] = m.ID
		}
		err = st.Write(ctx, acc, func(tx store.Tx) error {
			for _, id := range ids {
				m, err := tx.Get(id)
				if errors.Is(err, memory.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if !matches(m, f) {
					continue
				}
				if err := tx.Delete(id, m.Revision); err != nil {
					return err
				}
				total++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
	}
}

func matches(m memory.Memory, f store.Filter) bool {
	if len(f.Scopes) > 0 && !slices.Contains(f.Scopes, m.Scope) {
		return false
	}
	if len(f.Categories) > 0 && !slices.Contains(f.Categories, m.Category) {
		return false
	}
	if f.Format != nil && m.Format != *f.Format {
		return false
	}
	return f.CreatedBefore == 0 || m.CreatedAt < f.CreatedBefore
}
