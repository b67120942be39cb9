package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/archive"
	"github.com/trove-memory/trove/internal/memory"
)

func newImportCommand(a *app) *cobra.Command {
	var scope string
	var dryRun, asJSON bool
	var batch int
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import trove JSON Lines or a memory-lancedb-pro export (idempotent by id)",
		Long: "Import memories from trove's JSON Lines export or memory-lancedb-pro's export JSON.\n" +
			"Ids, scopes, timestamps, categories and metadata are kept; rows whose metadata has no\n" +
			"memory_category come in as legacy (run trove upgrade afterwards). Importing the same file\n" +
			"again adds nothing. A bad row is reported with its position; the others go in. FILE - reads stdin.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			im := &archive.Importer{Access: a.access(), DryRun: dryRun, BatchSize: batch}
			if scope != "" {
				s, err := memory.ParseScope(scope)
				if err != nil {
					return fmt.Errorf("--scope: %w", err)
				}
				if !a.access().Allows(s) {
					return &memory.ScopeDeniedError{Scope: s}
				}
				im.ScopeOverride = s
			}
			var r io.Reader
			if args[0] == "-" {
				r = cmd.InOrStdin()
			} else {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			}
			st, err := a.store(ctx)
			if err != nil {
				return err
			}
			emb, err := a.embedder()
			if err != nil {
				return err
			}
			sp, err := st.Space(ctx)
			if err != nil {
				return err
			}
			im.Store, im.Embedder, im.Dims = st, emb, sp.Dimensions
			rep, err := im.Import(ctx, r)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				verb := "imported"
				if dryRun {
					verb = "would import"
				}
				fmt.Fprintf(w, "%s %d, skipped %d (already present), failed %d [%s]\n", verb, rep.Imported, rep.Skipped, rep.Failed, rep.Format)
				for _, e := range rep.Errors {
					fmt.Fprintf(cmd.ErrOrStderr(), "  %s: %s\n", e.Pos, e.Error)
				}
			}
			if rep.Failed > 0 {
				return withHint(fmt.Errorf("%s failed to import (listed above; the other rows are in)", plural(rep.Failed, "row")),
					"fix those rows and import the file again: rows already imported are skipped")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&scope, "scope", "", "put every row in this scope instead of its own")
	fl.BoolVar(&dryRun, "dry-run", false, "validate and count, write nothing")
	fl.BoolVar(&asJSON, "json", false, "print imported/skipped/failed counts and errors as JSON")
	fl.IntVar(&batch, "batch-size", 500, "rows per write transaction")
	return cmd
}
