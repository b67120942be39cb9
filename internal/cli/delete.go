package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newDeleteCommand(a *app) *cobra.Command {
	var expected int64
	var asJSON, purge bool
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete one memory (ID may be a unique prefix of at least 8 characters)",
		Long: "Delete one memory. It can be brought back with trove restore while its history keeps it\n" +
			"(history.retention). --purge (the owner only) erases it for good instead: the row, its history,\n" +
			"tombstone, search-index entries and vectors, in one transaction; the store's erasure log records\n" +
			"the id, when and by whom, without content. A deleted memory is purged by its full id.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.Forget(cmd.Context(), a.caller(), service.ForgetInput{ID: args[0], ExpectedRevision: expected, Purge: purge})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			if out.Purged {
				fmt.Fprintf(cmd.OutOrStdout(), "purged %s (%d earlier versions erased)\n", out.ID, out.Versions)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", out.ID)
			return nil
		},
	}
	cmd.Flags().Int64Var(&expected, "expected-revision", 0, "fail with a conflict unless the memory is at this revision")
	cmd.Flags().BoolVar(&purge, "purge", false, "erase for good: row, history, index entries and vectors (the owner only)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id","deleted"} (with --purge also "purged","versions")`)
	return cmd
}
