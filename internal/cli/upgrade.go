package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

// progressEvery is how often upgrade prints a progress line when stderr
// is not a terminal (a log file, CI): often enough to show it is alive,
// rarely enough not to flood the log.
const progressEvery = 5 * time.Second

func newUpgradeCommand(a *app) *cobra.Command {
	var in service.UpgradeInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Enrich legacy memories (L0/L1/L2 and a memory category) while other processes keep writing",
		Long: "Turn legacy memories into smart ones. LLM calls run concurrently with no lock held; each batch is\n" +
			"committed in one short transaction that re-checks every row: rows changed meanwhile keep the change\n" +
			"(the enrichment is merged, or the row is enriched again if its text changed). Ctrl-C commits what is\n" +
			"already enriched and stops; running upgrade again finishes the rest. The LLM comes from\n" +
			"TROVE_LLM_BASE_URL / TROVE_LLM_MODEL / TROVE_LLM_API_KEY; --no-llm enriches without one.\n" +
			"Progress goes to stderr: a bar on a terminal, a line every few seconds otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			svc, err := a.reader(ctx)
			if err != nil {
				return err
			}
			w, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if in.DryRun {
				rep, err := svc.Upgrade(ctx, a.caller(), in)
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
			var finish func()
			in.Progress, finish = progress(errw, "upgrade")
			rep, err := svc.Upgrade(ctx, a.caller(), in)
			finish()
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				printUpgrade(w, errw, rep)
			}
			switch {
			case rep.Interrupted:
				return withHint(fmt.Errorf("interrupted: %d memories upgraded and committed before stopping", rep.Upgraded+rep.Fallbacks),
					"run trove upgrade again to finish the rest")
			case len(rep.Errors) > 0:
				return withHint(fmt.Errorf("%s could not be upgraded (listed above); unchanged", pluralWord(len(rep.Errors), "memory", "memories")),
					"run trove upgrade again later; use --no-llm if the LLM keeps failing")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&in.DryRun, "dry-run", false, "count what would be upgraded, by category; change nothing")
	fl.IntVar(&in.BatchSize, "batch-size", service.DefaultUpgradeBatch, "rows committed per write transaction")
	fl.IntVar(&in.Concurrency, "concurrency", service.DefaultUpgradeConcurrency, "LLM calls in flight at once")
	fl.BoolVar(&in.NoLLM, "no-llm", false, "enrich without an LLM (L0 = first sentence)")
	fl.IntVar(&in.Limit, "limit", 0, "upgrade at most this many rows (0: all)")
	fl.StringArrayVar(&in.Scopes, "scope", nil, "only this scope (repeatable)")
	fl.BoolVar(&in.RedoFallbacks, "redo-fallbacks", false, "enrich again the rows an earlier run could only enrich plainly")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printUpgrade(w, errw io.Writer, r service.UpgradeReport) {
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

// progress is how a batch job named label shows its progress on w: a bar
// redrawn in place on a terminal, else a line every progressEvery. finish
// ends the bar's line.
func progress(w io.Writer, label string) (show func(service.UpgradeProgress), finish func()) {
	if isTerminal(w) {
		return progressBar(w), func() { fmt.Fprintln(w) }
	}
	return progressLines(w, label, time.Now, progressEvery), func() {}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// rate is rows per second so far and the time the rest should take.
func rate(p service.UpgradeProgress) (float64, string) {
	r := float64(p.Done) / max(p.Elapsed.Seconds(), 0.001)
	eta := "?"
	if r > 0 {
		eta = (time.Duration(float64(p.Total-p.Done)/r) * time.Second).Round(time.Second).String()
	}
	return r, eta
}

// progressBar draws "[#####.....] 120/400 rows  35.2 rows/s  ETA 8s" in place.
func progressBar(w io.Writer) func(service.UpgradeProgress) {
	return func(p service.UpgradeProgress) {
		const width = 30
		frac := 1.0
		if p.Total > 0 {
			frac = min(1, float64(p.Done)/float64(p.Total))
		}
		fill := int(frac * width)
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = '.'
			if i < fill {
				bar[i] = '#'
			}
		}
		r, eta := rate(p)
		fmt.Fprintf(w, "\r[%s] %d/%d rows  %.1f rows/s  ETA %s   ", bar, p.Done, p.Total, r, eta)
	}
}

// progressLines prints "LABEL: 120/400 rows, 35.2 rows/s, ETA 8s" at
// most once per every since the run started, and at the last row, for a
// log that cannot redraw a bar in place.
func progressLines(w io.Writer, label string, now func() time.Time, every time.Duration) func(service.UpgradeProgress) {
	var next time.Time
	return func(p service.UpgradeProgress) {
		t := now()
		if next.IsZero() {
			next = t.Add(-p.Elapsed).Add(every)
		}
		if t.Before(next) && p.Done < p.Total {
			return
		}
		next = t.Add(every)
		r, eta := rate(p)
		fmt.Fprintf(w, "%s: %d/%d rows, %.1f rows/s, ETA %s\n", label, p.Done, p.Total, r, eta)
	}
}
