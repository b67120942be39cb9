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
			st, err := a.store(cmd.Context())
			if err != nil {
				return err
			}
			id, err := st.Resolve(cmd.Context(), a.access(), args[0])
			if err != nil {
				return err
			}
			m, err := st.Get(cmd.Context(), a.access(), id)
			if err != nil {
				return err
			}
			if asJSON {
				if !withVector {
					m = memoryJSON(m)
				}
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
