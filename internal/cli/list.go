package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newListCommand(a *app) *cobra.Command {
	var in service.ListInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List memories, newest first",
		Long: "List memories newest first, a page at a time. The next page's cursor carries this listing's\n" +
			"filters: trove list --cursor C continues it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			page, err := svc.List(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), page)
			}
			w := cmd.OutOrStdout()
			printWarnings(cmd, page.Warnings)
			for _, m := range page.Memories {
				printRow(w, m)
			}
			if page.NextCursor != "" {
				fmt.Fprintf(w, "more: trove list --cursor %s\n", page.NextCursor)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&in.Scopes, "scope", nil, "only this scope (repeatable)")
	fl.StringArrayVar(&in.Categories, "category", nil, "only this storage category: preference, fact, decision, entity, reflection, other (repeatable)")
	fl.StringArrayVar(&in.MemoryCategories, "memory-category", nil, "only this memory_category: profile, preferences, entities, events, cases, patterns (repeatable; legacy rows count by their category)")
	fl.StringVar(&in.AsOf, "as-of", "", "what was true at this time: RFC 3339 or a date (the end of that day, UTC)")
	fl.BoolVar(&in.IncludeHistory, "history", false, "also show superseded and expired memories (marked)")
	fl.IntVar(&in.Limit, "limit", service.DefaultListLimit, fmt.Sprintf("rows per page (1 to %d)", service.MaxListLimit))
	fl.StringVar(&in.Cursor, "cursor", "", "continue the listing that printed this cursor")
	fl.IntVar(&in.Offset, "offset", 0, fmt.Sprintf("skip this many rows first (0 to %d; after the cursor's position with --cursor)", service.MaxListOffset))
	fl.BoolVar(&asJSON, "json", false, `print {"memories":[...],"next_cursor":...}`)
	return cmd
}
