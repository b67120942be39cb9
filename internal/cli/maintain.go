package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newMaintainCommand(a *app) *cobra.Command {
	var asJSON, dryRun bool
	var batch int
	var share float64
	cmd := &cobra.Command{
		Use:   "maintain",
		Short: "Run a maintenance pass now: move memories between tiers as they age and are used",
		Long: "Run the maintenance pass a server runs every hour: each memory's tier move (peripheral, working,\n" +
			"core; docs/LIFECYCLE.md), computed with no lock held and committed in short batches, each move\n" +
			"only if the memory is unchanged since it was read. Moves are bookkeeping: no revision, no history.\n" +
			"When another process is running a pass, this one is skipped (exit 0).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.agent != "" {
				return usagef("maintain moves memories of every scope as the store's owner: run it without --agent")
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.Maintain(cmd.Context(), a.caller(), service.MaintainInput{DryRun: dryRun, BatchSize: batch, LockShare: share})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			printMaintain(cmd.OutOrStdout(), out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would move and move nothing")
	cmd.Flags().IntVar(&batch, "batch", 0, fmt.Sprintf("tier moves per write (default %d)", service.DefaultMaintainBatch))
	cmd.Flags().Float64Var(&share, "lock-share", 0, fmt.Sprintf("while others write, hold the write lock at most this fraction of the time, pausing between writes (default %g; 1: never pause)", service.DefaultLockShare))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as one JSON object")
	return cmd
}

func printMaintain(w io.Writer, out service.MaintainOutput) {
	if out.Skipped != "" {
		fmt.Fprintf(w, "skipped: %s\n", out.Skipped)
		return
	}
	verb := "moved"
	if out.DryRun {
		verb = "would move"
	}
	fmt.Fprintf(w, "scanned %d memories in %d ms; %s %d", out.Scanned, out.DurationMS, verb, out.Transitions)
	if !out.DryRun {
		fmt.Fprintf(w, " in %d writes (lock %.1f ms in all, longest %.1f ms); %d changed meanwhile, left for the next pass",
			out.Batches, out.LockMS, out.MaxBatchMS, out.Stale)
	}
	fmt.Fprintln(w)
	for _, k := range slices.Sorted(maps.Keys(out.Moves)) {
		fmt.Fprintf(w, "  %-24s %d\n", k, out.Moves[k])
	}
}
