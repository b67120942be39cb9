package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newCompactCommand(a *app) *cobra.Command {
	var scopes []string
	var apply, asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "compact [--apply] [--scope SCOPE] [--limit N]",
		Short: "Find memories that say the same thing; with --apply archive all but the newest of each group",
		Long: "Group active memories by scope, memory category and normalised abstract (or text). Without --apply only\n" +
			"report; with it archive the older ones (reason compact_duplicate, canonical_id the kept memory), as MCP\n" +
			"memory_compact and REST POST /v1/compact do.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			dry := !apply
			out, err := svc.Compact(cmd.Context(), a.caller(), service.CompactInput{Scopes: scopes, DryRun: &dry, Limit: limit})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, out)
			}
			printWarnings(cmd, out.Warnings)
			for _, g := range out.Groups {
				fmt.Fprintf(w, "keep %s, archive %d: %s\n", g.Keep, len(g.Archive), oneLine(g.Key, 70))
			}
			if out.DryRun {
				fmt.Fprintf(w, "%d duplicates among %d memories (dry run: rerun with --apply to archive them)\n", out.Duplicates, out.Scanned)
				return nil
			}
			fmt.Fprintf(w, "archived %d duplicates among %d memories", out.Archived, out.Scanned)
			if out.Skipped > 0 {
				fmt.Fprintf(w, " (%d skipped: changed meanwhile)", out.Skipped)
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&apply, "apply", false, "archive the duplicates (default: only report)")
	f.StringArrayVar(&scopes, "scope", nil, "only this scope (repeatable)")
	f.IntVar(&limit, "limit", 0, fmt.Sprintf("scan only the newest this many active memories (1 to %d; default every one)", service.MaxCompactLimit))
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
