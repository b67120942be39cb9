package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/dburl"
	"github.com/trove-memory/trove/internal/service"
)

func newDoctorCommand(a *app) *cobra.Command {
	var asJSON, repair bool
	var longTx time.Duration
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the store and say what is wrong and how to fix it",
		Long: "Check the store: the file's integrity, the schema version, the search index against the rows,\n" +
			"the vectors against the recorded embedding model, scopes no agent can reach, who holds the\n" +
			"write lock and how long a writer waits for it now; on PostgreSQL the connection, the server version,\n" +
			"the extensions (pgvector), the indexes and transactions holding locks for long instead of the file\n" +
			"and lock checks. Exits 1 when a check fails (warnings pass).\n" +
			"--repair performs only the safe fixes (rebuilding the search index, or building the stemmed one\n" +
			"of a store from before it to the end) under the write lock (on PostgreSQL in short transactions)\n" +
			"and never changes a row.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.agent != "" {
				return usagef("doctor checks the whole store as its owner: run it without --agent")
			}
			if longTx < 0 {
				return usagef("--long-transaction %s: give a positive duration such as 30s", longTx)
			}
			return runDoctor(cmd.Context(), a, cmd.OutOrStdout(), asJSON, service.DoctorInput{Repair: repair, LongTransaction: longTx})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	cmd.Flags().BoolVar(&repair, "repair", false, "perform the safe fixes (rebuild the search index, finish building the stemmed one) under the write lock")
	cmd.Flags().DurationVar(&longTx, "long-transaction", 0, "PostgreSQL: report transactions that have held locks for longer than this (default 30s)")
	return cmd
}

func runDoctor(ctx context.Context, a *app, w io.Writer, asJSON bool, in service.DoctorInput) error {
	repair := in.Repair
	rep, err := diagnose(ctx, a, in)
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
	} else {
		printReport(w, rep)
	}
	failed := rep.Failed()
	if len(failed) == 0 {
		return nil
	}
	var names, repairable []string
	for _, c := range failed {
		names = append(names, c.Name)
		if c.Repairable() {
			repairable = append(repairable, c.Name)
		}
	}
	err = fmt.Errorf("%s failed: %s", plural(len(failed), "check"), strings.Join(names, ", "))
	switch {
	case repair || len(repairable) == 0:
		return withHint(err, "follow the fix given for each failed check")
	case len(repairable) == len(failed):
		return withHint(err, "trove doctor --repair")
	}
	return withHint(err, fmt.Sprintf("trove doctor --repair fixes %s; follow the fix given for the others", strings.Join(repairable, ", ")))
}

// diagnose opens the store (a missing file is reported, not created) and
// runs the checks; a store that cannot be opened is a failed check too.
func diagnose(ctx context.Context, a *app, in service.DoctorInput) (service.DoctorReport, error) {
	svc, err := a.reader(ctx)
	var ns *service.NoStoreError
	switch {
	case errors.As(err, &ns):
		return service.DoctorMissing(ns.Path), nil
	case err != nil:
		return service.DoctorOpenFailed(dburl.Redact(a.cfg.DB), err), nil
	}
	return svc.Doctor(ctx, a.caller(), in)
}

func printReport(w io.Writer, rep service.DoctorReport) {
	fmt.Fprintf(w, "store: %s\n\n", rep.DB)
	for _, c := range rep.Checks {
		status := string(c.Status)
		if c.Status == service.DoctorFail {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%-5s %-12s %s\n", status, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "%-5s %-12s fix: %s\n", "", "", c.Fix)
		}
	}
	if len(rep.Repairs) > 0 {
		fmt.Fprintln(w, "\nrepairs:")
		for _, r := range rep.Repairs {
			fmt.Fprintf(w, "%-8s %-12s %s\n", r.Status, r.Name, r.Detail)
		}
	}
	warns := 0
	for _, c := range rep.Checks {
		if c.Status == service.DoctorWarn {
			warns++
		}
	}
	switch failed := len(rep.Failed()); {
	case failed > 0:
		fmt.Fprintf(w, "\n%s failed, %s.\n", plural(failed, "check"), plural(warns, "warning"))
	case warns > 0:
		fmt.Fprintf(w, "\nok, with %s.\n", plural(warns, "warning"))
	default:
		fmt.Fprintln(w, "\nok: no problems found.")
	}
}

func plural(n int, word string) string { return pluralWord(n, word, word+"s") }

// pluralWord writes "1 memory" or "3 memories".
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
