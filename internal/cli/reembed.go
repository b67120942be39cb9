package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newReembedCommand(a *app) *cobra.Command {
	var in service.ReembedInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reembed",
		Short: "Move the store to another embedding model while other processes keep using it",
		Long: "Embed every memory with another model and switch the store to it. Embedding runs in batches with no\n" +
			"lock held; the new vectors are written beside the old ones, and search keeps using the old ones until\n" +
			"the switch, one short transaction at the end. Rows written meanwhile are embedded too. Ctrl-C or a\n" +
			"crash loses nothing: run the same command again to continue. The target's base URL and key come from\n" +
			"TROVE_EMBED_BASE_URL / TROVE_EMBED_API_KEY unless given. Afterwards, run every trove with the new\n" +
			"TROVE_EMBED_PROVIDER / TROVE_EMBED_MODEL; one still on the old model writes without vectors and\n" +
			"searches by text, and trove reembed --pending (with the new settings) embeds what it wrote.\n" +
			"Progress goes to stderr: a bar on a terminal, a line every few seconds otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			svc, err := a.reader(ctx)
			if err != nil {
				return err
			}
			w, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if !in.DryRun && !in.Rollback {
				show, finish := progress(errw, "reembed")
				defer finish()
				in.Progress = func(p service.ReembedProgress) {
					show(service.UpgradeProgress{Done: p.Done, Total: p.Total, Elapsed: p.Elapsed})
				}
			}
			rep, err := svc.Reembed(ctx, a.caller(), in)
			if err != nil && !rep.Interrupted {
				return err
			}
			if asJSON {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				printReembed(w, rep)
			}
			if rep.Interrupted {
				return withHint(fmt.Errorf("interrupted: %d memories embedded with %s and committed before stopping", rep.Embedded, rep.To),
					"run the same trove reembed again to continue")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Target.Provider, "provider", "", "embedding provider to move to (hash, openai, jina, voyage, ollama, gemini)")
	fl.StringVar(&in.Target.Model, "model", "", "model to move to (default: the provider's)")
	fl.IntVar(&in.Target.Dimensions, "dimensions", 0, "vector dimensions to ask for (0: the model's default)")
	fl.StringVar(&in.Target.BaseURL, "base-url", "", "the target provider's endpoint (default TROVE_EMBED_BASE_URL)")
	fl.BoolVar(&in.DryRun, "dry-run", false, "count the rows to embed and estimate the time (one batch is embedded to time it); change nothing")
	fl.BoolVar(&in.Pending, "pending", false, "embed the rows without a vector with the store's model (this trove must be configured for it)")
	fl.BoolVar(&in.KeepOld, "keep-old", false, "keep the old vectors after the switch, so that --rollback can restore them")
	fl.BoolVar(&in.Rollback, "rollback", false, "undo the last switch made with --keep-old")
	fl.IntVar(&in.BatchSize, "batch-size", 0, "texts per embedding call and per commit (default 64)")
	fl.IntVar(&in.Concurrency, "concurrency", 0, "embedding calls in flight at once (default 4)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printReembed(w io.Writer, r service.ReembedReport) {
	if d := r.DryRun; d != nil {
		fmt.Fprintf(w, "would embed %d of %d memories with %s (from %s) in %d batches", d.ToEmbed, d.Rows, d.To, d.From, d.Batches)
		if d.Estimate != "" {
			fmt.Fprintf(w, ", about %s", d.Estimate)
		}
		fmt.Fprintln(w)
		if d.Resumes {
			fmt.Fprintln(w, "an interrupted reembed to this model would continue")
		}
		return
	}
	switch {
	case r.Already:
		fmt.Fprintf(w, "the store already uses %s\n", r.To)
	case r.From == r.To:
		fmt.Fprintf(w, "embedded %d memories that had no vector, with %s\n", r.Pending, r.To)
		return
	case r.Switched:
		fmt.Fprintf(w, "moved %d memories from %s to %s (%d dimensions); switch held the lock %.1f ms\n",
			r.SwitchRows+r.Pending, r.From, r.To, r.Dimensions, r.SwitchMS)
	case r.SwitchedElsewhere:
		fmt.Fprintf(w, "moved the store from %s to %s (%d dimensions) with another trove reembed sharing the work; that one made the switch\n",
			r.From, r.To, r.Dimensions)
	}
	fmt.Fprintf(w, "embedded %d (%d passes, %d batches, %d re-embedded after an edit), %d without a vector embedded after the switch, in %s (%.0f rows/s)\n",
		r.Embedded, r.Passes, r.Batches, r.Requeued, r.Pending, time.Duration(r.DurationMS)*time.Millisecond, r.RowsPerSec)
	if r.Cleared > 0 {
		fmt.Fprintf(w, "cleared %d vectors of the old model in %s (short writes after the switch)\n", r.Cleared, time.Duration(r.ClearMS)*time.Millisecond)
	}
	if r.KeptOld > 0 {
		fmt.Fprintf(w, "kept %d old vectors: trove reembed --rollback restores them\n", r.KeptOld)
	}
	if (r.Switched || r.SwitchedElsewhere) && !r.Already {
		fmt.Fprintf(w, "now run every trove with the new model's settings (TROVE_EMBED_PROVIDER/TROVE_EMBED_MODEL for %s)\n", r.To)
	}
}
