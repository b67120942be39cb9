package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/trove-memory/trove/internal/service"
)

func newCaptureCommand(a *app) *cobra.Command {
	var in service.CaptureInput
	var file string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "capture [--session ID] [--file MESSAGES.json | -]",
		Short: "Extract memories from a conversation (smart capture)",
		Long: "Capture memories from conversation messages, as agents do (MCP memory_capture, REST /v1/capture).\n" +
			"The messages are a JSON array [{\"role\":\"user\",\"content\":\"...\"}] read from --file or standard input.\n" +
			"With --session they join that session's buffer and are extracted once there are enough (capture.minMessages),\n" +
			"or with --flush; without one they are extracted at once. With an LLM configured (llm.*) the model extracts\n" +
			"and decides create / merge / skip / supersede / support against what is stored; without one, rules do.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := file
			if len(args) == 1 {
				if file != "" {
					return usagef("give the messages with --file or as -, not both")
				}
				if args[0] != "-" {
					return usagef("the argument must be - (read standard input); give a file with --file")
				}
			}
			if src != "" || len(args) == 1 {
				r := cmd.InOrStdin()
				name := "standard input"
				if src != "" {
					f, err := os.Open(src)
					if err != nil {
						return withHint(fmt.Errorf("--file: %w", err), "give the path of a readable JSON file")
					}
					defer f.Close()
					r, name = f, src
				}
				b, err := io.ReadAll(io.LimitReader(r, int64(service.MaxCaptureMessages*service.MaxMessageBytes)+1))
				if err != nil {
					return fmt.Errorf("read %s: %w", name, err)
				}
				if err := json.Unmarshal(b, &in.Messages); err != nil {
					return usagef("%s is not a JSON array of messages [{\"role\":\"user\",\"content\":\"...\"}]: %v", name, err)
				}
			} else if !in.Flush {
				return usagef("no messages: give --file MESSAGES.json, - to read standard input, or --flush --session ID")
			}
			svc, err := a.writer(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.Capture(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, out)
			}
			printWarnings(cmd, out.Warnings)
			if out.State == service.CaptureBuffered {
				fmt.Fprintf(w, "buffered: %d message(s) wait in session %s (extracted at %d user messages, on --flush, or when idle)\n",
					out.Buffered, out.Session, svcMinMessages(a))
				return nil
			}
			for _, act := range out.Actions {
				id := act.ID
				if id == "" {
					id = act.Target
				}
				fmt.Fprintf(w, "%-13s %s  %s\n", act.Decision, id, oneLine(act.Text, 80))
			}
			for _, sk := range out.Skipped {
				if sk.DuplicateOf == "" {
					fmt.Fprintf(w, "%-13s %s: %s\n", "rejected", sk.Reason, oneLine(sk.Text, 60))
				}
			}
			if len(out.Actions) == 0 {
				fmt.Fprintln(w, "nothing worth keeping")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Session, "session", "", "the conversation's id: messages are buffered per session")
	f.StringVar(&in.Scope, "scope", "", "where new memories go (default: your default write scope)")
	f.StringVar(&file, "file", "", "read the messages (a JSON array) from this file")
	f.BoolVar(&in.Flush, "flush", false, "extract what the session has buffered now (its end)")
	f.BoolVar(&asJSON, "json", false, "print the decisions as JSON")
	return cmd
}

// svcMinMessages is the configured capture.minMessages, for the message
// that says when a buffered session is extracted.
func svcMinMessages(a *app) int {
	if a.cfg.Capture.MinMessages > 0 {
		return a.cfg.Capture.MinMessages
	}
	return 4
}

func newFactsCommand(a *app) *cobra.Command {
	var in service.FactsInput
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "facts [QUERY] [--key FACT_KEY]",
		Short: "Show a fact's values over time, newest first",
		Long: "Show what a fact (a preference or entity with a fact key, e.g. entities:home city) is now and was before,\n" +
			"as agents see it through MCP memory_fact_query and REST /v1/facts.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				in.Query = args[0]
			}
			svc, err := a.reader(cmd.Context())
			if err != nil {
				return err
			}
			out, err := svc.Facts(cmd.Context(), a.caller(), in)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, out)
			}
			printWarnings(cmd, out.Warnings)
			if len(out.Facts) == 0 {
				fmt.Fprintln(w, "no such fact")
			}
			for _, f := range out.Facts {
				state := "historical"
				if f.Active {
					state = "active"
				}
				until := ""
				if f.ValidUntil != 0 {
					until = " until " + day(f.ValidUntil)
				}
				fmt.Fprintf(w, "%-10s %s  from %s%s  %s  %s\n", state, f.FactKey, day(f.ValidFrom), until, f.Memory.ID, oneLine(f.Memory.Text, 70))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.FactKey, "key", "", "the exact fact key, e.g. \"entities:home city\"")
	f.StringVar(&in.At, "at", "", "judge the values at this time: RFC 3339 or a date")
	f.BoolVar(&in.IncludeHistory, "history", false, "show earlier values too")
	f.StringArrayVar(&in.Scopes, "scope", nil, "only this scope (repeatable)")
	f.IntVar(&in.Limit, "limit", service.DefaultFacts, fmt.Sprintf("at most this many values (1 to %d)", service.MaxFacts))
	f.BoolVar(&asJSON, "json", false, "print the facts as JSON")
	return cmd
}

// day prints unix ms as a UTC date and time.
func day(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04") }
