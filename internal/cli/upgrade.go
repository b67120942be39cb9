package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/upgrade"
)

func newUpgradeCommand(a *app) *cobra.Command {
	var scopes []string
	var dryRun, noLLM, redo, asJSON bool
	var batch, concurrency, limit int
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Enrich legacy memories (L0/L1/L2 and a memory category) while other processes keep writing",
		Long: "Turn legacy memories into smart ones. LLM calls run concurrently with no lock held; each batch is\n" +
			"committed in one short transaction that re-checks every row: rows changed meanwhile keep the change\n" +
			"(the enrichment is merged, or the row is enriched again if its text changed). Ctrl-C commits what is\n" +
			"already enriched and stops; running upgrade again finishes the rest. The LLM comes from\n" +
			"TROVE_LLM_BASE_URL / TROVE_LLM_MODEL / TROVE_LLM_API_KEY; --no-llm enriches without one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if batch <= 0 || concurrency <= 0 || limit < 0 {
				return usagef("--batch-size and --concurrency must be positive and --limit not negative")
			}
			sc, err := parseScopes(scopes)
			if err != nil {
				return err
			}
			u := &upgrade.Upgrader{Access: a.access(), Scopes: sc, Limit: limit, BatchSize: batch, Concurrency: concurrency, RedoFallbacks: redo}
			if u.Store, err = a.store(ctx); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if dryRun {
				rep, err := u.DryRun(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(w, rep)
				}
				fmt.Fprintf(w, "would upgrade %d memories\n", rep.DryRun.Total)
				for _, c := range []string{"profile", "preferences", "entities", "events", "cases", "patterns"} {
					if n := rep.DryRun.ByCategory[c]; n > 0 {
						fmt.Fprintf(w, "  %-12s %d\n", c, n)
					}
				}
				return nil
			}
			if !noLLM {
				if !a.cfg.LLM.Configured() {
					return withHint(errors.New("no LLM is configured for upgrade"),
						"set TROVE_LLM_BASE_URL and TROVE_LLM_MODEL (and TROVE_LLM_API_KEY), or run trove upgrade --no-llm")
				}
				if u.LLM, err = a.deps.NewLLM(a.cfg.LLM); err != nil {
					return err
				}
			}
			if !asJSON && isTerminal(cmd.ErrOrStderr()) {
				u.Progress = progressBar(cmd.ErrOrStderr())
			}
			rep, err := u.Run(ctx)
			if u.Progress != nil {
				fmt.Fprintln(cmd.ErrOrStderr())
			}
			if asJSON {
				if jerr := writeJSON(w, rep); jerr != nil {
					return jerr
				}
			} else {
				printUpgrade(w, cmd.ErrOrStderr(), rep)
			}
			switch {
			case rep.Interrupted:
				return withHint(fmt.Errorf("interrupted: %d memories upgraded and committed before stopping", rep.Upgraded+rep.Fallbacks),
					"run trove upgrade again to finish the rest")
			case err != nil:
				return err
			case len(rep.Errors) > 0:
				return withHint(fmt.Errorf("%s could not be upgraded (listed above); unchanged", pluralWord(len(rep.Errors), "memory", "memories")),
					"run trove upgrade again later; use --no-llm if the LLM keeps failing")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&dryRun, "dry-run", false, "count what would be upgraded, by category; change nothing")
	fl.IntVar(&batch, "batch-size", upgrade.DefaultBatchSize, "rows committed per write transaction")
	fl.IntVar(&concurrency, "concurrency", upgrade.DefaultConcurrency, "LLM calls in flight at once")
	fl.BoolVar(&noLLM, "no-llm", false, "enrich without an LLM (L0 = first sentence)")
	fl.IntVar(&limit, "limit", 0, "upgrade at most this many rows (0: all)")
	fl.StringArrayVar(&scopes, "scope", nil, "only this scope (repeatable)")
	fl.BoolVar(&redo, "redo-fallbacks", false, "enrich again the rows an earlier run could only enrich plainly")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printUpgrade(w, errw io.Writer, r upgrade.Report) {
	fmt.Fprintf(w, "found %d, upgraded %d, fallbacks %d, merged %d, requeued %d, skipped %d, errors %d\n",
		r.LegacyFound, r.Upgraded, r.Fallbacks, r.Merged, r.Requeued, r.Skipped, len(r.Errors))
	fmt.Fprintf(w, "%d batches, %d lock acquisitions, lock held p50 %.1f ms, p99 %.1f ms, max %.1f ms, in %s\n",
		r.Batches, r.LockAcquisition, r.LockHoldMS.P50, r.LockHoldMS.P99, r.LockHoldMS.Max, time.Duration(r.DurationMS)*time.Millisecond)
	for _, e := range r.Errors {
		fmt.Fprintf(errw, "  %s: %s\n", e.ID, e.Error)
	}
	if r.Fallbacks > 0 {
		fmt.Fprintf(w, "%d rows got plain enrichment because the LLM's reply was unusable: trove upgrade --redo-fallbacks retries them\n", r.Fallbacks)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// progressBar draws "[#####.....] 120/400 rows  35.2 rows/s  ETA 8s" in place.
func progressBar(w io.Writer) func(upgrade.Progress) {
	return func(p upgrade.Progress) {
		const width = 30
		frac := 1.0
		if p.Total > 0 {
			frac = min(1, float64(p.Done)/float64(p.Total))
		}
		fill := int(frac * width)
		rate := float64(p.Done) / max(p.Elapsed.Seconds(), 0.001)
		eta := "?"
		if rate > 0 {
			eta = (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second).String()
		}
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = '.'
			if i < fill {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(w, "\r[%s] %d/%d rows  %.1f rows/s  ETA %s   ", bar, p.Done, p.Total, rate, eta)
	}
}
