package cli

import (
	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newArchiveCommand(a *app) *cobra.Command {
	var in service.ArchiveInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "archive [ID] [--query TEXT] [--reason TEXT]",
		Short: "Archive a memory: keep it with its history, but recall and auto-recall no longer return it",
		Long: "Archive a memory (by id or unique prefix, or the best active match for --query), as MCP memory_archive and\n" +
			"REST POST /v1/memories/{id}/archive do. list --history and search --history still show it; trove promote brings it back.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				in.ID = args[0]
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.Archive(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			return printGovern(cmd, out, asJSON, "archived")
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Query, "query", "", "find the memory by recall instead of an id")
	f.StringVar(&in.Scope, "scope", "", "with --query: search only this scope")
	f.StringVar(&in.Reason, "reason", "", "why, for the audit trail (default manual_archive)")
	f.BoolVar(&asJSON, "json", false, "print the memory as JSON")
	return cmd
}
