package cli

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"
)

func newStatsCommand(a *app) *cobra.Command {
	var scopes []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Count memories by scope, category, tier and format",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			s, err := svc.Stats(cmd.Context(), a.caller(), scopes)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), s)
			}
			printWarnings(cmd, s.Warnings)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "total:  %d\nlegacy: %d (run trove upgrade to enrich them)\nsmart:  %d\n", s.Total, s.Legacy, s.Smart)
			fts := "no full-text index"
			if s.Retrieval.FTS {
				fts = "BM25 full-text index"
			}
			fmt.Fprintf(w, "retrieval: %s, %s", s.Retrieval.Mode, fts)
			if s.Retrieval.Embedding != "" {
				fmt.Fprintf(w, ", vectors of %s (%d dimensions)", s.Retrieval.Embedding, s.Retrieval.Dimensions)
			}
			fmt.Fprintln(w)
			if s.Inactive > 0 {
				fmt.Fprintf(w, "inactive: %d (superseded or expired, kept as history: trove list --history)\n", s.Inactive)
			}
			for _, g := range []struct {
				name string
				m    map[string]int
			}{{"by scope", s.ByScope}, {"by category", s.ByCategory}, {"by tier", s.ByTier}, {"by state", s.ByState}, {"by layer", s.ByLayer}} {
				fmt.Fprintf(w, "%s:\n", g.name)
				for _, k := range slices.Sorted(maps.Keys(g.m)) {
					fmt.Fprintf(w, "  %-24s %d\n", k, g.m[k])
				}
			}
			if r := s.LastMaintain; r != nil {
				fmt.Fprintf(w, "last maintenance: %s, %d ms, %d scanned, %d moved, lock %.1f ms (longest write %.1f ms)\n",
					time.UnixMilli(r.StartedAt).UTC().Format(time.RFC3339), r.DurationMS, r.Scanned, r.Transitions, r.LockMS, r.MaxBatchMS)
				if r.Error != "" {
					fmt.Fprintf(w, "  stopped early: %s\n", r.Error)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&scopes, "scope", nil, "only this scope (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
