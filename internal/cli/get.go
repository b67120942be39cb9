package cli

import (
	"github.com/spf13/cobra"
)

func newGetCommand(a *app) *cobra.Command {
	var asJSON, withVector bool
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one memory (ID may be a unique prefix of at least 8 characters)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			if withVector {
				m, err := svc.GetWithVector(cmd.Context(), a.caller(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), m)
				}
				printMemory(cmd.OutOrStdout(), m.Memory)
				return nil
			}
			m, err := svc.Get(cmd.Context(), a.caller(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			printMemory(cmd.OutOrStdout(), m)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.Flags().BoolVar(&withVector, "with-vector", false, "include the vector in --json output")
	return cmd
}
