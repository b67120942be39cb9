package cli

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newMigrateConfigCommand() *cobra.Command {
	var output string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "config PATH",
		Short: "Turn memory-lancedb-pro's settings in openclaw.json into a trove config file",
		Long: "Read plugins.entries[\"memory-lancedb-pro\"].config of an openclaw.json and write the\n" +
			"equivalent trove config JSON (stdout, or --output FILE), then list on stderr the settings\n" +
			"trove has no equivalent for (docs/MIGRATE.md). agentAccess lists are written as they are:\n" +
			"in both, a list replaces the default (global, agent:<id>).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := service.MigrateConfig(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			var buf bytes.Buffer
			if err := writeJSON(&buf, rep.Config); err != nil {
				return err
			}
			if output == "" {
				if _, err := cmd.OutOrStdout().Write(buf.Bytes()); err != nil {
					return err
				}
			} else if err := os.WriteFile(output, buf.Bytes(), 0o600); err != nil {
				return fmt.Errorf("migrate config: %w", err)
			}
			ew := cmd.ErrOrStderr()
			for _, n := range rep.Notes {
				fmt.Fprintf(ew, "note: %s\n", n)
			}
			if len(rep.Unmapped) > 0 {
				fmt.Fprintf(ew, "no equivalent in trove (%d):\n", len(rep.Unmapped))
				for _, u := range rep.Unmapped {
					fmt.Fprintf(ew, "  %s: %s\n", u.Key, u.Reason)
				}
			}
			if output != "" {
				fmt.Fprintf(ew, "wrote %s: use it with TROVE_CONFIG=%s\n", output, output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the trove config to this file (mode 0600: it may hold API keys)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {config, unmapped: [{key, reason}], notes} instead")
	return cmd
}
