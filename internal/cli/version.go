package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/version"
)

func newVersionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print trove's version, the commit it was built from and its Go version",
		Args:  cobra.NoArgs,
		// Needs no config or store: it must answer even when the settings are broken.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(cmd.OutOrStdout(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"version","commit","go"}`)
	return cmd
}

func runVersion(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(version.Get())
	}
	_, err := io.WriteString(w, versionText())
	return err
}

// versionText is what `trove version` and `trove --version` print.
func versionText() string {
	v := version.Get()
	return fmt.Sprintf("trove %s\ncommit: %s\ngo:     %s\n", v.Version, v.Commit, v.Go)
}
