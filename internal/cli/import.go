package cli

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newImportCommand(a *app) *cobra.Command {
	var in service.ImportInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import trove JSON Lines or a memory-lancedb-pro export (idempotent by id)",
		Long: "Import memories from trove's JSON Lines export or memory-lancedb-pro's export JSON\n" +
			"(docs/IMPORT.md). Ids, scopes, timestamps, categories and metadata are kept; rows whose\n" +
			"metadata has no memory_category come in as legacy (run trove upgrade afterwards). Importing\n" +
			"the same file again adds nothing. A bad row is reported with its position; the others go in.\n" +
			"FILE - reads stdin.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if args[0] == "-" {
				in.Reader = cmd.InOrStdin()
			} else {
				f, err := os.Open(args[0])
				if err != nil {
					return withHint(fmt.Errorf("import: %w", err), "give the path of a trove JSONL export or a memory-lancedb-pro export JSON")
				}
				defer f.Close()
				in.Reader = f
			}
			svc, err := a.writer(ctx)
			if err != nil {
				return err
			}
			rep, err := svc.Import(ctx, a.caller(), in)
			if err != nil && rep.Imported+rep.Skipped+rep.Failed == 0 {
				return err
			}
			// Reading stopped part-way (a damaged file): the rows before
			// the damage are in, and the report says so before the error.
			stopped := err
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				verb := "imported"
				if in.DryRun {
					verb = "would import"
				}
				fmt.Fprintf(w, "%s %d, skipped %d (already present), failed %d [%s]\n", verb, rep.Imported, rep.Skipped, rep.Failed, rep.Format)
				for _, k := range slices.Sorted(maps.Keys(rep.Adjustments)) {
					fmt.Fprintf(w, "  adjusted (%s): %d\n", k, rep.Adjustments[k])
				}
				if len(rep.UndeclaredScopes) > 0 {
					fmt.Fprintf(w, "  scopes not declared in the config (declare them in scopes.definitions and grant them in agentAccess): %s\n", strings.Join(rep.UndeclaredScopes, ", "))
				}
				for _, e := range rep.Errors {
					fmt.Fprintf(cmd.ErrOrStderr(), "  %s: %s\n", e.Pos, e.Error)
				}
			}
			if stopped != nil {
				return errors.New(service.ErrorOf(stopped).Message)
			}
			if rep.Failed > 0 {
				return withHint(fmt.Errorf("%s failed to import (listed above; the other rows are in)", plural(rep.Failed, "row")),
					"fix those rows and import the file again: rows already imported are skipped")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Scope, "scope", "", "put every row in this scope instead of its own")
	fl.StringVar(&in.DefaultScope, "default-scope", "global", "scope of rows whose scope is null or blank (counted and listed in the report)")
	fl.BoolVar(&in.LegacyImportance, "legacy-importance", false, "read whole importances 1-5 on memory-lancedb-pro's old scale (1→0.20, 2→0.40, 3→0.60, 4→0.80, 5→0.95)")
	fl.BoolVar(&in.DryRun, "dry-run", false, "validate and count, write nothing")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON: imported, skipped (already present), failed, errors, adjustments, default_scoped, undeclared_scopes")
	fl.IntVar(&in.BatchSize, "batch-size", service.DefaultImportBatch, fmt.Sprintf("rows per write transaction (1 to %d)", service.MaxImportBatch))
	return cmd
}
