package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newDeleteBulkCommand(a *app) *cobra.Command {
	var in service.DeleteBulkInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete-bulk --scope S... [--before YYYY-MM-DD]",
		Short: "Delete every memory in the given scopes (optionally created before a date)",
		Long: "Delete every memory in the given scopes, in batches of 500 rows: each batch is one short write,\n" +
			"so agents writing meanwhile never wait long. An interrupted run keeps what it deleted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(in.Scopes) == 0 {
				return usagef("--scope is required: name the scopes to delete from (repeat --scope for several)")
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.DeleteBulk(cmd.Context(), a.caller(), in)
			if err != nil {
				if out.Deleted > 0 {
					return withHint(fmt.Errorf("%w (%s deleted before the failure)", err, pluralWord(out.Deleted, "memory", "memories")),
						"run the same command again to delete the rest")
				}
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			verb := "deleted"
			if out.DryRun {
				verb = "would delete"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", verb, pluralWord(out.Deleted, "memory", "memories"))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&in.Scopes, "scope", nil, "scope to delete from (repeatable, required)")
	fl.StringArrayVar(&in.Categories, "category", nil, "only this category (repeatable)")
	fl.StringVar(&in.Before, "before", "", "only memories created before this date (YYYY-MM-DD, UTC)")
	fl.BoolVar(&in.DryRun, "dry-run", false, "count what would be deleted, delete nothing")
	fl.BoolVar(&asJSON, "json", false, "print the count as JSON")
	return cmd
}
