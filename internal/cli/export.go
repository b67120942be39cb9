package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/archive"
)

func newExportCommand(a *app) *cobra.Command {
	var scopes []string
	var output string
	var withVectors bool
	cmd := &cobra.Command{
		Use:   "export [--output FILE]",
		Short: "Write every memory as JSON Lines (one memory per line, no cap)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			sc, err := parseScopes(scopes)
			if err != nil {
				return err
			}
			st, err := a.store(ctx)
			if err != nil {
				return err
			}
			opts := archive.ExportOptions{Scopes: sc, WithVectors: withVectors}
			if output == "" || output == "-" {
				_, err := archive.Export(ctx, st, a.access(), cmd.OutOrStdout(), opts)
				return err
			}
			// Write beside the target and rename, so a failed export never
			// leaves a half-written file under the requested name.
			tmp, err := os.CreateTemp(filepath.Dir(output), ".trove-export-*")
			if err != nil {
				return fmt.Errorf("--output: %w", err)
			}
			defer os.Remove(tmp.Name())
			n, err := archive.Export(ctx, st, a.access(), tmp, opts)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := os.Rename(tmp.Name(), output); err != nil {
				return fmt.Errorf("--output: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d memories to %s\n", n, output)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&scopes, "scope", nil, "only this scope (repeatable)")
	fl.StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	fl.BoolVar(&withVectors, "with-vectors", false, "include each memory's vector")
	return cmd
}
