package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newArchiveCommand(a *app) *cobra.Command {
	var in service.ArchiveInput
	cmd := governCommand(a, &in.Target, "archived", func(ctx context.Context, svc *service.Service) (service.GovernOutput, error) {
		return svc.Archive(ctx, a.caller(), in)
	})
	cmd.Use = "archive [ID] [--query TEXT] [--reason TEXT]"
	cmd.Short = "Archive a memory: keep it with its history, but recall and auto-recall no longer return it"
	cmd.Long = "Archive a memory (by id or unique prefix, or the best active match for --query), as MCP memory_archive and\n" +
		"REST POST /v1/memories/{id}/archive do. list --history and search --history still show it; trove promote brings it back."
	cmd.Flags().StringVar(&in.Reason, "reason", "", "why, for the audit trail (default manual_archive)")
	return cmd
}
