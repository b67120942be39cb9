package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/retrieve"
)

func newSearchCommand(a *app) *cobra.Command {
	var scopes, categories []string
	var limit int
	var asJSON, debug bool
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Recall memories: hybrid vector + BM25 search, fused, reranked and scored",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit <= 0 || limit > retrieve.MaxLimit {
				return usagef("--limit %d: use 1 to %d", limit, retrieve.MaxLimit)
			}
			req := retrieve.Request{Query: args[0], Limit: limit, Debug: debug}
			var err error
			if req.Scopes, err = parseScopes(scopes); err != nil {
				return err
			}
			if req.Categories, err = parseCategories(categories); err != nil {
				return err
			}
			r, err := a.searcher(ctx)
			if err != nil {
				return err
			}
			resp, err := r.Search(ctx, a.access(), req)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, resp)
			}
			for _, s := range resp.IgnoredScopes {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: scope %s is not readable by this caller and was ignored\n", s)
			}
			for _, warn := range resp.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", warn)
			}
			if len(resp.Results) == 0 {
				fmt.Fprintln(w, "no memories matched")
			}
			for i, res := range resp.Results {
				fmt.Fprintf(w, "%2d. %.3f  [%s]  %s  %s/%s\n    %s\n", i+1, res.Score, sources(res.Sources), shortID(res.Memory.ID),
					res.Memory.Scope, res.Memory.Category, oneLine(res.Memory.Text, 100))
				if debug {
					printTrace(w, res)
				}
			}
			if debug {
				for _, res := range resp.Dropped {
					fmt.Fprintf(w, " -  dropped %s: %s\n    %s\n", shortID(res.Memory.ID), res.Trace.Dropped, oneLine(res.Memory.Text, 100))
					printTrace(w, res)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&scopes, "scope", nil, "only this scope (repeatable)")
	fl.StringArrayVar(&categories, "category", nil, "only this category (repeatable)")
	fl.IntVar(&limit, "limit", 5, "how many memories to return")
	fl.BoolVar(&asJSON, "json", false, `print {"results":[{"memory","score","sources"}],"warnings":[...]}`)
	fl.BoolVar(&debug, "debug", false, "show every candidate's per-stage scores and why anything was dropped")
	return cmd
}

// sources says which signals found a memory: "vec 0.82 bm25 0.61 rr 0.90".
func sources(s retrieve.Sources) string {
	var parts []string
	if s.Vector != nil {
		parts = append(parts, fmt.Sprintf("vec %.2f", *s.Vector))
	}
	if s.BM25 != nil {
		parts = append(parts, fmt.Sprintf("bm25 %.2f", *s.BM25))
	}
	if s.Rerank != nil {
		parts = append(parts, fmt.Sprintf("rerank %.2f", *s.Rerank))
	}
	return strings.Join(parts, " ")
}

func printTrace(w interface{ Write([]byte) (int, error) }, r retrieve.Result) {
	if r.Trace == nil {
		return
	}
	var parts []string
	for _, st := range r.Trace.Stages {
		parts = append(parts, fmt.Sprintf("%s %.3f", st.Name, st.Score))
	}
	fmt.Fprintf(w, "    stages: %s\n", strings.Join(parts, " → "))
}
