package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newExportCommand(a *app) *cobra.Command {
	var in service.ExportInput
	var output string
	cmd := &cobra.Command{
		Use:   "export [--output FILE]",
		Short: "Write every memory as JSON Lines (one memory per line, no cap)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			svc, err := a.reader(ctx)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err := svc.Export(ctx, a.caller(), cmd.OutOrStdout(), in)
				return err
			}
			// Write beside the target and rename, so a failed export never
			// leaves a half-written file under the requested name.
			tmp, err := os.CreateTemp(filepath.Dir(output), ".trove-export-*")
			if err != nil {
				return fmt.Errorf("--output: %w", err)
			}
			defer os.Remove(tmp.Name())
			n, err := svc.Export(ctx, a.caller(), tmp, in)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), output); err != nil {
				return fmt.Errorf("--output: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %s to %s\n", pluralWord(n, "memory", "memories"), output)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&in.Scopes, "scope", nil, "only this scope (repeatable)")
	fl.StringArrayVar(&in.MemoryCategories, "memory-category", nil, "only this memory_category: profile, preferences, entities, events, cases, patterns (repeatable)")
	fl.StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	fl.BoolVar(&in.WithVectors, "with-vectors", false, "include each memory's vector")
	return cmd
}
