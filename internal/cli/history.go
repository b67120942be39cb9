package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newHistoryCommand(a *app) *cobra.Command {
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "Show a memory's earlier versions, newest first, with what each change did to the text",
		Long: "Every edit and delete keeps the version it replaced (history.keep versions per memory, for\n" +
			"history.retention). A deleted memory's history needs its full id. trove revert ID --to REV\n" +
			"writes a version back; trove restore ID brings back a deleted memory.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.History(cmd.Context(), a.caller(), service.HistoryInput{ID: args[0], Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			if out.Current != nil {
				fmt.Fprintf(w, "%s revision %d (current) [%s] %s\n", out.ID, out.Current.Revision, out.Current.Scope, out.Current.Text)
			} else {
				fmt.Fprintf(w, "%s deleted (trove restore %s brings it back)\n", out.ID, out.ID)
			}
			for _, v := range out.Versions {
				fmt.Fprintf(w, "revision %d [%s] %s, %s by %s at %s\n", v.Revision, v.Scope, v.Text,
					map[string]string{"update": "replaced", "delete": "deleted"}[v.Change], v.ReplacedBy,
					time.UnixMilli(v.ReplacedAt).UTC().Format(time.RFC3339))
				if v.Diff != "" {
					fmt.Fprintf(w, "  change: %s\n", v.Diff)
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("at most this many versions (default %d, at most %d)", service.DefaultHistoryLimit, service.MaxHistoryLimit))
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id","current","deleted","versions"}`)
	return cmd
}

func newRevertCommand(a *app) *cobra.Command {
	var to, expected int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revert ID --to REV",
		Short: "Write an earlier version of a memory back as a new revision",
		Long: "Writes version REV (see trove history) back: text, category, scope, importance and metadata.\n" +
			"It is revision-checked: --expected-revision (else the revision read first) must still be the\n" +
			"memory's, or it fails with a conflict.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("to") {
				return usagef("give --to REV, the revision to go back to (trove history %s lists them)", args[0])
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			m, err := svc.Revert(cmd.Context(), a.caller(), service.RevertInput{ID: args[0], To: to, ExpectedRevision: expected})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s revision %d (revision %d written back)\n", m.ID, m.Revision, to)
			return nil
		},
	}
	cmd.Flags().Int64Var(&to, "to", 0, "the revision to go back to")
	cmd.Flags().Int64Var(&expected, "expected-revision", 0, "fail with a conflict unless the memory is at this revision")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the memory as JSON")
	return cmd
}

func newRestoreCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "restore ID",
		Short: "Bring back a deleted memory (its full id), while its history keeps it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			m, err := svc.Restore(cmd.Context(), a.caller(), service.RestoreInput{ID: args[0]})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s revision %d\n", m.ID, m.Revision)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the memory as JSON")
	return cmd
}
