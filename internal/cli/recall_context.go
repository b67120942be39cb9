package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newRecallContextCommand(a *app) *cobra.Command {
	var in service.ContextInput
	var asJSON bool
	var minScore float64
	cmd := &cobra.Command{
		Use:   "recall-context PROMPT | -",
		Short: "Print the auto-recall block to put before a model's turn for a prompt",
		Long: "Auto-recall as agent hosts do it (REST /v1/recall-context, MCP memory_recall_context): the same gate,\n" +
			"block and answer. Prints the block (nothing when the prompt needs no recall, nothing is relevant or the\n" +
			"time budget autoRecall.timeout ran out); the ids of the memories in it and why it is empty go to\n" +
			"standard error. With - the prompt is read from standard input. With --session each call is one turn\n" +
			"of that conversation: a memory injected in it is not injected again for autoRecall.suppressTurns turns.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Prompt = args[0]
			if in.Prompt == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), service.MaxMessageBytes+1))
				if err != nil {
					return fmt.Errorf("read standard input: %w", err)
				}
				if len(b) > service.MaxMessageBytes {
					return usagef("the prompt on standard input is over %d bytes: send the user's message, not a whole transcript", service.MaxMessageBytes)
				}
				in.Prompt = string(b)
			}
			if cmd.Flags().Changed("min-score") {
				in.MinScore = &minScore
			}
			open := a.reader
			if in.Session != "" {
				open = a.writer // the session's turn is recorded
			}
			svc, err := open(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.RecallContext(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			printWarnings(cmd, out.Warnings)
			if out.Context == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "nothing to inject: %s\n", out.Reason)
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), out.Context)
			for _, m := range out.Memories {
				fmt.Fprintf(cmd.ErrOrStderr(), "injected %s (score %.3f)\n", m.ID, m.Score)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&in.Limit, "limit", 0, fmt.Sprintf("at most this many memories, 1 to %d (default autoRecall.maxItems, 3)", service.MaxContextItems))
	fl.IntVar(&in.MaxChars, "max-chars", 0, fmt.Sprintf("characters of memory text in all, 1 to %d (default autoRecall.maxChars, 600)", service.MaxContextChars))
	fl.IntVar(&in.MaxItemChars, "max-item-chars", 0, fmt.Sprintf("characters of one memory's text, 1 to %d (default autoRecall.maxItemChars, 180; 3 times that in full mode)", service.MaxContextItemChars))
	fl.StringVar(&in.Mode, "mode", "", "summary (each memory's abstract) or full (its full content) (default autoRecall.mode)")
	fl.StringVar(&in.Session, "session", "", "the conversation's id: a memory injected in it is not injected again for a few turns")
	fl.Float64Var(&minScore, "min-score", 0, service.MinScoreHelp)
	fl.BoolVar(&asJSON, "json", false, `print {"context":"…","memories":[{"id","score"}],"skipped","reason","timed_out","warnings"}`)
	return cmd
}
