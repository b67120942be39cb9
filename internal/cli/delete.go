package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/store"
)

func newDeleteCommand(a *app) *cobra.Command {
	var expected int64
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete one memory (ID may be a unique prefix of at least 8 characters)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := a.store(ctx)
			if err != nil {
				return err
			}
			id, err := st.Resolve(ctx, a.access(), args[0])
			if err != nil {
				return err
			}
			if err := st.Write(ctx, a.access(), func(tx store.Tx) error { return tx.Delete(id, expected) }); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", id)
			return nil
		},
	}
	cmd.Flags().Int64Var(&expected, "expected-revision", 0, "fail with a conflict unless the memory is at this revision")
	return cmd
}
