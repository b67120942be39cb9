package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/store"
)

func newListCommand(a *app) *cobra.Command {
	var scopes, categories []string
	var limit int
	var cursor string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List memories, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit <= 0 {
				return usagef("--limit %d: give a positive number", limit)
			}
			opts := store.ListOptions{Limit: limit, Cursor: cursor}
			var err error
			if opts.Scopes, err = parseScopes(scopes); err != nil {
				return err
			}
			if opts.Categories, err = parseCategories(categories); err != nil {
				return err
			}
			st, err := a.store(ctx)
			if err != nil {
				return err
			}
			page, err := st.List(ctx, a.access(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), page)
			}
			w := cmd.OutOrStdout()
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
	fl.StringArrayVar(&scopes, "scope", nil, "only this scope (repeatable)")
	fl.StringArrayVar(&categories, "category", nil, "only this category (repeatable)")
	fl.IntVar(&limit, "limit", 20, "rows per page")
	fl.StringVar(&cursor, "cursor", "", "continue after the page that printed this cursor")
	fl.BoolVar(&asJSON, "json", false, `print {"memories":[...],"next_cursor":...}`)
	return cmd
}
