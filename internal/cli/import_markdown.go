package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newImportMarkdownCommand(a *app) *cobra.Command {
	var in service.ImportMarkdownInput
	var importance float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import-markdown [PATH...]",
		Short: "Import the bullets of OpenClaw's MEMORY.md and memory/YYYY-MM-DD.md files (idempotent)",
		Long: "Import the list items (- , * , + ) of OpenClaw's Markdown memory files as memories, as\n" +
			"memory-lancedb-pro's import-markdown does (docs/IMPORT.md). PATH is an OpenClaw workspace\n" +
			"directory (default ~/.openclaw/workspace): its <name>/ and agents/<id>/ workspaces go to\n" +
			"agent:<name>, its own memory/ to the one agent openclaw.json puts under it, else global.\n" +
			"A PATH that is a file goes to --scope, else global. Code blocks are skipped; a bullet whose\n" +
			"text is already a memory in its scope is skipped, so a second run adds nothing.",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in.Paths = args
			if in.OpenClawHome == "" && a.deps.Getenv != nil {
				if h := a.deps.Getenv("HOME"); h != "" {
					in.OpenClawHome = filepath.Join(h, ".openclaw")
				}
			}
			if cmd.Flags().Changed("importance") {
				in.Importance = &importance
			}
			svc, err := a.writer(ctx)
			if err != nil {
				return err
			}
			rep, err := svc.ImportMarkdown(ctx, a.caller(), in)
			if err != nil && len(rep.Files) == 0 {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if jerr := writeJSON(w, rep); jerr != nil {
					return jerr
				}
			} else {
				verb := "imported"
				if in.DryRun {
					verb = "would import"
				}
				for _, f := range rep.Files {
					if f.Error != "" {
						fmt.Fprintf(w, "%s [%s]: not read: %s\n", f.Path, f.Scope, f.Error)
						continue
					}
					fmt.Fprintf(w, "%s [%s]: %s %d, duplicates %d, too short %d, failed %d\n", f.Path, f.Scope, verb, f.Imported, f.Duplicates, f.TooShort, f.Failed)
				}
				fmt.Fprintf(w, "%s %d of %s in %s (duplicates %d, too short %d, failed %d)\n", verb, rep.Imported,
					plural(rep.Bullets, "bullet"), plural(len(rep.Files), "file"), rep.Duplicates, rep.TooShort, rep.Failed)
				if len(rep.UndeclaredScopes) > 0 {
					fmt.Fprintf(w, "  scopes not declared in the config: %s\n", strings.Join(rep.UndeclaredScopes, ", "))
				}
				for _, e := range rep.Errors {
					fmt.Fprintf(cmd.ErrOrStderr(), "  %s: %s\n", e.Pos, e.Error)
				}
			}
			if err != nil {
				return err
			}
			if rep.Failed > 0 {
				return withHint(fmt.Errorf("%s failed to import (listed above; the others are in)", plural(rep.Failed, "bullet")),
					"fix the cause and run it again: bullets already imported are skipped")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.OpenClawHome, "openclaw-home", "", "OpenClaw's directory, whose workspace/ is read when no PATH is given (default ~/.openclaw)")
	fl.StringVar(&in.Workspace, "workspace", "", "only the workspaces whose name contains this")
	fl.StringVar(&in.Scope, "scope", "", "put every bullet in this scope instead of its workspace's")
	fl.IntVar(&in.MinTextLength, "min-text-length", service.DefaultMarkdownMinText, "skip bullets shorter than this many characters")
	fl.Float64Var(&importance, "importance", service.DefaultMarkdownImportance, "importance of the imported memories, 0 to 1")
	fl.BoolVar(&in.DryRun, "dry-run", false, "count what would be imported, write nothing")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON: files (path, scope, bullets, imported, duplicates, too_short, failed), totals, errors")
	return cmd
}
