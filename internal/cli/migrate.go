package cli

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newMigrateCommand(a *app) *cobra.Command {
	var in service.MigrateInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move a memory-lancedb-pro LanceDB store into trove, every row (check, verify)",
		Long: "Read a memory-lancedb-pro store (LanceDB, table memories) and import every row, with its id, scope,\n" +
			"category, importance, timestamp and metadata. LanceDB is read by a small Node program carried in\n" +
			"trove: it is unpacked into the cache directory and its npm dependency installed there on first use,\n" +
			"so Node 18 or newer (with npm) must be installed. Vectors are kept when --source-model (or the\n" +
			"embedding.model of --config openclaw.json) and the dimensions are trove's; otherwise the text is\n" +
			"embedded again. Running it again adds nothing. Without --from: the config's dbPath, else\n" +
			"~/.openclaw/memory/lancedb-pro. Then run trove migrate verify.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			errw := cmd.ErrOrStderr()
			in.Notify = func(s string) { fmt.Fprintln(errw, s) }
			svc, err := a.writer(ctx)
			if err != nil {
				return err
			}
			rep, err := svc.Migrate(ctx, a.caller(), in)
			if err != nil && rep.Import.Imported+rep.Import.Skipped+rep.Import.Failed == 0 {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if jerr := writeJSON(w, rep); jerr != nil {
					return jerr
				}
			} else {
				fmt.Fprintf(w, "source %s: %d rows, %d-dimensional vectors %s (%s)\n", rep.From, rep.SourceRows, rep.Dimensions, rep.Vectors, rep.VectorsWhy)
				verb := "imported"
				if in.DryRun {
					verb = "would import"
				}
				r := rep.Import
				fmt.Fprintf(w, "%s %d, skipped %d (already present), failed %d\n", verb, r.Imported, r.Skipped, r.Failed)
				for _, e := range r.Errors {
					fmt.Fprintf(errw, "  %s: %s\n", e.Pos, e.Error)
				}
			}
			if err != nil {
				return err
			}
			if rep.Import.Failed > 0 {
				return withHint(fmt.Errorf("%s failed to import (listed above; the other rows are in)", plural(rep.Import.Failed, "row")),
					"run trove migrate again once fixed: rows already imported are skipped")
			}
			if !in.DryRun && !asJSON {
				fmt.Fprintf(w, "next: trove migrate verify --from %s\n", rep.From)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.From, "from", "", "the memory-lancedb-pro LanceDB directory (default: --config's dbPath, else ~/.openclaw/memory/lancedb-pro)")
	fl.StringVar(&in.SourceModel, "source-model", "", "the embedding model of the store's vectors (kept when it is trove's)")
	fl.StringVar(&in.Config, "config", "", "memory-lancedb-pro's openclaw.json: the embedding model and dbPath")
	fl.StringVar(&in.DefaultScope, "default-scope", "", "scope of rows whose scope is null or blank (default global)")
	fl.BoolVar(&in.LegacyImportance, "legacy-importance", false, "read whole importances 1-5 on the old scale (1→0.20 … 5→0.95)")
	fl.BoolVar(&in.DryRun, "dry-run", false, "read, validate and count; write nothing")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fl.IntVar(&in.BatchSize, "batch-size", service.DefaultImportBatch, fmt.Sprintf("rows per write transaction (1 to %d)", service.MaxImportBatch))
	cmd.AddCommand(newMigrateCheckCommand(), newMigrateVerifyCommand(a), newMigrateConfigCommand())
	return cmd
}

func newMigrateCheckCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Find memory-lancedb-pro stores in the default locations and count their rows",
		Long: "Look for memory-lancedb-pro's store (~/.openclaw/memory/lancedb-pro) and the older plugin's\n" +
			"(~/.openclaw/memory/lancedb, ~/.claude/memory/lancedb) and print each one's row count. Counting\n" +
			"needs Node 18 or newer, as trove migrate does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			errw := cmd.ErrOrStderr()
			found, err := service.MigrateCheck(cmd.Context(), service.MigrateCheckInput{Notify: func(s string) { fmt.Fprintln(errw, s) }})
			w := cmd.OutOrStdout()
			if asJSON {
				if jerr := writeJSON(w, found); jerr != nil {
					return jerr
				}
				return err
			}
			any := false
			for _, f := range found {
				switch {
				case f.Found && f.Error == "":
					any = true
					fmt.Fprintf(w, "%s: %d rows (%d-dimensional vectors)\n", f.Path, f.Rows, f.Dims)
				case f.Found:
					any = true
					fmt.Fprintf(w, "%s: a store, not counted: %s\n", f.Path, f.Error)
				}
			}
			if !any {
				fmt.Fprintln(w, "no memory-lancedb-pro store found in the default locations:")
				for _, f := range found {
					fmt.Fprintf(w, "  %s\n", f.Path)
				}
				fmt.Fprintln(w, "give another with trove migrate --from DIR")
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print [{path, found, rows, dims, error}] as JSON")
	return cmd
}

func newMigrateVerifyCommand(a *app) *cobra.Command {
	var in service.MigrateVerifyInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare a memory-lancedb-pro store with trove's, row by row",
		Long: "Read the store again and compare each row with trove's memory of the same id: text, scope,\n" +
			"category, importance, timestamps and metadata. Each documented change the import makes is\n" +
			"reported as adjusted (reason); anything else is a difference, listed, and the exit code is 1.\n" +
			"--rows prints every row's outcome.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			errw := cmd.ErrOrStderr()
			in.Notify = func(s string) { fmt.Fprintln(errw, s) }
			svc, err := a.reader(ctx)
			if err != nil {
				return err
			}
			rep, err := svc.MigrateVerify(ctx, a.caller(), in)
			if err != nil && rep.SourceRows == 0 {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if jerr := writeJSON(w, rep); jerr != nil {
					return jerr
				}
				return err
			}
			for _, r := range rep.RowsOut {
				switch r.Outcome {
				case "adjusted":
					fmt.Fprintf(w, "%s adjusted (%s)\n", r.ID, joinReasons(r.Adjusted))
				default:
					fmt.Fprintf(w, "%s %s\n", r.ID, r.Outcome)
				}
			}
			fmt.Fprintf(w, "verified %d rows of %s: %d same, %d adjusted, %d different (%d missing)\n",
				rep.SourceRows, rep.From, rep.Same, rep.Adjusted, rep.Different, rep.Missing)
			reasons := make([]string, 0, len(rep.Adjustments))
			for r := range rep.Adjustments {
				reasons = append(reasons, r)
			}
			sort.Strings(reasons)
			for _, r := range reasons {
				fmt.Fprintf(w, "  adjusted (%s: %s): %s\n", r, service.MigrateReasons[r], plural(rep.Adjustments[r], "row"))
			}
			for _, d := range rep.Differences {
				fmt.Fprintf(w, "  different: %s\n", d)
			}
			if n := rep.Different - len(rep.Differences); n > 0 && len(rep.Differences) == service.MaxVerifyDifferences {
				fmt.Fprintf(w, "  (further differences not listed)\n")
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.From, "from", "", "the memory-lancedb-pro LanceDB directory (default: --config's dbPath, else ~/.openclaw/memory/lancedb-pro)")
	fl.StringVar(&in.Config, "config", "", "memory-lancedb-pro's openclaw.json (for its dbPath)")
	fl.StringVar(&in.DefaultScope, "default-scope", "", "the --default-scope the import used (default global)")
	fl.BoolVar(&in.Rows, "rows", false, "print every row's outcome: same, adjusted (reasons), different")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func joinReasons(rs []string) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += ", "
		}
		out += r
	}
	return out
}
