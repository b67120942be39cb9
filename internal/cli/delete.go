package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newDeleteCommand(a *app) *cobra.Command {
	var expected int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete one memory (ID may be a unique prefix of at least 8 characters)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.Forget(cmd.Context(), a.caller(), service.ForgetInput{ID: args[0], ExpectedRevision: expected})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", out.ID)
			return nil
		},
	}
	cmd.Flags().Int64Var(&expected, "expected-revision", 0, "fail with a conflict unless the memory is at this revision")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id","deleted"}`)
	return cmd
}
