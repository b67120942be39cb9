package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newSyncCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Keep an outside copy of the memories in step (sync obsidian)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSyncObsidianCommand(a))
	return cmd
}

func newSyncObsidianCommand(a *app) *cobra.Command {
	var in service.SyncObsidianInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "obsidian --vault DIR",
		Short: "Write one note per memory into an Obsidian vault, and keep it in step (idempotent)",
		Long: "Write one Markdown note per memory, with front matter, into\n" +
			"<vault>/00-AI-Memory/<category>/<date>-<slug>-<id12>.md, as memory-lancedb-pro's sync obsidian\n" +
			"does (docs/IMPORT.md). Running it again rewrites the notes of memories that changed, removes\n" +
			"the notes of memories that were deleted and skips the rest. Files without trove_id in their\n" +
			"front matter are never touched; a trove note a person edited is kept and listed, unless\n" +
			"--overwrite-edited.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			svc, err := a.reader(ctx)
			if err != nil {
				return err
			}
			rep, err := svc.SyncObsidian(ctx, a.caller(), in)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, rep)
			}
			verb := "completed"
			if in.DryRun {
				verb = "dry-run"
			}
			fmt.Fprintf(w, "Obsidian sync %s: %d created, %d updated, %d skipped, %d removed\n", verb, rep.Created, rep.Updated, rep.Skipped, rep.Removed)
			for _, p := range rep.Edited {
				fmt.Fprintf(w, "  kept (edited by hand): %s\n", p)
			}
			for _, p := range rep.Conflicts {
				fmt.Fprintf(w, "  kept (not a trove note, in the way): %s\n", p)
			}
			fmt.Fprintf(w, "Vault: %s\n", rep.Vault)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Vault, "vault", "", "the Obsidian vault directory (required)")
	fl.StringSliceVar(&in.Scopes, "scope", nil, "only these scopes (repeatable); notes of other scopes are left alone")
	fl.BoolVar(&in.Overwrite, "overwrite-edited", false, "rewrite or remove trove notes a person edited too")
	fl.BoolVar(&in.DryRun, "dry-run", false, "count what would change, write nothing")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON: vault, created, updated, skipped, removed, edited, conflicts")
	_ = cmd.MarkFlagRequired("vault")
	return cmd
}
