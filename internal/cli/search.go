package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newSearchCommand(a *app) *cobra.Command {
	var in service.RecallInput
	var asJSON bool
	var minScore float64
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Recall memories: hybrid vector + BM25 search, fused, reranked and scored",
		Long: "Recall memories as agents do (MCP memory_recall, REST /v1/search): the same pipeline and the\n" +
			"same answer. A search from the CLI is a person looking: it records no access.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Query = args[0]
			if cmd.Flags().Changed("min-score") {
				in.MinScore = &minScore
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			resp, err := svc.Recall(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, resp)
			}
			printWarnings(cmd, resp.Warnings)
			if len(resp.Results) == 0 {
				fmt.Fprintln(w, "no relevant memories")
			}
			for i, res := range resp.Results {
				fmt.Fprintf(w, "%2d. %.3f  [%s]  %s  %s/%s\n    %s\n", i+1, res.Score, sources(res.Sources), res.Memory.ID,
					res.Memory.Scope, res.Memory.Category, oneLine(res.Memory.Text, 100))
				printTrace(w, res.Trace)
			}
			for _, res := range resp.Dropped {
				fmt.Fprintf(w, " -  dropped %s: %s\n    %s\n", res.Memory.ID, dropReason(res.Trace), oneLine(res.Memory.Text, 100))
				printTrace(w, res.Trace)
			}
			printExplain(w, resp.Explain)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&in.Scopes, "scope", nil, "only this scope (repeatable)")
	fl.StringArrayVar(&in.Categories, "category", nil, "only this storage category: preference, fact, decision, entity, reflection, other (repeatable)")
	fl.StringArrayVar(&in.MemoryCategories, "memory-category", nil, "only this memory_category: profile, preferences, entities, events, cases, patterns (repeatable; legacy rows count by their category)")
	fl.StringVar(&in.AsOf, "as-of", "", "what was true at this time: RFC 3339 or a date (the end of that day, UTC)")
	fl.BoolVar(&in.IncludeHistory, "history", false, "also show superseded and expired memories (marked)")
	fl.IntVar(&in.Limit, "limit", service.DefaultRecall, fmt.Sprintf("how many memories to return (1 to %d)", service.MaxRecall))
	fl.BoolVar(&asJSON, "json", false, `print {"results":[{"memory","score","sources"}],"warnings":[...]}`)
	fl.Float64Var(&minScore, "min-score", 0, service.MinScoreHelp)
	fl.BoolVar(&in.Debug, "debug", false, "show every candidate's per-stage scores and why anything was dropped")
	return cmd
}

// sources says which signals found a memory: "vec 0.82 bm25 0.61 rerank 0.90".
func sources(s service.Sources) string {
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

func printTrace(w io.Writer, t *service.Trace) {
	if t == nil {
		return
	}
	var parts []string
	for _, st := range t.Stages {
		parts = append(parts, fmt.Sprintf("%s %.3f", st.Name, st.Score))
	}
	fmt.Fprintf(w, "    stages: %s\n", strings.Join(parts, " → "))
	c := t.Components
	parts = []string{fmt.Sprintf("fused %.3f", c.Fused)}
	if c.Lexical != nil {
		lex := fmt.Sprintf("lexical %.3f", *c.Lexical)
		if c.Expanded {
			lex += " (expansion only)"
		}
		parts = append(parts, lex)
	}
	if c.Vector != nil {
		vec := fmt.Sprintf("cosine %.3f", *c.Vector)
		if c.VectorFromIndex {
			vec += " (from the index)"
		}
		parts = append(parts, vec)
	}
	if c.Rerank != nil {
		parts = append(parts, fmt.Sprintf("rerank %.3f", *c.Rerank))
	}
	if c.Lifecycle != nil {
		parts = append(parts, fmt.Sprintf("lifecycle ×%.3f", *c.Lifecycle))
	}
	fmt.Fprintf(w, "    components: %s\n", strings.Join(parts, ", "))
}

// printExplain prints the stages of a --debug recall: counts, time and
// score range of what each let through.
func printExplain(w io.Writer, e *service.Explain) {
	if e == nil {
		return
	}
	fmt.Fprintf(w, "fusion: %s\n", e.Fusion)
	if len(e.Expansion) > 0 {
		fmt.Fprintf(w, "expansion terms: %s\n", strings.Join(e.Expansion, ", "))
	}
	fmt.Fprintf(w, "%-8s %5s %5s %8s  %s\n", "stage", "in", "out", "ms", "scores")
	for _, st := range e.Stages {
		scores := "-"
		if st.Out > 0 {
			scores = fmt.Sprintf("%.3f–%.3f", st.Min, st.Max)
		}
		if st.Note != "" {
			scores += "  (" + st.Note + ")"
		}
		fmt.Fprintf(w, "%-8s %5d %5d %8.3f  %s\n", st.Name, st.In, st.Out, st.Ms, scores)
	}
}

func dropReason(t *service.Trace) string {
	if t == nil {
		return ""
	}
	return t.Dropped
}
